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
        let op = "RewardModel.tokenValues"
        guard rows > 0, time > 0, ids.count == rows * time else {
            throw StrataError.shape(op, "\(ids.count) ids for rows=\(rows), time=\(time)", fix: "give rows·time ids")
        }
        guard time <= config.nPositions else {
            throw StrataError.shape(op, "time=\(time) exceeds n_positions=\(config.nPositions)", fix: "truncate rows")
        }
        if let i = ids.firstIndex(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
            throw StrataError.data(op, "row \(i / time) position \(i % time): id \(ids[i]) outside vocabulary of \(config.vocabSize)",
                                   fix: "tokenise with the model's tokenizer")
        }
        let h = trunk.hidden(ids, batch: rows, time: time, tape: tape)                        // [B, T, C]
        let flat = tape.reshape(h, [rows * time, config.nEmbd])                             // [B·T, C]
        return tape.reshape(tape.linearTransposed(flat, score), [rows, time])              // [B, T]
    }

    /// Values of a ResponseBatch's positions (read them at its completion positions).
    public func tokenValues(_ batch: ResponseBatch, tape: Tape) throws -> Tensor {
        try tokenValues(batch.ids, rows: batch.rows, time: batch.time, tape: tape)
    }
}
