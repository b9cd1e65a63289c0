// Reading Hugging Face tokenizer.json files into BPETokenizer parts. Accepts what
// Strata implements exactly: model BPE (merges as "a b" or ["a","b"]), ByteLevel
// pre-tokenizer (or Split with GPT-2/cl100k regex + ByteLevel without regex),
// ByteLevel decoder and post-processor, added tokens. Everything else is rejected
// with a StrataError naming the field, so ids never silently differ from HF's.
// Leaves out: normalizers, templates, WordPiece/Unigram/WordLevel models.

import Foundation
import StrataCore

extension BPETokenizer {
    /// Loads a tokenizer.json (Hugging Face `tokenizers` layout, GPT-2's included).
    public convenience init(contentsOf url: URL) throws {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw StrataError.io("read tokenizer \(url.path)", "file does not exist or cannot be read", fix: "check the --tokenizer path")
        }
        try self.init(jsonData: data, source: url.path)
    }

    /// Parses tokenizer.json bytes; `source` names the file in errors.
    public convenience init(jsonData: Data, source: String = "tokenizer.json") throws {
        let p = try TokenizerJSONReader(source: source).parse(jsonData)
        try self.init(vocab: p.vocab, merges: p.merges, addedTokens: p.added, options: p.options, source: source)
        if let r = p.options.roberta { try checkPostProcessor(r, op: "read tokenizer \(source)") }
    }
}

struct TokenizerJSONReader {
    struct Parts {
        var vocab: [String]
        var merges: [BPETokenizer.Merge]
        var added: [BPETokenizer.AddedToken]
        var options: BPETokenizer.Options
    }

    let source: String

    func fail(_ message: String, fix: String? = nil) -> StrataError {
        StrataError.format("read tokenizer \(source)", message, fix: fix)
    }

    func parse(_ data: Data) throws -> Parts {
        guard let any = try? JSONSerialization.jsonObject(with: data), let root = any as? [String: Any] else {
            throw fail("not a JSON object", fix: "give a tokenizer.json written by Hugging Face tokenizers or strata")
        }
        if let v = present(root["version"]) {
            guard let s = v as? String, s == "1.0" else { throw fail("unknown version \(v)", fix: "use a version 1.0 tokenizer.json") }
        }
        for key in ["truncation", "padding"] where present(root[key]) != nil {
            throw fail("'\(key)' is set, which Strata does not apply", fix: "set \(key) to null (sequence lengths are set by the trainer)")
        }
        try checkNormalizer(root["normalizer"])
        guard let model = root["model"] as? [String: Any] else { throw fail("missing field 'model'") }
        var options = try modelOptions(model)
        let (pattern, addPrefix, trim) = try preTokenizer(root["pre_tokenizer"])
        options.pattern = pattern
        options.addPrefixSpace = addPrefix
        options.trimOffsets = trim
        (options.byteLevelPostProcessor, options.roberta) = try postProcessor(root["post_processor"])
        try checkDecoder(root["decoder"])
        let vocab = try readVocab(model["vocab"])
        var index = [String: Int](minimumCapacity: vocab.count)
        for (i, t) in vocab.enumerated() { index[t] = i }
        let merges = try readMerges(model["merges"], index: index)
        let added = try readAdded(root["added_tokens"])
        return Parts(vocab: vocab, merges: merges, added: added, options: options)
    }

    /// nil for an absent or null field.
    func present(_ v: Any?) -> Any? {
        guard let v, !(v is NSNull) else { return nil }
        return v
    }

    func flag(_ d: [String: Any], _ key: String, _ context: String, default def: Bool) throws -> Bool {
        guard let v = present(d[key]) else { return def }
        guard let b = v as? Bool else { throw fail("'\(context).\(key)' is not true or false") }
        return b
    }

    func checkNormalizer(_ v: Any?) throws {
        guard let n = present(v) else { return }
        let d = n as? [String: Any]
        if d?["type"] as? String == "Sequence", let list = d?["normalizers"] as? [Any], list.isEmpty { return }
        throw fail("normalizer \(d?["type"] as? String ?? "?") is not implemented by Strata",
                   fix: "use a tokenizer without a normalizer (byte-level BPE needs none)")
    }

