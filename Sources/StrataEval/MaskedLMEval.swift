// Masked-LM evaluation of the RoBERTa encoder on a token shard: the first N windows,
// read front to back (window w holds tokens [w·(T−2), (w+1)·(T−2))), each framed as
// <s> … </s>, corrupted by the masking rule under a fixed seed, so two evaluations
// of the same checkpoint on the same shard mask the same positions and agree bit for
// bit. Reports the mean cross-entropy over the selected positions (nats), its
// perplexity, and accuracy: the share of selected positions whose top logit is the
// original token. Training validation and `strata eval` both call this.
// Also where an encoder's special tokens are read from its tokenizer.
// Shapes: B rows, T time, V vocab, N = B·T.
// Leaves out: whole-word masking, pseudo-log-likelihood scoring.

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataTokenizer

/// A masked-LM measurement of one source.
public struct MaskedLMScore: Codable, Equatable, Sendable {
    public var name: String
    /// Mean cross-entropy over the selected positions (nats per token) and its exp.
    public var loss: Double
    public var perplexity: Double
    /// Share of selected positions predicted exactly (argmax over the vocabulary).
    public var accuracy: Double
    /// Selected (scored) positions, windows read and the row length.
    public var tokens: Int
    public var windows: Int
    public var context: Int

    /// As a checkpoint's evaluations record it.
    public var metrics: [String: Double] {
        ["mlm_loss": loss, "mlm_perplexity": perplexity, "mlm_accuracy": accuracy, "mlm_tokens": Double(tokens)]
    }
}

public enum MaskedLMEval {
    /// Fixed masking seed of evaluations (training masks with seeds derived from its own seed and step).
    public static let seed: UInt64 = 0x4D4C_4D5F_4556_414C

    /// Masked-LM loss, perplexity and accuracy of `model` on the first `windows` windows of `shard`.
    public static func evaluate(model: Roberta, shard: Shard, name: String, tokens: MaskedLMTokens, rule: MaskingRule = MaskingRule(),
                                windows wanted: Int, context: Int? = nil, batch: Int = 8) throws -> MaskedLMScore {
        let op = "masked-LM evaluation of '\(name)' (\(shard.url.path))"
        let t = context ?? model.contextLength
        guard t >= 3, t <= model.contextLength else {
            throw StrataError.config(op, "context \(t) is outside 3...\(model.contextLength) (<s>, at least one token, </s>; the encoder's positions)")
        }
        guard wanted >= 1, batch >= 1 else { throw StrataError.config(op, "windows (\(wanted)) and batch (\(batch)) must be positive") }
        guard shard.vocabSize <= model.vocabSize else {
            throw StrataError.data(op, "the shard was written for a vocabulary of \(shard.vocabSize), the model has \(model.vocabSize)",
                                   fix: "evaluate on shards prepared with the checkpoint's tokenizer")
        }
        let body = t - 2, windows = min(wanted, shard.count / body)
        guard windows >= 1 else {
            throw StrataError.data(op, "the shard has \(shard.count) tokens; one window needs \(body)", fix: "use a longer shard or a shorter context")
        }
        var lossSum = 0.0, correct = 0, selected = 0, w = 0
        while w < windows {
            let b = min(batch, windows - w)
            let rows = tokens.frame(windows: (0..<b).map { Array(shard.tokens(in: (w + $0) * body ..< (w + $0 + 1) * body)) }, time: t)
            // Row seeds are window indices: a window is masked the same way whatever the evaluation's batch size.
            var inputs = [Int32](), labels = [Int32]()
            for r in 0..<b {
                let row = rule.apply(Array(rows[(r * t)..<((r + 1) * t)]), maskID: tokens.mask, vocabSize: model.vocabSize,
                                     special: tokens.special, seed: seed, row: UInt64(w + r))
                inputs += row.inputs; labels += row.labels
            }
            let score = try scoreBatch(model, inputs: inputs, labels: labels, batch: b, time: t, op: op)
            lossSum += score.loss; correct += score.correct; selected += score.selected
            w += b
        }
        guard selected > 0 else {
            throw StrataError.data(op, "no position of \(windows) windows was selected for masking", fix: "evaluate on more windows")
        }
        let loss = lossSum / Double(selected)
        return MaskedLMScore(name: name, loss: loss, perplexity: Foundation.exp(loss), accuracy: Double(correct) / Double(selected),
                             tokens: selected, windows: windows, context: t)
    }

    /// Summed cross-entropy, exact top-1 count and count of the labelled positions of one corrupted batch.
    static func scoreBatch(_ model: Roberta, inputs: [Int32], labels: [Int32], batch b: Int, time t: Int, op: String) throws
        -> (loss: Double, correct: Int, selected: Int) {
        try model.checkInput(inputs, batch: b, time: t, op: op)
        let tape = Tape.noGrad()
        let logits = model.logits(model.hidden(inputs, batch: b, time: t, tape: tape), tape: tape)   // [N, V]
        let v = model.vocabSize, p = logits.ptr
        var loss = 0.0, correct = 0, selected = 0
        for (i, label) in labels.enumerated() where label != -100 {
            let row = UnsafeBufferPointer(start: p + i * v, count: v)
            var best = 0, top = row[0]
            for j in 1..<v where row[j] > top { top = row[j]; best = j }
            var sum = 0.0
            for x in row { sum += Foundation.exp(Double(x - top)) }
            loss += Double(top) + Foundation.log(sum) - Double(row[Int(label)])   // −log softmax[label]
            if best == Int(label) { correct += 1 }
            selected += 1
        }
        return (loss, correct, selected)
    }
}

extension MaskedLMTokens {
    /// The special tokens RoBERTa's tokenizer has, in the order a tokenizer trained for it gets them (ids 0…4).
    public static let robertaSpecials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]

    /// The encoder's special ids from its tokenizer: <s>, </s>, <pad> and <mask> must be present; every special token
    /// (a document separator included) is never selected.
    public init(tokenizer: BPETokenizer, source: String) throws {
        func id(_ t: String) throws -> Int32 {
            guard let i = tokenizer.id(forSpecial: t) else {
                throw StrataError.config("read \(source)", "the tokenizer has no \(t) token, which the masked-LM encoder needs",
                                         fix: "use a tokenizer with the special tokens \(MaskedLMTokens.robertaSpecials.joined(separator: " ")) "
                                            + "(strata pretrain adds them to a roberta run's tokenizer)")
            }
            return Int32(i)
        }
        let special = Set(tokenizer.addedTokens.filter(\.special).map { Int32($0.id) })
        self.init(bos: try id("<s>"), eos: try id("</s>"), pad: try id("<pad>"), mask: try id("<mask>"), special: special)
    }
}
