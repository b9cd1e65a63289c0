// The pre-tokenizer, post-processor and decoder sections of tokenizer.json: which
// combinations Strata reads (and how it maps them onto PreTokenizerPattern), and
// the JSON it writes for each pattern.
// Leaves out: Metaspace, Whitespace, Digits and other HF pre-tokenizers.

import Foundation

extension TokenizerJSONReader {
    /// (pattern, add_prefix_space, trim_offsets) from the pre_tokenizer field.
    func preTokenizer(_ v: Any?) throws -> (PreTokenizerPattern, Bool, Bool) {
        guard let d = present(v) as? [String: Any] else {
            throw fail("pre_tokenizer is missing or null; byte-level BPE needs a ByteLevel pre-tokenizer",
                       fix: "set pre_tokenizer to {\"type\": \"ByteLevel\", ...}")
        }
        switch d["type"] as? String {
        case "ByteLevel":
            return (try flag(d, "use_regex", "pre_tokenizer", default: true) ? .gpt2 : .none,
                    try flag(d, "add_prefix_space", "pre_tokenizer", default: true),
                    try flag(d, "trim_offsets", "pre_tokenizer", default: true))
        case "Sequence":
            guard let list = d["pretokenizers"] as? [[String: Any]] else { throw fail("pre_tokenizer.pretokenizers is not a list of objects") }
            if list.count == 1, list[0]["type"] as? String == "ByteLevel" { return try preTokenizer(list[0]) }
            guard list.count == 2, list[0]["type"] as? String == "Split", list[1]["type"] as? String == "ByteLevel" else {
                throw fail("pre_tokenizer Sequence of \(list.map { $0["type"] as? String ?? "?" }) is not supported",
                           fix: "use [Split(regex), ByteLevel(use_regex: false)] or a plain ByteLevel")
            }
            let pattern = try splitPattern(list[0])
            guard try !flag(list[1], "use_regex", "pre_tokenizer.pretokenizers[1]", default: true) else {
                throw fail("pre_tokenizer splits twice (Split and ByteLevel with use_regex)", fix: "set use_regex to false in the ByteLevel step")
            }
            return (pattern, try flag(list[1], "add_prefix_space", "pre_tokenizer.pretokenizers[1]", default: true),
                    try flag(list[1], "trim_offsets", "pre_tokenizer.pretokenizers[1]", default: true))
        case let t:
            throw fail("pre_tokenizer type \(t ?? "?") is not supported", fix: "use ByteLevel")
        }
    }

    private func splitPattern(_ d: [String: Any]) throws -> PreTokenizerPattern {
        guard let p = d["pattern"] as? [String: Any], let regex = p["Regex"] as? String else {
            throw fail("pre_tokenizer Split has no {\"Regex\": ...} pattern")
        }
        guard let pattern = PreTokenizerPattern.knownRegexes[regex] else {
            throw fail("pre_tokenizer Split regex \(quoted(regex)) is not one Strata implements",
                       fix: "use the GPT-2 or cl100k pattern (see PreTokenizerPattern)")
        }
        guard d["behavior"] as? String == "Isolated", try !flag(d, "invert", "pre_tokenizer Split", default: false) else {
            throw fail("pre_tokenizer Split must have behavior Isolated and invert false")
        }
        return pattern
    }

    /// Whether a ByteLevel post_processor is present (null is fine too), or the RobertaProcessing one.
    func postProcessor(_ v: Any?) throws -> (byteLevel: Bool, roberta: RobertaProcessing?) {
        guard let p = present(v) else { return (false, nil) }
        let d = p as? [String: Any]
        if let d, d["type"] as? String == "RobertaProcessing" { return (false, try robertaProcessing(d)) }
        guard d?["type"] as? String == "ByteLevel" else {
            throw fail("post_processor \(d?["type"] as? String ?? "?") is not supported (it would add or change tokens)",
                       fix: "set post_processor to null, ByteLevel or RobertaProcessing")
        }
        return (true, nil)
    }

    func checkDecoder(_ v: Any?) throws {
        guard let d = present(v) as? [String: Any], d["type"] as? String == "ByteLevel" else {
            throw fail("decoder must be ByteLevel for a byte-level BPE", fix: "set decoder to {\"type\": \"ByteLevel\"}")
        }
    }
}

enum TokenizerJSONWriter {
    static func byteLevel(addPrefixSpace: Bool, trimOffsets: Bool, useRegex: Bool) -> String {
        "{\"type\": \"ByteLevel\", \"add_prefix_space\": \(addPrefixSpace), \"trim_offsets\": \(trimOffsets), \"use_regex\": \(useRegex)}"
    }

    static func preTokenizer(_ o: BPETokenizer.Options) -> String {
        switch o.pattern {
        case .gpt2: return byteLevel(addPrefixSpace: o.addPrefixSpace, trimOffsets: o.trimOffsets, useRegex: true)
        case .none: return byteLevel(addPrefixSpace: o.addPrefixSpace, trimOffsets: o.trimOffsets, useRegex: false)
        case .cl100k:
            let split = "{\"type\": \"Split\", \"pattern\": {\"Regex\": \(quoted(o.pattern.regex!))}, \"behavior\": \"Isolated\", \"invert\": false}"
            return "{\"type\": \"Sequence\", \"pretokenizers\": [\(split), "
                + byteLevel(addPrefixSpace: o.addPrefixSpace, trimOffsets: o.trimOffsets, useRegex: false) + "]}"
        }
    }
}
