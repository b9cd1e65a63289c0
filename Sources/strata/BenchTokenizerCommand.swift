// `strata bench tokenizer`: MB/s of tokenizer training and encoding on a text file
// or on generated English-like text. The lead hangs `BenchTokenizer` under
// `strata bench`; `strata tokenizer bench` runs the same options.
// Leaves out: other libraries (tools/bench/tokenizer_bench.py times those).

import ArgumentParser
import Foundation
import StrataBench
import StrataTokenizer

struct BenchTokenizerOptions: ParsableArguments {
    @Option(help: "Text file (one document per line) or JSONL; default: generated English-like text.")
    var file: String?
    @Option(name: .customLong("size-mb"), help: "Size of the generated text in MB (10^6 bytes).")
    var sizeMB: Double = 10
    @Option(name: .customLong("vocab-size"), help: "Vocab size to train.")
    var vocabSize = 8192
    @Option(help: "Pre-tokenisation: gpt2, cl100k or none.")
    var pattern: PreTokenizerPattern = .gpt2
    @Option(help: "Encoding runs (the fastest is reported).")
    var repeats = 3
    @Option(name: .customLong("save-tokenizer"), help: "Write the trained tokenizer.json here.")
    var saveTokenizer: String?
    @Option(name: .customLong("save-text"), help: "Write the benchmark text here (one document per line).")
    var saveText: String?
    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    func run() throws {
        var c = TokenizerBenchmark.Config()
        c.file = file.map { URL(fileURLWithPath: $0) }
        c.sizeMB = sizeMB
        c.vocabSize = vocabSize
        c.pattern = pattern
        c.repeats = repeats
        c.tokenizerOutput = saveTokenizer.map { URL(fileURLWithPath: $0) }
        c.textOutput = saveText.map { URL(fileURLWithPath: $0) }
        let r = try TokenizerBenchmark.run(c)
        if json {
            print("{\"bytes\":\(r.bytes),\"documents\":\(r.documents),\"train_s\":\(r.trainSeconds),\"count_s\":\(r.train.countSeconds),"
                  + "\"merge_s\":\(r.train.mergeSeconds),\"merges\":\(r.train.merges),\"encode_s\":\(r.encodeSeconds),"
                  + "\"encode_1core_s\":\(r.encodeSerialSeconds),\"scan_1core_s\":\(r.scanSerialSeconds),\"tokens\":\(r.tokens),\"workers\":\(r.workers),\"vocab_size\":\(r.vocabSize)}")
            return
        }
        let source = file ?? "generated English-like text"
        print(String(format: "tokenizer bench: %.2f MB, %d documents (%@), vocab %d, pattern %@, %d cores",
                     Double(r.bytes) / 1e6, r.documents, source, r.vocabSize, pattern.rawValue, r.workers))
        print(String(format: "train:  %.3f s (%.2f MB/s): count %.3f s, merges %.3f s; %d pieces, %d unique, %d merges",
                     r.trainSeconds, r.mbPerSecond(r.trainSeconds), r.train.countSeconds, r.train.mergeSeconds,
                     r.train.pieces, r.train.uniquePieces, r.train.merges))
        print(String(format: "encode: %.3f s (%.2f MB/s) on %d cores; %.3f s (%.2f MB/s) on 1 core; %d tokens (%.2f bytes/token)",
                     r.encodeSeconds, r.mbPerSecond(r.encodeSeconds), r.workers, r.encodeSerialSeconds,
                     r.mbPerSecond(r.encodeSerialSeconds), r.tokens, Double(r.bytes) / Double(max(1, r.tokens))))
        print(String(format: "pre-tokenise only: %.3f s (%.2f MB/s) on 1 core", r.scanSerialSeconds, r.mbPerSecond(r.scanSerialSeconds)))
    }
}

struct BenchTokenizer: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tokenizer", abstract: "Time tokenizer training and encoding (MB/s).")
    @OptionGroup var options: BenchTokenizerOptions
    func run() throws { try options.run() }
}
