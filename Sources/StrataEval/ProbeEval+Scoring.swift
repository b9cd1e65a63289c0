// Batched log-likelihood of continuations: sequences (context + continuation) are
// sorted by length, packed into [B, T] batches under a row and token budget and
// padded at the end (causal attention keeps padding from reaching earlier positions,
// so it is simply never read). Only the hidden states that predict continuation
// tokens go through the LM head, so a large vocabulary costs little.
// Leaves out: KV-cache sharing of a common prompt across its candidates.

import StrataCore
import StrataTensor
import StrataModel

/// A token sequence whose tokens from `scoredFrom` on are scored given everything before them.
public struct ScoredSequence: Equatable, Sendable {
    public var tokens: [Int32]
    public var scoredFrom: Int

    public var scoredCount: Int { tokens.count - scoredFrom }

    public init(tokens: [Int32], scoredFrom: Int) {
        precondition(scoredFrom >= 1 && scoredFrom <= tokens.count, "ScoredSequence: scoredFrom \(scoredFrom) for \(tokens.count) tokens")
        self.tokens = tokens
        self.scoredFrom = scoredFrom
    }

    /// `context` + `continuation`, with the context cut from the left if the model's context is too short.
    /// `what` names the sequence in errors.
    public init(context: [Int32], continuation: [Int32], model: any CausalLM, what: String) throws {
        let op = "probe eval"
        guard !context.isEmpty else { throw StrataError.data(op, "\(what): the prompt encodes to no tokens", fix: "give the probe a prompt") }
        guard !continuation.isEmpty else { throw StrataError.data(op, "\(what): the candidate encodes to no tokens") }
        try ProbeEval.checkVocabulary(context + continuation, model: model, what: what)
        let room = model.contextLength + 1          // inputs are all tokens but the last
        guard continuation.count < room else {
            throw StrataError.data(op, "\(what): the candidate has \(continuation.count) tokens; the model's context is \(model.contextLength)",
                                   fix: "shorten the candidate")
        }
        let kept = context.suffix(min(context.count, room - continuation.count))
        self.init(tokens: Array(kept) + continuation, scoredFrom: kept.count)
    }
}

extension ProbeEval {
    /// Summed log-probability of each sequence's scored tokens, in input order.
    public static func sequenceLogProbs(model: any CausalLM, sequences: [ScoredSequence], config: Config = Config()) -> [Double] {
        var out = [Double](repeating: 0, count: sequences.count)
        for chunk in batches(sequences.map { $0.tokens.count - 1 }, config: config) {
            let sums = batchLogProbs(model: model, chunk.map { sequences[$0] })
            for (k, i) in chunk.enumerated() { out[i] = sums[k] }
        }
        return out
    }

    /// Indices grouped into batches: shortest first (ties in input order), each within the row and token budget.
    static func batches(_ lengths: [Int], config: Config) -> [[Int]] {
        let order = lengths.indices.sorted { lengths[$0] != lengths[$1] ? lengths[$0] < lengths[$1] : $0 < $1 }
        var out: [[Int]] = [], current: [Int] = []
        for i in order {
            let rows = current.count + 1
            if !current.isEmpty && (rows > config.maxBatchRows || rows * lengths[i] > config.maxBatchTokens) {
                out.append(current)
                current = []
            }
            current.append(i)
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    /// One forward pass over `rows` padded to a common length.
    static func batchLogProbs(model: any CausalLM, _ rows: [ScoredSequence]) -> [Double] {
        let b = rows.count, t = rows.map { $0.tokens.count - 1 }.max()!, c = model.hiddenSize
        var ids = [Int32](repeating: 0, count: b * t)
        var picks: [Int] = [], targets: [Int32] = [], owners: [Int] = []
        for (r, s) in rows.enumerated() {
            for i in 0..<(s.tokens.count - 1) { ids[r * t + i] = s.tokens[i] }
            for i in (s.scoredFrom - 1)..<(s.tokens.count - 1) {
                picks.append(r * t + i); targets.append(s.tokens[i + 1]); owners.append(r)
            }
        }
        let tape = Tape.noGrad()
        let hidden = model.hidden(ids, batch: b, time: t, tape: tape)
        let gathered = Tensor(uninitialized: [picks.count, c])
        for (k, p) in picks.enumerated() { (gathered.ptr + k * c).update(from: hidden.ptr + p * c, count: c) }
        let lp = tape.tokenLogProbs(model.logits(gathered, tape: tape), targets)
        var sums = [Double](repeating: 0, count: b)
        for (k, r) in owners.enumerated() { sums[r] += Double(lp.ptr[k]) }
        return sums
    }
}
