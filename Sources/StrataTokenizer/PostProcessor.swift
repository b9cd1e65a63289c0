// The RobertaProcessing post-processor of tokenizer.json: what Hugging Face
// `tokenizers` adds around an encoding when special tokens are asked for — for a
// single text, cls (<s>) before and sep (</s>) after. Strata reads it from and writes
// it to tokenizer.json as `tokenizers` does (type, sep/cls as [token, id],
// trim_offsets, add_prefix_space) and applies it in `encodeFramed`, the encoding the
// masked-LM encoder reads. Plain `encode` never applies it (training data is framed by
// the trainer), so it is no part of the tokenizer's hash.
// Leaves out: pairs of texts (<s> A </s></s> B </s>), TemplateProcessing, offsets
// (trim_offsets and add_prefix_space are kept only for round trips).

import Foundation
import StrataCore

/// RobertaProcessing: cls + ids + sep for a single text.
public struct RobertaProcessing: Sendable, Equatable {
    public var cls: String, clsID: Int
    public var sep: String, sepID: Int
    public var trimOffsets = true
    public var addPrefixSpace = true

    public init(cls: (String, Int), sep: (String, Int), trimOffsets: Bool = true, addPrefixSpace: Bool = true) {
        self.cls = cls.0; clsID = cls.1; self.sep = sep.0; sepID = sep.1
        self.trimOffsets = trimOffsets; self.addPrefixSpace = addPrefixSpace
    }

    /// As tokenizer.json holds it.
    var json: String {
        "{\"type\": \"RobertaProcessing\", \"sep\": [\(quoted(sep)), \(sepID)], \"cls\": [\(quoted(cls)), \(clsID)], "
            + "\"trim_offsets\": \(trimOffsets), \"add_prefix_space\": \(addPrefixSpace)}"
    }
}

/// A post-processor that adds tokens (ByteLevel, which changes none, is an option flag).
public enum PostProcessorKind: Sendable {
    case roberta(cls: (String, Int), sep: (String, Int))
}

extension BPETokenizer {
    /// A copy of this tokenizer (same ids and hash) with a RobertaProcessing post-processor; cls and sep must be
    /// special added tokens of this tokenizer with those ids.
    public func withPostProcessor(_ kind: PostProcessorKind) throws -> BPETokenizer {
        var o = options
        switch kind {
        case let .roberta(cls, sep):
            o.roberta = RobertaProcessing(cls: cls, sep: sep)
            o.byteLevelPostProcessor = false
        }
        let t = try BPETokenizer(vocab: vocab, merges: merges, addedTokens: addedTokens, options: o, source: "with a post-processor")
        if let r = o.roberta { try t.checkPostProcessor(r, op: "set post_processor") }
        return t
    }

    /// Ids of a single text as the encoder reads it: post-processed (<s> … </s> under RobertaProcessing; unchanged
    /// without one). Special tokens written in the text (<mask>) are matched.
    public func encodeFramed(_ text: String) -> [Int] {
        let ids = encode(text, allowSpecial: true)
        guard let r = options.roberta else { return ids }
        return [r.clsID] + ids + [r.sepID]
    }

    /// cls and sep must be added tokens with the ids the post-processor names.
    func checkPostProcessor(_ r: RobertaProcessing, op: String) throws {
        for (field, content, id) in [("cls", r.cls, r.clsID), ("sep", r.sep, r.sepID)] where self.id(forSpecial: content) != id {
            let actual = self.id(forSpecial: content).map { "has id \($0)" } ?? "is not an added token"
            throw StrataError.format(op, "post_processor RobertaProcessing \(field) is [\(quoted(content)), \(id)] but \(quoted(content)) \(actual)",
                                     fix: "set \(field) to the token's content and id in added_tokens")
        }
    }
}

extension TokenizerJSONReader {
    /// RobertaProcessing's fields, refusing a malformed sep/cls by name.
    func robertaProcessing(_ d: [String: Any]) throws -> RobertaProcessing {
        func pair(_ key: String) throws -> (String, Int) {
            guard let a = d[key] as? [Any], a.count == 2, let s = a[0] as? String, let n = a[1] as? Int else {
                throw fail("post_processor RobertaProcessing '\(key)' is not a [token, id] pair", fix: "e.g. \"\(key)\": [\"\(key == "cls" ? "<s>" : "</s>")\", 0]")
            }
            return (s, n)
        }
        return RobertaProcessing(cls: try pair("cls"), sep: try pair("sep"),
                                 trimOffsets: try flag(d, "trim_offsets", "post_processor", default: true),
                                 addPrefixSpace: try flag(d, "add_prefix_space", "post_processor", default: true))
    }
}
