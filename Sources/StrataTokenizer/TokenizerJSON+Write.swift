// Writing tokenizer.json in the layout Hugging Face `tokenizers` writes and reads
// (vocab in id order, merges as ["a", "b"] pairs, one per line for readable diffs).
// Leaves out: pretty-printing beyond that, fields Strata never sets.

import Foundation
import StrataCore

extension BPETokenizer {
    /// The tokenizer.json text.
    public func jsonString() -> String {
        var s = "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": ["
        for (i, a) in addedTokens.enumerated() {
            s += i == 0 ? "\n" : ",\n"
            s += "    {\"id\": \(a.id), \"content\": \(quoted(a.content)), \"single_word\": false, \"lstrip\": false, "
            s += "\"rstrip\": false, \"normalized\": \(!a.special), \"special\": \(a.special)}"
        }
        s += addedTokens.isEmpty ? "],\n" : "\n  ],\n"
        s += "  \"normalizer\": null,\n"
        s += "  \"pre_tokenizer\": \(TokenizerJSONWriter.preTokenizer(options)),\n"
        let post = TokenizerJSONWriter.byteLevel(addPrefixSpace: true, trimOffsets: false, useRegex: true)
        s += "  \"post_processor\": \(options.roberta?.json ?? (options.byteLevelPostProcessor ? post : "null")),\n"
        s += "  \"decoder\": \(TokenizerJSONWriter.byteLevel(addPrefixSpace: true, trimOffsets: true, useRegex: true)),\n"
        s += "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n"
        s += "    \"unk_token\": \(options.unkToken.map(quoted) ?? "null"),\n"
        s += "    \"continuing_subword_prefix\": null,\n    \"end_of_word_suffix\": null,\n"
        s += "    \"fuse_unk\": \(options.fuseUnk),\n    \"byte_fallback\": false,\n    \"ignore_merges\": \(options.ignoreMerges),\n"
        s += "    \"vocab\": {"
        s.reserveCapacity(s.utf8.count + vocab.count * 20 + merges.count * 24)
        for (id, t) in vocab.enumerated() {
            s += id == 0 ? "\n      " : ",\n      "
            s += quoted(t) + ": \(id)"
        }
        s += "\n    },\n    \"merges\": ["
        for (i, m) in merges.enumerated() {
            s += i == 0 ? "\n      [" : ",\n      ["
            s += quoted(vocab[m.left]) + ", " + quoted(vocab[m.right]) + "]"
        }
        s += "\n    ]\n  }\n}\n"
        return s
    }

    /// Writes tokenizer.json to `url`.
    public func write(to url: URL) throws {
        do {
            try Data(jsonString().utf8).write(to: url, options: .atomic)
        } catch {
            throw StrataError.file("write tokenizer \(url.path)", path: url.path, error)
        }
    }
}
