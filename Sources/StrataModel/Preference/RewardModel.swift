// RewardModel: a GPT-2 trunk plus a scalar head `score.weight` [1, C] (no bias),
// laid out as transformers' GPT2ForSequenceClassification with num_labels = 1.
// The reward of a row is score · h at one position: by default the rightmost token
// that is not `padTokenId`, which is exactly what transformers pools, so a row's
// last real token must not be the pad id (when pad = EOS, a trailing EOS is
// treated as padding by both sides alike and the reward is read before it).
// Head initialisation: N(0, 1/√C) by default (rewards start at unit scale, since
// ln_f outputs are about unit per channel), or zero (every reward starts at 0).
// Leaves out: num_labels > 1, a value head for PPO (the lead's), LoRA on the head.

import StrataCore
import StrataTensor

public final class RewardModel {
    public enum HeadInit: Sendable, Equatable {
        /// N(0, std²); nil std means 1/√n_embd.
        case normal(std: Float? = nil, seed: UInt64)
        case zero
    }

    public let trunk: GPT2
    /// [1, C] linear head without bias, named as transformers names it.
    public let score: Tensor
    /// The id transformers treats as padding (config.json pad_token_id).
    public var padTokenId: Int

    public static let scoreName = "score.weight"

    /// Wrap `trunk` (weights shared, not copied) with a new head.
    public init(trunk: GPT2, padTokenId: Int, head: HeadInit = .normal(seed: 0)) {
        let c = trunk.config.nEmbd
        self.trunk = trunk
        self.padTokenId = padTokenId
        switch head {
        case .zero:
            score = Tensor(zeros: [1, c], requiresGrad: true)
        case .normal(let std, let seed):
            var rng = StrataRNG(seed: seed)
            let s = std ?? 1 / Float(c).squareRoot()
            score = Tensor((0..<c).map { _ in rng.normal() * s }, shape: [1, c], requiresGrad: true)
        }
        score.name = RewardModel.scoreName
    }

    public var config: GPT2Config { trunk.config }

    /// Trunk parameters then the head, in state-dict naming.
    public var parameters: [Tensor] { trunk.parameters + [score] }

    public func zeroGrad() { for p in parameters { p.zeroGrad() } }

    /// The position transformers pools for each row: the rightmost id that is not `padId` (0 for all-pad rows).
    public static func lastNonPadIndices(_ ids: [Int32], rows: Int, time: Int, padId: Int) -> [Int] {
        (0..<rows).map { r in
            (0..<time).last { ids[r * time + $0] != Int32(truncatingIfNeeded: padId) } ?? 0
        }
    }

    /// Rewards [rows] for `ids` [rows · time]. `positions` overrides where each row is read (default: the
    /// transformers rule above). Ids and positions are validated; errors name the row.
    public func rewards(_ ids: [Int32], rows: Int, time: Int, tape: Tape, positions: [Int]? = nil) throws -> Tensor {
        let op = "RewardModel.rewards"
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
        let at = positions ?? RewardModel.lastNonPadIndices(ids, rows: rows, time: time, padId: padTokenId)
        guard at.count == rows else {
            throw StrataError.shape(op, "\(at.count) positions for \(rows) rows", fix: "give one position per row")
        }
        if let r = at.indices.first(where: { at[$0] < 0 || at[$0] >= time }) {
            throw StrataError.data(op, "row \(r): position \(at[r]) outside 0..<\(time)", fix: "read inside the row")
        }
        let h = trunk.hidden(ids, batch: rows, time: time, tape: tape)                      // [R, T, C]
        let flat = tape.reshape(h, [rows * time, config.nEmbd])
        let picked = tape.gatherRows(flat, (0..<rows).map { $0 * time + at[$0] })          // [R, C]
        return tape.reshape(tape.linearTransposed(picked, score), [rows])                  // [R]
    }

    /// Rewards of a ResponseBatch, read at each row's last response token. Throws when that position is not
    /// the one transformers would pool (the row's last real token equals the pad id, or tokens follow it).
    public func rewards(_ batch: ResponseBatch, tape: Tape) throws -> Tensor {
        let pooled = RewardModel.lastNonPadIndices(batch.ids, rows: batch.rows, time: batch.time, padId: padTokenId)
        if let r = (0..<batch.rows).first(where: { pooled[$0] != batch.lastResponseIndex[$0] }) {
            throw StrataError.data("RewardModel.rewards", "row \(r): last response token at \(batch.lastResponseIndex[r]) "
                                   + "but transformers would read position \(pooled[r]) (pad_token_id \(padTokenId))",
                                   fix: "end responses with a token other than the pad id and pad only with it")
        }
        return try rewards(batch.ids, rows: batch.rows, time: batch.time, tape: tape, positions: batch.lastResponseIndex)
    }
}
