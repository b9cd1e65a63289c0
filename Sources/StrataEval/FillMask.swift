// Fill-mask with the RoBERTa encoder: encode a text as the encoder reads it (the
// tokenizer's post-processor frames it <s> … </s>; `<mask>` written in the text is
// the mask token), run the encoder once, and for each mask position return the
// top-K vocabulary ids by logit (ties broken by the lower id), with their decoded
// text. What `strata fill-mask` prints.
// Shapes: T time (one row), V vocab.
// Leaves out: several texts per call, probabilities (logits are reported as they are),
// restricting candidates to whole words.

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataTokenizer

/// The top candidates at one mask position.
public struct MaskPrediction: Codable, Equatable, Sendable {
    public struct Candidate: Codable, Equatable, Sendable {
        public var id: Int
        /// The id decoded to text (a leading space marks a word start).
        public var token: String
        public var logit: Float
    }
    /// Index of the mask token in the encoded row (<s> is 0).
    public var position: Int
    public var candidates: [Candidate]

    /// One JSON line, keys in the documented order: {"position": P, "candidates": [{"id": I, "token": S, "logit": L}, ...]}.
    public var jsonLine: String {
        let c = candidates.map { "{\"id\": \($0.id), \"token\": \"\(JSONText.escape($0.token))\", \"logit\": \($0.logit)}" }
        return "{\"position\": \(position), \"candidates\": [\(c.joined(separator: ", "))]}"
    }
}

public enum FillMask {
    /// Top-`topK` candidates for every `<mask>` in `text`, in row order. Errors name the option or the text.
    public static func predict(model: any CausalLM, tokenizer: BPETokenizer, text: String, topK: Int, source: String) throws -> [MaskPrediction] {
        let op = "fill-mask"
        guard let encoder = model as? Roberta else {
            throw StrataError.config(op, "\(source) is a \(model.family.rawValue) model; fill-mask needs a roberta masked-LM encoder",
                                     fix: "pass a checkpoint pretrained with model.family: roberta (e.g. recipes/pretrain-mlm-tiny.yaml)")
        }
        guard topK >= 1 else { throw StrataError.config(op, "--top-k is \(topK); it must be at least 1", fix: "e.g. --top-k 5") }
        let tokens = try MaskedLMTokens(tokenizer: tokenizer, source: "\(source) tokenizer.json")
        let ids = tokenizer.encodeFramed(text).map(Int32.init)
        let masks = ids.indices.filter { ids[$0] == tokens.mask }
        guard !masks.isEmpty else {
            throw StrataError.data(op, "the text has no mask token \(tokenizer.token(forID: Int(tokens.mask)) ?? "<mask>"): \"\(text)\"",
                                   fix: "write <mask> where a token should be predicted, e.g. \"The capital of <mask> is\"")
        }
        return try predict(encoder: encoder, ids: ids, positions: masks, topK: topK) { tokenizer.decode([$0]) }
    }

    /// Top-`topK` ids by logit (ties: the lower id first) at `positions` of one encoded row; `decode` names each id.
    public static func predict(encoder: Roberta, ids: [Int32], positions: [Int], topK: Int, decode: (Int) -> String) throws -> [MaskPrediction] {
        try encoder.checkInput(ids, batch: 1, time: ids.count, op: "fill-mask: the text (\(ids.count) tokens)")
        let tape = Tape.noGrad()
        let logits = encoder.logits(encoder.hidden(ids, batch: 1, time: ids.count, tape: tape), tape: tape)   // [T, V]
        let v = encoder.vocabSize, k = min(topK, v)
        return positions.map { p in
            let row = Array(UnsafeBufferPointer(start: logits.ptr + p * v, count: v))
            let best = row.indices.sorted { row[$0] != row[$1] ? row[$0] > row[$1] : $0 < $1 }.prefix(k)
            return MaskPrediction(position: p, candidates: best.map { .init(id: $0, token: decode($0), logit: row[$0]) })
        }
    }
}
