// How often an AI judge agrees with labelled preference pairs: the share of pairs
// whose chosen reply it prefers, asked about each reply alone (P(yes) − P(no) of
// chosen above rejected's) and about the pair (P(A) − P(B), both orders averaged,
// positive for chosen). Grouped by the pairs' "type" label, plus all pairs.
// `strata judge --pairs` and the demo's RLAIF table read it; chance is 50%.
// Leaves out: ties counted as half (a margin of exactly 0 counts as disagreement),
// confidence intervals.

import Foundation
import StrataCore
import StrataData

public enum JudgeAgreement {
    /// Per pair: the single-reply margin score(chosen) − score(rejected) and the pair preference for chosen.
    public struct Margins: Sendable, Equatable {
        public var single: [Double]
        public var pair: [Double]

        public init(single: [Double], pair: [Double]) { self.single = single; self.pair = pair }
    }

    /// One group's agreement (shares in [0, 1]).
    public struct Row: Codable, Sendable, Equatable {
        public var group: String
        public var pairs: Int
        public var single: Double
        public var pair: Double
    }

    /// What a judge is asked about the pairs: each prompt, and the last assistant turn of chosen and of rejected.
    static func asked(_ pairs: [PreferencePair]) -> (prompts: [PromptRecord], chosen: [String], rejected: [String]) {
        (pairs.map { PromptRecord.chat($0.prompt) }, pairs.map { $0.chosen.last?.content ?? "" }, pairs.map { $0.rejected.last?.content ?? "" })
    }

    /// Per pair, whether every judge can be asked about it within its context (`JudgeSource.fits`): a caller measuring
    /// agreement leaves out, and counts, the pairs that do not fit instead of failing on the first.
    public static func fits(judges: [JudgeSource], pairs: [PreferencePair]) throws -> [Bool] {
        let (prompts, chosen, rejected) = asked(pairs)
        let fit = try judges.map { try $0.fits(prompts: prompts, first: chosen, second: rejected) }
        return pairs.indices.map { i in fit.allSatisfy { $0[i] } }
    }

    /// Margins of every pair; the prompts and replies are the pairs' (the last assistant turn of chosen and rejected).
    public static func margins(judge: JudgeSource, pairs: [PreferencePair]) throws -> Margins {
        let (prompts, chosen, rejected) = asked(pairs)
        func items(_ replies: [String]) -> [RewardItem] {
            zip(prompts, replies).map { RewardItem(prompt: $0, reply: $1, replyTokens: 0, finish: .endOfTurn) }
        }
        let single = zip(try judge.score(items(chosen)), try judge.score(items(rejected))).map { $0 - $1 }
        if judge.template.verdict == .likelihood {   // the pair is 2σ(ℓ₁ − ℓ₂) − 1 of the same likelihoods: no second pass
            return Margins(single: single, pair: single.map { 2 / (1 + exp(-$0)) - 1 })
        }
        return Margins(single: single, pair: try judge.preference(prompts: prompts, first: chosen, second: rejected))
    }

    /// Agreement per group (in first-seen order) and over all pairs ("all", last); `groups[i]` labels pair i.
    public static func rows(_ m: Margins, groups: [String]) -> [Row] {
        let single = shares(m.single, groups: groups), pair = shares(m.pair, groups: groups)
        return zip(single, pair).map { Row(group: $0.group, pairs: $0.pairs, single: $0.share, pair: $1.share) }
    }

    /// For one scorer's margins (positive = chosen preferred): the share of pairs with a positive margin per group
    /// (first-seen order) and over all pairs ("all", last); NaN for an empty group.
    public static func shares(_ margins: [Double], groups: [String]) -> [(group: String, pairs: Int, share: Double)] {
        var order: [String] = []
        for g in groups where !order.contains(g) { order.append(g) }
        return (order + ["all"]).map { g in
            let idx = groups.indices.filter { g == "all" || groups[$0] == g }
            return (g, idx.count, idx.isEmpty ? .nan : Double(idx.filter { margins[$0] > 0 }.count) / Double(idx.count))
        }
    }
}
