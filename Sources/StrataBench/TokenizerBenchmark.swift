// The tokenizer benchmark behind `strata bench tokenizer`: train on a text (a file
// or the generated English-like text), then encode it on all cores and on one,
// timing each with a monotonic clock. MB means 10^6 bytes of UTF-8 input.
// Leaves out: comparison with other libraries (tools/bench/tokenizer_bench.py).

import Foundation
import StrataCore
import StrataTokenizer

public enum TokenizerBenchmark {
    public struct Config: Sendable {
        /// Text (one document per line) or JSONL file; nil: generated English-like text.
        public var file: URL? = nil
        /// Size of the generated text in MB (default 10).
        public var sizeMB: Double = 10
        /// Vocab size to train (default 8192).
        public var vocabSize = 8192
        public var pattern: PreTokenizerPattern = .gpt2
        /// Seed of the generated text (default 20240501).
        public var seed: UInt64 = 20_240_501
        /// Encoding runs; the fastest is reported (default 3).
        public var repeats = 3
        /// Where to write the trained tokenizer.json (default: nowhere).
        public var tokenizerOutput: URL? = nil
        /// Where to write the benchmark text, one document per line (default: nowhere).
        public var textOutput: URL? = nil
        public init() {}
    }

    public struct Result: Sendable {
        public var bytes = 0
        public var documents = 0
        public var trainSeconds = 0.0
        public var train = BPETrainer.Report()
        public var encodeSeconds = 0.0
        public var encodeSerialSeconds = 0.0
        /// Pre-tokenisation alone on one core (the scanner's share of encoding).
        public var scanSerialSeconds = 0.0
        public var tokens = 0
        public var vocabSize = 0
        public var workers = Parallel.workers
        public var tokenizerHash = ""

        public func mbPerSecond(_ seconds: Double) -> Double { Double(bytes) / 1e6 / max(seconds, 1e-9) }
    }

    public static func run(_ config: Config) throws -> Result {
        let docs: [String]
        if let f = config.file {
            docs = try TextSource.read([f]).texts
        } else {
            docs = EnglishLikeText.generate(bytes: Int(config.sizeMB * 1e6), seed: config.seed)
        }
        if let out = config.textOutput {
            do { try Data((docs.joined(separator: "\n") + "\n").utf8).write(to: out) } catch {
                throw StrataError.io("write \(out.path)", "\(error.localizedDescription)")
            }
        }
        var r = Result()
        r.documents = docs.count
        r.bytes = docs.reduce(0) { $0 + $1.utf8.count }
        var t = now()
        let (tok, report) = try BPETrainer.train(texts: docs, config: BPETrainer.Config(vocabSize: config.vocabSize, pattern: config.pattern))
        r.trainSeconds = now() - t
        r.train = report
        r.vocabSize = tok.vocabSize
        r.tokenizerHash = tok.tokenizerHash
        if let out = config.tokenizerOutput { try tok.write(to: out) }
        r.encodeSeconds = .infinity
        r.encodeSerialSeconds = .infinity
        r.scanSerialSeconds = .infinity
        for _ in 0..<max(1, config.repeats) {
            t = now()
            let ids = tok.encodeBatch(docs)
            r.encodeSeconds = min(r.encodeSeconds, now() - t)
            r.tokens = ids.reduce(0) { $0 + $1.count }
            t = now()
            _ = tok.encodeBatch(docs, parallel: false)
            r.encodeSerialSeconds = min(r.encodeSerialSeconds, now() - t)
            t = now()
            let pieces = countPieces(docs, PreTokenizer(config.pattern))
            r.scanSerialSeconds = min(r.scanSerialSeconds, now() - t)
            precondition(pieces >= r.train.pieces)
        }
        return r
    }

    static func countPieces(_ docs: [String], _ pre: PreTokenizer) -> Int {
        var n = 0
        for d in docs {
            var t = d
            t.withUTF8 { b in
                guard let base = b.baseAddress else { return }
                pre.forEachPiece(base, b.count) { _, _ in n += 1 }
            }
        }
        return n
    }

    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}
