// The one interface every reward source implements (reward model, AI judge,
// HTTP endpoint, rules), what it scores (`RewardItem`: the prompt record with
// its columns and one reply), how it is recorded in lineage
// (`RewardSourceIdentity`), and `WeightedRewards`, which scores items with
// several sources at once and returns the weighted total beside every
// source's own scores (for per-source metrics). Leaves out: normalising or
// clipping rewards (the stages' choice) and asynchronous scoring.

import Foundation
import StrataCore

/// One reply to score, with the prompt it answers.
public struct RewardItem: Sendable, Equatable {
    public var prompt: PromptRecord
    /// The reply text (trimmed, without the stop token).
    public var reply: String
    /// Completion tokens, the stop token included.
    public var replyTokens: Int
    public var finish: Rollout.Finish

    public init(prompt: PromptRecord, reply: String, replyTokens: Int, finish: Rollout.Finish) {
        self.prompt = prompt; self.reply = reply; self.replyTokens = replyTokens; self.finish = finish
    }

    /// The item of a rollout drawn for `prompt`.
    public init(prompt: PromptRecord, rollout: Rollout) {
        self.init(prompt: prompt, reply: rollout.text, replyTokens: rollout.completionLength, finish: rollout.finish)
    }

    /// One item per rollout, each with the prompt it was drawn for (`prompts[rollout.promptIndex]`).
    public static func items(prompts: [PromptRecord], rollouts: [Rollout]) throws -> [RewardItem] {
        try rollouts.map { r in
            guard prompts.indices.contains(r.promptIndex) else {
                throw StrataError.shape("reward items", "rollout row \(r.row) has prompt index \(r.promptIndex) but \(prompts.count) prompts were given",
                                        fix: "pass the prompt list the rollouts were sampled from")
            }
            return RewardItem(prompt: prompts[r.promptIndex], rollout: r)
        }
    }
}

/// What lineage records about a reward source.
public struct RewardSourceIdentity: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable, CaseIterable {
        case rewardModel = "reward_model", judge, http, rule
    }

    public var kind: Kind
    /// Unique within a run; metric names use it (e.g. rewards/<name>/mean).
    public var name: String
    /// Checkpoint id (reward model, judge).
    public var checkpoint: String?
    /// sha256 of the checkpoint's model.safetensors.
    public var sha256: String?
    public var url: String?
    /// Settings that change the scores: rule parameters, the judge's template, timeouts...
    public var parameters: [String: String]

    public init(kind: Kind, name: String, checkpoint: String? = nil, sha256: String? = nil, url: String? = nil,
                parameters: [String: String] = [:]) {
        self.kind = kind; self.name = name; self.checkpoint = checkpoint; self.sha256 = sha256
        self.url = url; self.parameters = parameters
    }
}

/// A source of one scalar score per reply. Scores are finite; a source that cannot score throws, never
/// returns a placeholder.
public protocol RewardSource: AnyObject {
    var identity: RewardSourceIdentity { get }
    /// One score per item, in item order.
    func score(_ items: [RewardItem]) throws -> [Double]
}

/// Several sources with weights: total = Σ weight · score.
public final class WeightedRewards {
    public struct Entry {
        public let source: any RewardSource
        public let weight: Double
        public init(_ source: any RewardSource, weight: Double = 1) { self.source = source; self.weight = weight }
    }

    /// One source's scores in a `Scores` result.
    public struct SourceScores: Sendable, Equatable {
        public var identity: RewardSourceIdentity
        public var weight: Double
        public var scores: [Double]
    }

    public struct Scores: Sendable, Equatable {
        /// Σ weight · score per item.
        public var total: [Double]
        /// Per source, in the order given.
        public var sources: [SourceScores]
    }

    public let entries: [Entry]

    /// Throws when there is no source, a weight is not finite, or two sources share a name.
    public init(_ entries: [Entry]) throws {
        let op = "reward sources"
        guard !entries.isEmpty else { throw StrataError.config(op, "no reward source", fix: "give at least one reward source") }
        var seen = Set<String>()
        for (i, e) in entries.enumerated() {
            guard e.weight.isFinite else {
                throw StrataError.config(op, "source \(i) (\(e.source.identity.name)): weight is \(e.weight)", fix: "give a finite weight")
            }
            guard seen.insert(e.source.identity.name).inserted else {
                throw StrataError.config(op, "two sources are named \"\(e.source.identity.name)\"",
                                         fix: "give each source its own name (metrics and lineage key on it)")
            }
        }
        self.entries = entries
    }

    /// The identities, in order (for lineage).
    public var identities: [RewardSourceIdentity] { entries.map(\.source.identity) }

    /// Score `items` with every source; a source returning the wrong count or a non-finite score is an error naming it.
    public func score(_ items: [RewardItem]) throws -> Scores {
        var total = [Double](repeating: 0, count: items.count)
        var sources: [SourceScores] = []
        for e in entries {
            let s = try e.source.score(items)
            let name = e.source.identity.name
            guard s.count == items.count else {
                throw StrataError(.state, "reward source \(name)", "returned \(s.count) scores for \(items.count) replies",
                                        fix: "a reward source must return one score per reply")
            }
            if let i = s.firstIndex(where: { !$0.isFinite }) {
                throw StrataError(.numeric, "reward source \(name)", "score \(i) is \(s[i])", fix: "check the source; rewards must be finite")
            }
            for i in s.indices { total[i] += e.weight * s[i] }
            sources.append(SourceScores(identity: e.source.identity, weight: e.weight, scores: s))
        }
        return Scores(total: total, sources: sources)
    }
}
