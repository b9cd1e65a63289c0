// Per-token log-probabilities and entropies of completions under a GPT-2 policy,
// on the tape: for rows of prompt + completion ids (a ResponseBatch, [B, T]),
//   logProbs[b, t] = log π(ids[b, t+1] | ids[b, ≤t])              = z_y − lse(z)
//   entropy[b, t]  = −Σ_v π_v log π_v  of that next-token distribution
// at every completion position (the batch's targets), 0 elsewhere, with
// z = logits / temperature (the distribution the rollout sampled from, as TRL
// divides by its sampling temperature). Log-probs reuse the fused log-softmax
// op DPO uses; entropy is computed only at completion rows.
// Shapes: B rows, T time, V vocab; outputs [B, T].
// Leaves out: top-k/top-p truncated distributions, chunking over T for long rows.

import StrataCore
import StrataModel
import StrataTensor

public struct CompletionLogProbs {
    /// log π of each completion token [B, T] (0 outside the mask); carries gradient when the tape records.
    public let logProbs: Tensor
    /// Entropy of the next-token distribution at each completion position [B, T] (0 outside), when asked for.
    public let entropy: Tensor?
    public let mask: TokenMask

    /// Masked mean entropy (TRL's `entropy` metric); nil when not computed or no token is active.
    public var meanEntropy: Float? {
        guard let entropy, mask.tokenCount > 0 else { return nil }
        let e = entropy.toArray()
        var s: Double = 0
        for i in 0..<mask.count where mask.active[i] { s += Double(e[i]) }
        return Float(s / Double(mask.tokenCount))
    }
}

extension CausalLM {
    /// Log-probs (and entropies) of `batch`'s completion tokens under this model with sampling `temperature`.
    public func completionLogProbs(_ batch: ResponseBatch, tape: Tape, temperature: Float = 1,
                                   entropy: Bool = true) throws -> CompletionLogProbs {
        guard temperature > 0, temperature.isFinite else {
            throw StrataError.config("completionLogProbs", "temperature = \(temperature)",
                                     fix: "use the positive temperature the completions were sampled with")
        }
        try batch.validate(vocabSize: vocabSize, maxTime: contextLength)
        let h = hidden(batch.ids, batch: batch.rows, time: batch.time, tape: tape)
        var z = logits(h, tape: tape)                                                       // [B·T, V]
        if temperature != 1 { z = tape.scale(z, 1 / temperature) }
        let mask = TokenMask(batch)
        let lp = tape.reshape(tape.tokenLogProbs(z, batch.targets), [batch.rows, batch.time])
        let ent = entropy ? tape.reshape(tape.tokenEntropy(z, active: mask.active), [batch.rows, batch.time]) : nil
        return CompletionLogProbs(logProbs: lp, entropy: ent, mask: mask)
    }
}
