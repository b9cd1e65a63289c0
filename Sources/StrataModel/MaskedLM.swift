// The masked-language-modelling corruption (BERT/RoBERTa, as transformers'
// DataCollatorForLanguageModeling): each non-special position is selected with
// probability 15%; a selected token becomes the mask token with probability 80%,
// a uniformly random vocabulary token with 10%, and stays itself with 10%. Labels
// hold the original token at selected positions and -100 elsewhere, so the loss
// counts selected positions only. Seeded per (seed, row index), so a row is
// corrupted the same way whatever batch it sits in and a resumed run replays it.
// Also the row framing the encoder trains and is evaluated on: a window of T − 2
// tokens between <s> and </s> (`MaskedLMTokens.frame`), and a whole micro-batch
// corrupted under one seed (`corrupt(rows:)`).
// Leaves out: whole-word masking, span masking, random tokens restricted to
// non-special ids (like transformers, any id below the vocabulary size may be drawn).

import StrataCore

public struct MaskingRule: Codable, Equatable, Sendable {
    /// Share of non-special positions selected for prediction.
    public var selectProbability = 0.15
    /// Of the selected: share replaced by the mask token, and share replaced by a random token (the rest kept).
    public var maskFraction = 0.8
    public var randomFraction = 0.1

    public init(selectProbability: Double = 0.15, maskFraction: Double = 0.8, randomFraction: Double = 0.1) {
        self.selectProbability = selectProbability; self.maskFraction = maskFraction; self.randomFraction = randomFraction
    }

    /// Refuses probabilities outside [0, 1] or mask + random shares above 1, naming the field.
    public func validate(op: String = "masked-LM rule") throws {
        for (field, p) in [("select_probability", selectProbability), ("mask_fraction", maskFraction), ("random_fraction", randomFraction)]
        where !(p >= 0 && p <= 1) {
            throw StrataError.config(op, "\(field) is \(p); it must lie in [0, 1]", fix: "BERT uses 0.15 / 0.8 / 0.1")
        }
        if maskFraction + randomFraction > 1 {
            throw StrataError.config(op, "mask_fraction + random_fraction is \(maskFraction + randomFraction), above 1", fix: "BERT uses 0.8 + 0.1")
        }
    }

    /// Corrupts one row: (inputs, labels). `special` ids (bos, eos, pad, mask…) are never selected.
    public func apply(_ ids: [Int32], maskID: Int32, vocabSize: Int, special: Set<Int32>, seed: UInt64, row: UInt64) -> (inputs: [Int32], labels: [Int32]) {
        var rng = StrataRNG(seed: seed &+ row &* 0x9E37_79B9_7F4A_7C15)
        var inputs = ids, labels = [Int32](repeating: -100, count: ids.count)
        for (i, id) in ids.enumerated() where !special.contains(id) {
            guard rng.uniformDouble() < selectProbability else { continue }
            labels[i] = id
            let u = rng.uniformDouble()
            if u < maskFraction { inputs[i] = maskID }
            else if u < maskFraction + randomFraction { inputs[i] = Int32(rng.int(below: vocabSize)) }
        }
        return (inputs, labels)
    }
}

/// The encoder's special ids: row framing (<s>, </s>), padding and the mask token, and every id the rule never selects.
public struct MaskedLMTokens: Codable, Equatable, Sendable {
    public var bos: Int32, eos: Int32, pad: Int32, mask: Int32
    /// Every special id (the four above, <unk>, a document separator...): never selected, never a label.
    public var special: Set<Int32>

    public init(bos: Int32, eos: Int32, pad: Int32, mask: Int32, special: Set<Int32> = []) {
        self.bos = bos; self.eos = eos; self.pad = pad; self.mask = mask
        self.special = special.union([bos, eos, pad, mask])
    }

    /// B rows of T ids: each row is <s>, the first T − 2 tokens of its window, </s> (windows hold at least T − 2 tokens).
    public func frame(windows: [[Int32]], time t: Int) -> [Int32] {
        precondition(t >= 3, "MaskedLMTokens.frame: rows need room for <s>, one token and </s>")
        var out = [Int32](); out.reserveCapacity(windows.count * t)
        for w in windows {
            precondition(w.count >= t - 2, "MaskedLMTokens.frame: a window of \(w.count) tokens for rows of \(t)")
            out.append(bos); out.append(contentsOf: w.prefix(t - 2)); out.append(eos)
        }
        return out
    }
}

extension MaskingRule {
    /// Corrupts B rows of T ids [B·T] under one seed: row r is `apply`'d with (seed, r), so the batch is a function of
    /// (ids, seed) alone. Returns the corrupted inputs, the labels (-100 where not selected) and the count of labels.
    public func corrupt(rows ids: [Int32], time t: Int, tokens: MaskedLMTokens, vocabSize: Int, seed: UInt64)
        -> (inputs: [Int32], labels: [Int32], selected: Int) {
        var inputs = [Int32](), labels = [Int32]()
        inputs.reserveCapacity(ids.count); labels.reserveCapacity(ids.count)
        for r in 0..<(ids.count / t) {
            let row = apply(Array(ids[(r * t)..<((r + 1) * t)]), maskID: tokens.mask, vocabSize: vocabSize, special: tokens.special,
                            seed: seed, row: UInt64(r))
            inputs += row.inputs; labels += row.labels
        }
        return (inputs, labels, labels.reduce(0) { $0 + ($1 == -100 ? 0 : 1) })
    }
}
