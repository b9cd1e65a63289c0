// Response batches and sequence log-probabilities for preference training.
// A `ResponseBatch` is R rows of T token ids (prompt, then response, then
// right padding) with next-token targets that are -100 everywhere except where
// the next token belongs to the response. `CausalLM.sequenceLogProbs` returns, per
// row, the sum of the response tokens' log-probabilities (with gradient) and the
// response token count (SimPO and IPO normalise by it).
// Row order for pairs follows TRL: the P chosen rows first, then the P rejected.
// Leaves out: left padding, packing several pairs into one row, tokenisation.

import StrataCore
import StrataTensor

public struct ResponseBatch: Sendable, Equatable {
    /// Token ids [rows · time], row-major.
    public let ids: [Int32]
    /// Next-token targets [rows · time]: targets[r·T + t] = ids[r·T + t + 1] when that token is part of the
    /// response, else -100.
    public let targets: [Int32]
    public let rows: Int
    public let time: Int
    /// Response tokens per row (non-ignored targets).
    public let responseLengths: [Int]
    /// Position of each row's last response token (the reward model reads its score there).
    public let lastResponseIndex: [Int]

    /// Validates raw arrays: shapes agree, every row has at least one response token, targets are -100 or the
    /// next token. Errors name the row and position.
    public init(ids: [Int32], targets: [Int32], rows: Int, time: Int) throws {
        let op = "ResponseBatch"
        guard rows > 0, time > 1, ids.count == rows * time, targets.count == rows * time else {
            throw StrataError.shape(op, "\(ids.count) ids and \(targets.count) targets for rows=\(rows), time=\(time)",
                                    fix: "give rows·time ids and targets (time ≥ 2)")
        }
        var lengths = [Int](repeating: 0, count: rows), last = [Int](repeating: 0, count: rows)
        for r in 0..<rows {
            for t in 0..<time where targets[r * time + t] != -100 {
                guard t + 1 < time, targets[r * time + t] == ids[r * time + t + 1] else {
                    throw StrataError.data(op, "row \(r) position \(t): target \(targets[r * time + t]) is not the next token",
                                           fix: "targets must be the ids shifted left by one, -100 outside the response")
                }
                lengths[r] += 1; last[r] = t + 1
            }
            if lengths[r] == 0 {
                throw StrataError.data(op, "row \(r) has no response tokens", fix: "drop empty responses or raise the length limit")
            }
        }
        self.ids = ids; self.targets = targets; self.rows = rows; self.time = time
        responseLengths = lengths; lastResponseIndex = last
    }

    /// Pack (prompt, response) rows, right-padded with `padId` to `time` (default: the longest row).
    /// Prompts must be non-empty (the first response token is predicted from the prompt's last token).
    public init(prompts: [[Int32]], responses: [[Int32]], padId: Int32, time: Int? = nil) throws {
        let op = "ResponseBatch.pack"
        guard prompts.count == responses.count, !prompts.isEmpty else {
            throw StrataError.shape(op, "\(prompts.count) prompts for \(responses.count) responses", fix: "give one prompt per response")
        }
        let longest = zip(prompts, responses).map { $0.count + $1.count }.max()!
        let t = time ?? longest
        var ids = [Int32](), targets = [Int32]()
        for (r, (p, s)) in zip(prompts, responses).enumerated() {
            guard !p.isEmpty, !s.isEmpty else {
                throw StrataError.data(op, "row \(r): empty \(p.isEmpty ? "prompt" : "response")", fix: "drop the pair or give it text")
            }
            guard p.count + s.count <= t else {
                throw StrataError.data(op, "row \(r): \(p.count + s.count) tokens exceed time=\(t)", fix: "truncate the pair or raise the length limit")
            }
            let row = p + s + [Int32](repeating: padId, count: t - p.count - s.count)
            var tg = [Int32](repeating: -100, count: t)
            for k in 0..<s.count { tg[p.count - 1 + k] = s[k] }
            ids += row; targets += tg
        }
        try self.init(ids: ids, targets: targets, rows: prompts.count, time: t)
    }

    /// Throws when an id falls outside a vocabulary of `vocabSize` or a row exceeds `maxTime` positions.
    public func validate(vocabSize: Int, maxTime: Int) throws {
        if time > maxTime {
            throw StrataError.shape("ResponseBatch", "time=\(time) exceeds the model's n_positions=\(maxTime)", fix: "truncate rows")
        }
        if let i = ids.firstIndex(where: { $0 < 0 || Int($0) >= vocabSize }) {
            throw StrataError.data("ResponseBatch", "row \(i / time) position \(i % time): id \(ids[i]) outside vocabulary of \(vocabSize)",
                                   fix: "tokenise with the model's tokenizer")
        }
    }
}

/// Per-row response log-probabilities of a batch.
public struct SequenceLogProbs {
    /// Σ over response tokens of log p(token), [rows]; carries gradient when the tape records.
    public let logps: Tensor
    /// Response tokens per row.
    public let lengths: [Int]
    /// Per-token log-probabilities [rows, time] (0 outside responses), for diagnostics.
    public let tokenLogps: Tensor
}

extension CausalLM {
    /// Sum of response-token log-probabilities per row of `batch` under this model.
    public func sequenceLogProbs(_ batch: ResponseBatch, tape: Tape) throws -> SequenceLogProbs {
        try batch.validate(vocabSize: vocabSize, maxTime: contextLength)
        let h = hidden(batch.ids, batch: batch.rows, time: batch.time, tape: tape)
        let lp = tape.tokenLogProbs(logits(h, tape: tape), batch.targets)             // [R·T]
        let perToken = tape.reshape(lp, [batch.rows, batch.time])
        return SequenceLogProbs(logps: tape.rowSum(perToken), lengths: batch.responseLengths, tokenLogps: perToken)
    }
}
