// Token-level values from a reward model's trunk and head: PPO's value model
// (TRL initialises it from the reward model, `score.weight`). Where `rewards`
// reads the head at one position per row, this reads it at every position:
//   values[b, t] = score · h[b, t]          h = trunk.hidden(ids) [B, T, C], score [1, C]
// so values[b, t] estimates the return from the state ids[b, ≤t], the state in
// which the completion token ids[b, t+1] is chosen — the same grid as the policy's
// per-token log-probs of a ResponseBatch.
// Shapes: B rows, T time, C n_embd; output [B, T] on the tape.
// Leaves out: a separate value head on the policy trunk, value-head bias.

import StrataCore
import StrataTensor

extension RewardModel {
    /// Values [rows, time] of every position of `ids` [rows · time], with gradient to the trunk and `score`.
    public func tokenValues(_ ids: [Int32], rows: Int, time: Int, tape: Tape) throws -> Tensor {
        try checkInput(ids, rows: rows, time: time, op: "RewardModel.tokenValues")
        let h = trunk.hidden(ids, batch: rows, time: time, tape: tape)                        // [B, T, C]
        let flat = tape.reshape(h, [rows * time, trunk.hiddenSize])                             // [B·T, C]
        return tape.reshape(tape.linearTransposed(flat, score), [rows, time])              // [B, T]
    }

    /// Values of a ResponseBatch's positions (read them at its completion positions).
    public func tokenValues(_ batch: ResponseBatch, tape: Tape) throws -> Tensor {
        try tokenValues(batch.ids, rows: batch.rows, time: batch.time, tape: tape)
    }
}
