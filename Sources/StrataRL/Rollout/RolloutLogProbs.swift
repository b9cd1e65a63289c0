// Log-probabilities of sampled completion tokens under a model (the reference,
// or the policy as it was before an update), in batched no-grad forward passes:
// rollouts are packed as right-padded (prompt, completion) rows — the same
// layout as preference training's `ResponseBatch` — and each completion
// token's log-probability is read under softmax(logits / temperature), as the
// sampler computed it. Leaves out: gradients (the stage's loss builds its own
// tape over `responseBatch`) and entropy.

import Foundation
import StrataCore
import StrataTensor
import StrataModel

public enum RolloutLogProbs {
    /// The rollouts as a `ResponseBatch` (pad id 0; pads never carry a target), completion tokens as responses.
    public static func responseBatch(_ rollouts: [Rollout]) throws -> ResponseBatch {
        try ResponseBatch(prompts: rollouts.map(\.promptTokens), responses: rollouts.map(\.completionTokens), padId: 0)
    }

    /// Per rollout, log p of each completion token under `model` at `temperature` (1 = the raw distribution),
    /// in no-grad passes of at most `batchRows` rows. Results do not depend on `batchRows` beyond float rounding.
    public static func compute(model: any CausalLM, rollouts: [Rollout], temperature: Float = 1, batchRows: Int = 32) throws -> [[Float]] {
        guard temperature > 0, temperature.isFinite else {
            throw StrataError.config("rollout log-probs", "temperature is \(temperature)",
                                     fix: "give the sampling temperature (greedy rollouts: use 1)")
        }
        guard batchRows >= 1 else { throw StrataError.config("rollout log-probs", "batch rows is \(batchRows)", fix: "give at least 1") }
        var out: [[Float]] = []
        out.reserveCapacity(rollouts.count)
        for start in stride(from: 0, to: rollouts.count, by: batchRows) {
            let chunk = Array(rollouts[start..<min(rollouts.count, start + batchRows)])
            out += try chunkLogProbs(model: model, chunk, temperature: temperature)
        }
        return out
    }

    private static func chunkLogProbs(model: any CausalLM, _ chunk: [Rollout], temperature: Float) throws -> [[Float]] {
        let batch = try responseBatch(chunk)
        try batch.validate(vocabSize: model.vocabSize, maxTime: model.contextLength)
        let tape = Tape.noGrad()
        let logits = model.logits(model.hidden(batch.ids, batch: batch.rows, time: batch.time, tape: tape), tape: tape)
        if temperature != 1 {
            let inv = 1 / temperature
            for i in 0..<logits.count { logits.ptr[i] *= inv }
        }
        let lp = tape.tokenLogProbs(logits, batch.targets)                     // [R·T], 0 off the completions
        return chunk.enumerated().map { r, ro in
            let first = r * batch.time + ro.promptTokens.count - 1
            return (0..<ro.completionTokens.count).map { lp.ptr[first + $0] }
        }
    }
}