    func modelOptions(_ m: [String: Any]) throws -> BPETokenizer.Options {
        if let t = present(m["type"]) {
            guard t as? String == "BPE" else { throw fail("model type \(t) is not supported", fix: "Strata reads byte-level BPE models only") }
        }
        if let d = present(m["dropout"]) {
            guard let x = d as? Double, x == 0 else { throw fail("model.dropout \(d) is not supported", fix: "set dropout to null") }
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let v = present(m[key]) {
                guard let s = v as? String, s.isEmpty else { throw fail("model.\(key) \(quoted("\(v)")) is not supported", fix: "set it to null") }
            }
        }
        guard try !flag(m, "byte_fallback", "model", default: false) else {
            throw fail("model.byte_fallback is true, which Strata does not implement", fix: "use a byte-level tokenizer with byte_fallback false")
        }
        var o = BPETokenizer.Options()
        o.fuseUnk = try flag(m, "fuse_unk", "model", default: false)
        o.ignoreMerges = try flag(m, "ignore_merges", "model", default: false)
        if let u = present(m["unk_token"]) {
            guard let s = u as? String else { throw fail("model.unk_token is not a string") }
            o.unkToken = s
        }
        return o
    }

    func readVocab(_ v: Any?) throws -> [String] {
        guard let dict = v as? [String: Any] else { throw fail("missing field 'model.vocab' (an object of token → id)") }
        var vocab = [String?](repeating: nil, count: dict.count)
        for (tok, idAny) in dict {
            guard let id = idAny as? Int else { throw fail("model.vocab[\(quoted(tok))] is not an integer id") }
            guard id >= 0, id < dict.count else {
                throw fail("model.vocab id \(id) of \(quoted(tok)) is outside 0..<\(dict.count)", fix: "number vocab ids contiguously from 0")
            }
            if let other = vocab[id] { throw fail("model.vocab id \(id) is given to both \(quoted(other)) and \(quoted(tok))") }
            vocab[id] = tok
        }
        return vocab.map { $0! }
    }

    func readMerges(_ v: Any?, index: [String: Int]) throws -> [BPETokenizer.Merge] {
        guard let list = v as? [Any] else { throw fail("missing field 'model.merges' (a list)") }
        guard !list.isEmpty else { throw fail("model.merges is empty", fix: "give a trained BPE with at least one merge") }
        var out = [BPETokenizer.Merge]()
        out.reserveCapacity(list.count)
        for (i, item) in list.enumerated() {
            var parts: [String]
            if let s = item as? String {
                parts = s.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            } else if let arr = item as? [Any], arr.allSatisfy({ $0 is String }) {
                parts = arr.map { $0 as! String }
            } else {
                throw fail("model.merges[\(i)] is neither \"a b\" nor [\"a\", \"b\"]")
            }
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                throw fail("model.merges[\(i)] has \(parts.count) parts, not 2")
            }
            guard let a = index[parts[0]], let b = index[parts[1]] else {
                throw fail("model.merges[\(i)] uses \(quoted(index[parts[0]] == nil ? parts[0] : parts[1])), which is not in the vocab",
                           fix: "add it to the vocab or remove the merge")
            }
            out.append(BPETokenizer.Merge(a, b))
        }
        return out
    }

    func readAdded(_ v: Any?) throws -> [BPETokenizer.AddedToken] {
        guard let list = present(v) else { return [] }
        guard let items = list as? [Any] else { throw fail("'added_tokens' is not a list") }
        return try items.enumerated().map { i, item in
            guard let d = item as? [String: Any], let id = d["id"] as? Int, let content = d["content"] as? String else {
                throw fail("added_tokens[\(i)] lacks an integer 'id' or a string 'content'")
            }
            for key in ["single_word", "lstrip", "rstrip"] where try flag(d, key, "added_tokens[\(i)]", default: false) {
                throw fail("added_tokens[\(i)] (\(quoted(content))) sets \(key), which Strata does not implement", fix: "set \(key) to false")
            }
            return BPETokenizer.AddedToken(id: id, content: content, special: try flag(d, "special", "added_tokens[\(i)]", default: false))
        }
    }
}
