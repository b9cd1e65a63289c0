// The rollout value type and the sampling settings of the rollout engine. A
// rollout is one sampled reply to one prompt: its prompt ids, completion ids
// (ending with the end-of-turn token when the reply stopped, so the policy
// learns to stop), the log-probability of every completion token under the
// distribution it was sampled from, how it finished, its decoded text, and
// the (step, row) seed that reproduces it. Leaves out: values, rewards and
// advantages (the stages attach those).

import Foundation
import StrataCore

public struct Rollout: Codable, Sendable, Equatable {
    public enum Finish: String, Codable, Sendable, CaseIterable {
        /// The reply ended with the template's end-of-message token or end of text (the last completion token).
        case endOfTurn = "end_of_turn"
        /// The token budget ran out first: the reply is cut off.
        case truncated
    }

    /// Index of the prompt in the list given to `RolloutEngine.sample`.
    public var promptIndex: Int
    /// Which of the prompt's samples this is (0..<samplesPerPrompt; GRPO's position in the group).
    public var sampleIndex: Int
    /// Row of the step the rollout was drawn for; with the step and the engine's seed it fixes `seed`.
    public var row: Int
    /// The seed of this row's sampling stream.
    public var seed: UInt64
    public var promptTokens: [Int32]
    /// Sampled tokens, including the stop token when `finish == .endOfTurn`.
    public var completionTokens: [Int32]
    /// log p of each completion token under softmax(logits / temperature) of the sampling policy.
    public var logProbs: [Float]
    public var finish: Finish
    /// The reply text: completion tokens without the stop token, decoded and trimmed of surrounding whitespace.
    public var text: String

    public init(promptIndex: Int, sampleIndex: Int, row: Int, seed: UInt64, promptTokens: [Int32], completionTokens: [Int32],
                logProbs: [Float], finish: Finish, text: String) {
        self.promptIndex = promptIndex; self.sampleIndex = sampleIndex; self.row = row; self.seed = seed
        self.promptTokens = promptTokens; self.completionTokens = completionTokens
        self.logProbs = logProbs; self.finish = finish; self.text = text
    }

    public var isTruncated: Bool { finish == .truncated }
    /// Completion tokens, the stop token included.
    public var completionLength: Int { completionTokens.count }
}

/// How the engine samples. Codable for recipes (snake_case keys).
public struct RolloutConfig: Codable, Equatable, Sendable {
    /// Completion tokens at most per reply, the stop token included.
    public var maxNewTokens: Int = 64
    /// Softmax temperature; 0 is greedy.
    public var temperature: Float = 1
    /// Keep only the k most likely tokens (0 = off).
    public var topK: Int = 0
    /// Nucleus sampling: keep the smallest set reaching probability p (1 = off).
    public var topP: Float = 1
    /// Base seed; each (step, row) derives its own stream from it.
    public var seed: UInt64 = 0
    /// Rows per batched generate call (memory bound; results do not depend on it).
    public var maxBatchRows: Int = 32

    enum CodingKeys: String, CodingKey {
        case maxNewTokens = "max_new_tokens", temperature, topK = "top_k", topP = "top_p", seed, maxBatchRows = "max_batch_rows"
    }

    public init(maxNewTokens: Int = 64, temperature: Float = 1, topK: Int = 0, topP: Float = 1, seed: UInt64 = 0, maxBatchRows: Int = 32) {
        self.maxNewTokens = maxNewTokens; self.temperature = temperature; self.topK = topK
        self.topP = topP; self.seed = seed; self.maxBatchRows = maxBatchRows
    }

    /// Throws a `.config` error naming the first field out of range.
    public func validate(contextLength: Int) throws {
        let op = "rollout config"
        func bad(_ field: String, _ value: Any, _ fix: String) -> StrataError {
            StrataError.config(op, "\(field) is \(value)", fix: fix)
        }
        guard maxNewTokens >= 1, maxNewTokens < contextLength else {
            throw bad("max_new_tokens", maxNewTokens, "give 1...\(contextLength - 1) (the model's n_positions is \(contextLength))")
        }
        guard temperature >= 0, temperature.isFinite else { throw bad("temperature", temperature, "give 0 (greedy) or a positive number") }
        guard topK >= 0 else { throw bad("top_k", topK, "give 0 (off) or a positive count") }
        guard topP > 0, topP <= 1 else { throw bad("top_p", topP, "give a probability in (0, 1]; 1 is off") }
        guard maxBatchRows >= 1 else { throw bad("max_batch_rows", maxBatchRows, "give at least 1") }
    }

    /// The seed of row `row` at step `step`: a SplitMix64 mix of (seed, step, row), so rows and steps get
    /// unrelated streams and a resumed run redraws the same ones.
    public func rowSeed(step: Int, row: Int) -> UInt64 {
        var z = seed
        for part in [UInt64(bitPattern: Int64(step)), UInt64(bitPattern: Int64(row))] {
            z = RolloutConfig.mix(z &+ 0x9E37_79B9_7F4A_7C15 &+ part &* 0xD1B5_4A32_D192_ED03)
        }
        return z
    }

    static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
