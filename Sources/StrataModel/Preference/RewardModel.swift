// RewardModel: a decoder trunk (GPT-2 or Llama) plus a scalar head `score.weight` [1, C]
// (no bias), laid out as transformers' GPT2ForSequenceClassification /
// LlamaForSequenceClassification with num_labels = 1 (a Llama trunk drops its LM head).
// The reward of a row is score · h at one position, by one rule everywhere
// (training, held-out evaluation, `strata score`): the rightmost token that is not
// `padTokenId` — what transformers' GPT2ForSequenceClassification pools
// (`(arange(T) * (ids != pad)).argmax(-1)`). Rows hold what TRL's RewardTrainer
// tokenises (PreferenceRender.swift): a conversational row ends with the template's
// "\n" after <|im_end|>, read there; a plain row ends with EOS, and with pad = EOS
// (TRL's default for GPT-2) that EOS counts as padding, so the read is at the last
// response token before it — for chosen and rejected alike.
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

    public let trunk: any CausalLM
    /// [1, C] linear head without bias, named as transformers names it.
    public let score: Tensor
    /// The id transformers treats as padding (config.json pad_token_id).
    public var padTokenId: Int

    public static let scoreName = "score.weight"

    /// Wrap `trunk` (weights shared, not copied) with a new head.
    public init(trunk: any CausalLM, padTokenId: Int, head: HeadInit = .normal(seed: 0)) {
        let c = trunk.hiddenSize
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

    /// The transformers class this reward model saves as (config.json architectures).
    public var architectureName: String { trunk.family.sequenceClassificationArchitecture }

    /// Trunk parameters (no LM head) then the head, in state-dict naming.
    public var parameters: [Tensor] { trunk.trunkParameters + [score] }

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
        try checkInput(ids, rows: rows, time: time, op: op)
        let at = positions ?? RewardModel.lastNonPadIndices(ids, rows: rows, time: time, padId: padTokenId)
        guard at.count == rows else {
            throw StrataError.shape(op, "\(at.count) positions for \(rows) rows", fix: "give one position per row")
        }
        if let r = at.indices.first(where: { at[$0] < 0 || at[$0] >= time }) {
            throw StrataError.data(op, "row \(r): position \(at[r]) outside 0..<\(time)", fix: "read inside the row")
        }
        let h = trunk.hidden(ids, batch: rows, time: time, tape: tape)                      // [R, T, C]
        let flat = tape.reshape(h, [rows * time, trunk.hiddenSize])
        let picked = tape.gatherRows(flat, (0..<rows).map { $0 * time + at[$0] })          // [R, C]
        return tape.reshape(tape.linearTransposed(picked, score), [rows])                  // [R]
    }

    /// Rows of token ids the trunk can read: rows·time ids, time within n_positions, ids inside the vocabulary.
    func checkInput(_ ids: [Int32], rows: Int, time: Int, op: String) throws {
        guard rows > 0, time > 0, ids.count == rows * time else {
            throw StrataError.shape(op, "\(ids.count) ids for rows=\(rows), time=\(time)", fix: "give rows·time ids")
        }
        guard time <= trunk.contextLength else {
            throw StrataError.shape(op, "time=\(time) exceeds n_positions=\(trunk.contextLength)", fix: "truncate rows")
        }
        if let i = ids.firstIndex(where: { $0 < 0 || Int($0) >= trunk.vocabSize }) {
            throw StrataError.data(op, "row \(i / time) position \(i % time): id \(ids[i]) outside vocabulary of \(trunk.vocabSize)",
                                   fix: "tokenise with the model's tokenizer")
        }
    }

    /// Rewards of a ResponseBatch, read where transformers reads them (the rightmost non-pad token, see the
    /// file header). Throws when that position lies before the row's response — a response made only of pad
    /// tokens, whose reward could not depend on it.
    public func rewards(_ batch: ResponseBatch, tape: Tape) throws -> Tensor {
        let pooled = RewardModel.lastNonPadIndices(batch.ids, rows: batch.rows, time: batch.time, padId: padTokenId)
        for r in 0..<batch.rows {
            let first = batch.lastResponseIndex[r] - batch.responseLengths[r] + 1
            if pooled[r] < first {
                throw StrataError.data("RewardModel.rewards", "row \(r): the rightmost token that is not pad_token_id \(padTokenId) "
                                       + "is at \(pooled[r]), before the response (positions \(first)...\(batch.lastResponseIndex[r]))",
                                       fix: "give responses with text besides the pad token, or a pad_token_id that is not their only token")
            }
        }
        return try rewards(batch.ids, rows: batch.rows, time: batch.time, tape: tape, positions: pooled)
    }
}
