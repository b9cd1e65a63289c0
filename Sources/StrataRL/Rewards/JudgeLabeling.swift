// RLAIF preference data: two replies sampled from a policy for each prompt,
// labelled by an AI judge (A-vs-B asked in both orders), written as TRL
// preference pairs (chosen = the reply the judge prefers) with a sidecar that
// records the judge, its template, the policy and the prompt file, for
// `strata reward` / `strata dpo` and their lineage. Pairs whose replies are
// identical or empty (`droppedIdentical`), or whose judge margin is at most
// `minMargin` (`droppedTies`), are dropped and counted.
// Leaves out: more than two replies per prompt, relabelling human pairs.

import Foundation
import StrataCore
import StrataData

public enum JudgeLabeling {
    /// What produced a labelled preference file; written beside it as JSON.
    public struct Sidecar: Codable, Equatable, Sendable {
        public var judge: RewardSourceIdentity
        public var policyCheckpoint: String
        public var policySHA256: String
        public var prompts: String
        public var promptsSHA256: String
        public var rollout: RolloutConfig
        public var minMargin: Double
        public var pairs: Int
        public var droppedIdentical: Int
        public var droppedTies: Int

        public init(judge: RewardSourceIdentity, policyCheckpoint: String, policySHA256: String, prompts: String, promptsSHA256: String,
                    rollout: RolloutConfig, minMargin: Double, pairs: Int, droppedIdentical: Int, droppedTies: Int) {
            self.judge = judge; self.policyCheckpoint = policyCheckpoint; self.policySHA256 = policySHA256
            self.prompts = prompts; self.promptsSHA256 = promptsSHA256; self.rollout = rollout; self.minMargin = minMargin
            self.pairs = pairs; self.droppedIdentical = droppedIdentical; self.droppedTies = droppedTies
        }

        enum CodingKeys: String, CodingKey {
            case judge, policyCheckpoint = "policy_checkpoint", policySHA256 = "policy_sha256", prompts, promptsSHA256 = "prompts_sha256"
            case rollout, minMargin = "min_margin", pairs, droppedIdentical = "dropped_identical", droppedTies = "dropped_ties"
        }
    }

    public struct Result: Sendable {
        public var pairs: [PreferencePair]
        /// The judge's margin for each kept pair (preference for chosen, in (0, 1]).
        public var margins: [Double]
        public var droppedIdentical: Int
        public var droppedTies: Int
    }

    /// The sidecar path for a preference file: "pairs.jsonl" → "pairs.judge.json".
    public static func sidecarURL(for out: URL) -> URL {
        out.deletingPathExtension().appendingPathExtension("judge.json")
    }

    /// Sample two replies per prompt (rows seeded by `step`) and label each pair with `judge`.
    public static func label(prompts: [PromptRecord], engine: RolloutEngine, judge: JudgeSource, minMargin: Double = 0,
                             step: Int = 0) throws -> Result {
        guard judge.questions != .single else {
            throw StrataError.config("judge labelling", "the judge was built for single replies only",
                                     fix: "construct it with questions: .pair (its a/b answer words must be single tokens)")
        }
        guard minMargin >= 0, minMargin < 1 else {
            throw StrataError.config("judge labelling", "min margin is \(minMargin)", fix: "give a margin in [0, 1)")
        }
        let rollouts = try engine.sample(prompts, step: step, samplesPerPrompt: 2)
        var out = Result(pairs: [], margins: [], droppedIdentical: 0, droppedTies: 0)
        var asked: [(prompt: PromptRecord, x: String, y: String)] = []
        for p in prompts.indices {
            let x = rollouts[2 * p].text, y = rollouts[2 * p + 1].text
            if x == y || x.isEmpty || y.isEmpty { out.droppedIdentical += 1; continue }
            asked.append((prompts[p], x, y))
        }
        let prefs = try judge.preference(prompts: asked.map(\.prompt), first: asked.map(\.x), second: asked.map(\.y))
        for (q, pref) in zip(asked, prefs) {
            if abs(pref) <= minMargin { out.droppedTies += 1; continue }
            let (chosen, rejected) = pref > 0 ? (q.x, q.y) : (q.y, q.x)
            out.pairs.append(pair(q.prompt, chosen: chosen, rejected: rejected))
            out.margins.append(abs(pref))
        }
        return out
    }

    static func pair(_ p: PromptRecord, chosen: String, rejected: String) -> PreferencePair {
        let type = p.text(InstructionPrompts.Column.kind)
        switch p.format {
        case .plain: return .plain(p.request, chosen: chosen, rejected: rejected, type: type)
        case .conversational:
            return PreferencePair(prompt: p.messages, chosen: [ChatMessage(.assistant, chosen)], rejected: [ChatMessage(.assistant, rejected)], type: type)
        }
    }
}
