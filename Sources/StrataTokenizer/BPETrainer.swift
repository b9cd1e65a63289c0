// Training a byte-level BPE: count pre-token frequencies (in parallel), then merge
// the most frequent adjacent pair until the vocab is full. Pair counts are updated
// incrementally from each merge's neighbours and a max-heap with lazy correction
// picks the next pair, so no merge recounts the corpus. The order of merges is
// Hugging Face's: highest count first, ties to the smallest (left id, right id),
// ids numbered specials first, then the 256 byte characters by code point.
// Leaves out: max_token_length, limit_alphabet, continuing-subword prefixes.

import Foundation
import StrataCore

public enum BPETrainer {
    public struct Config: Sendable {
        /// Total number of ids, special tokens included (default 8192).
        public var vocabSize: Int
        /// Special tokens, numbered first from id 0 (default ["<|endoftext|>"]).
        public var specialTokens: [String]
        /// Pre-tokenisation pattern (default .gpt2).
        public var pattern: PreTokenizerPattern
        /// Pairs seen fewer times than this are never merged (default 0: no limit).
        public var minFrequency: Int
        /// Prepend a space to each text not starting with one (default false).
        public var addPrefixSpace: Bool

        public init(vocabSize: Int = 8192, specialTokens: [String] = ["<|endoftext|>"], pattern: PreTokenizerPattern = .gpt2,
                    minFrequency: Int = 0, addPrefixSpace: Bool = false) {
            self.vocabSize = vocabSize
            self.specialTokens = specialTokens
            self.pattern = pattern
            self.minFrequency = minFrequency
            self.addPrefixSpace = addPrefixSpace
        }
    }

    /// What a training run saw and did, with timings in seconds.
    public struct Report: Sendable {
        public var pieces = 0
        public var uniquePieces = 0
        public var merges = 0
        public var countSeconds = 0.0
        public var mergeSeconds = 0.0
        public init() {}
    }

    /// Trains a tokenizer on `texts` and reports what happened.
    public static func train(texts: [String], config: Config) throws -> (BPETokenizer, Report) {
        try validate(config)
        var report = Report()
        let t0 = DispatchTime.now().uptimeNanoseconds
        let words = countPieces(texts, pattern: config.pattern, addPrefixSpace: config.addPrefixSpace)
        report.uniquePieces = words.count
        report.pieces = Int(words.values.reduce(0, +))
        let t1 = DispatchTime.now().uptimeNanoseconds
        var state = MergeState(words: words, specials: config.specialTokens)
        state.run(vocabSize: config.vocabSize, minFrequency: Int64(config.minFrequency))
        let t2 = DispatchTime.now().uptimeNanoseconds
        report.merges = state.merges.count
        report.countSeconds = Double(t1 - t0) / 1e9
        report.mergeSeconds = Double(t2 - t1) / 1e9
        guard !state.merges.isEmpty else {
            throw StrataError.data("train tokenizer", "the texts gave no pair to merge (\(report.pieces) pieces)",
                                   fix: "train on more text")
        }
        var options = BPETokenizer.Options()
        options.pattern = config.pattern
        options.addPrefixSpace = config.addPrefixSpace
        let added = config.specialTokens.enumerated().map { BPETokenizer.AddedToken(id: state.specialIDs[$0.offset], content: $0.element, special: true) }
        let tok = try BPETokenizer(vocab: state.vocabStrings(), merges: state.merges, addedTokens: added, options: options, source: "trained")
        return (tok, report)
    }

    static func validate(_ config: Config) throws {
        let op = "train tokenizer"
        guard Set(config.specialTokens).count == config.specialTokens.count else {
            throw StrataError.config(op, "special tokens repeat: \(config.specialTokens)", fix: "list each special token once")
        }
        if config.specialTokens.contains(where: { $0.isEmpty }) {
            throw StrataError.config(op, "a special token is empty", fix: "remove the empty --special-token")
        }
        let least = 256 + config.specialTokens.count + 1
        guard config.vocabSize >= least else {
            throw StrataError.config(op, "vocab size \(config.vocabSize) leaves no room for merges after 256 bytes and \(config.specialTokens.count) special tokens",
                                     fix: "use --vocab-size \(least) or more")
        }
        guard config.minFrequency >= 0 else {
            throw StrataError.config(op, "min frequency \(config.minFrequency) is negative", fix: "use 0 or more")
        }
    }

    /// Pre-token → count over all texts, counted per core and then combined.
    static func countPieces(_ texts: [String], pattern: PreTokenizerPattern, addPrefixSpace: Bool) -> ByteKeyTable {
        let ranges = ByteBalancedChunks.ranges(texts, parts: Parallel.workers)
        guard !ranges.isEmpty else { return ByteKeyTable() }
        var partial = [ByteKeyTable?](repeating: nil, count: ranges.count)
        let pre = PreTokenizer(pattern)
        partial.withUnsafeMutableBufferPointer { pb in
            let box = UnsafeSendableBox(pb.baseAddress!)
            Parallel.rows(ranges.count, minPerChunk: 1) { c0, c1 in
                for c in c0..<c1 {
                    var table = ByteKeyTable(capacity: 4096)
                    for i in ranges[c] { count(texts[i], pre: pre, addPrefixSpace: addPrefixSpace, into: &table) }
                    box.value[c] = table
                }
            }
        }
        var total = partial[0]!
        for c in 1..<ranges.count {
            let t = partial[c]!
            for e in 0..<t.count {
                t.withKey(e) { p, n in
                    let (entry, inserted) = total.findOrInsert(p, n, value: t.values[e])
                    if !inserted { total.values[entry] += t.values[e] }
                }
            }
        }
        return total
    }

    private static func count(_ text: String, pre: PreTokenizer, addPrefixSpace: Bool, into table: inout ByteKeyTable) {
        var t = text
        if addPrefixSpace && !t.isEmpty && !t.hasPrefix(" ") { t = " " + t }
        t.withUTF8 { buf in
            guard let base = buf.baseAddress else { return }
            CharClass.bmp.withUnsafeBufferPointer { tb in
                let classes = tb.baseAddress!
                var i = 0
                while i < buf.count {
                    let e = pre.next(base, i, buf.count, classes)
                    let (entry, inserted) = table.findOrInsert(base + i, e - i, value: 1)
                    if !inserted { table.values[entry] += 1 }
                    i = e
                }
            }
        }
    }
}

extension BPETokenizer {
    /// Trains a byte-level BPE tokenizer on `texts` (see BPETrainer.Config).
    public static func train(texts: [String], config: BPETrainer.Config) throws -> BPETokenizer {
        try BPETrainer.train(texts: texts, config: config).0
    }
}
