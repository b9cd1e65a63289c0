// `strata tokenizer`: train, encode, decode, inspect and extend byte-level BPE
// tokenizers. Thin: options map onto BPETrainer.Config and TextSource.Config.
// Leaves out: streaming very large corpora (files are read whole).

import ArgumentParser
import Foundation
import StrataCore
import StrataTokenizer

extension PreTokenizerPattern: ExpressibleByArgument {}
extension TextSource.Format: ExpressibleByArgument {}

struct TokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer",
        abstract: "Train and use byte-level BPE tokenizers (Hugging Face tokenizer.json).",
        subcommands: [Train.self, Encode.self, Decode.self, Info.self, AddSpecial.self, Bench.self])
}

/// Input options shared by train and encode.
struct TokenizerInputOptions: ParsableArguments {
    @Option(help: "Input format: auto (JSONL for .jsonl/.ndjson), text (one document per line) or jsonl.")
    var format: TextSource.Format = .auto
    @Option(help: "JSONL field holding the text.")
    var field: String = "text"
    @Flag(name: .customLong("skip-bad-lines"), help: "Skip JSONL lines that are not JSON or lack the field, and count them.")
    var skipBadLines = false

    var config: TextSource.Config { TextSource.Config(format: format, field: field, skipBadLines: skipBadLines) }
}

func writeLines(_ lines: [String], to path: String?) throws {
    var text = lines.joined(separator: "\n")
    if !lines.isEmpty { text += "\n" }
    if let path {
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) } catch {
            throw StrataError.io("write \(path)", "\(error.localizedDescription)", fix: "check the directory exists")
        }
    } else {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

func note(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }

extension TokenizerCommand {
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Train a byte-level BPE tokenizer on text or JSONL files.")
        @Option(name: .customLong("vocab-size"), help: "Total ids, special tokens included.")
        var vocabSize = 8192
        @Option(name: .customLong("special-token"), help: "A special token (repeatable; default <|endoftext|>).")
        var specialTokens: [String] = []
        @Option(help: "Pre-tokenisation: gpt2, cl100k or none.")
        var pattern: PreTokenizerPattern = .gpt2
        @Option(name: .customLong("min-frequency"), help: "Never merge pairs seen fewer times.")
        var minFrequency = 0
        @Flag(name: .customLong("add-prefix-space"), help: "Prepend a space to each document.")
        var addPrefixSpace = false
        @OptionGroup var input: TokenizerInputOptions
        @Option(name: .shortAndLong, help: "Where to write tokenizer.json.")
        var output: String
        @Argument(help: "Text or JSONL files.")
        var files: [String]

        func run() throws {
            let docs = try TextSource.read(files.map { URL(fileURLWithPath: $0) }, config: input.config)
            let config = BPETrainer.Config(vocabSize: vocabSize, specialTokens: specialTokens.isEmpty ? ["<|endoftext|>"] : specialTokens,
                                           pattern: pattern, minFrequency: minFrequency, addPrefixSpace: addPrefixSpace)
            let (tok, report) = try BPETrainer.train(texts: docs.texts, config: config)
            try tok.write(to: URL(fileURLWithPath: output))
            note("trained on \(docs.texts.count) documents (\(docs.bytes) bytes, \(docs.skippedLines) bad lines skipped): "
                 + "\(report.uniquePieces) unique of \(report.pieces) pieces, \(report.merges) merges, vocab \(tok.vocabSize), "
                 + String(format: "%.2f s", report.countSeconds + report.mergeSeconds))
            note("wrote \(output) (hash \(tok.tokenizerHash))")
        }
    }

    struct Encode: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print token ids: one JSON array per line of text or per JSONL document.")
        @Option(help: "tokenizer.json to use.")
        var tokenizer: String
        @Flag(name: .customLong("allow-special"), help: "Turn special-token text (e.g. <|endoftext|>) into its special id.")
        var allowSpecial = false
        @OptionGroup var input: TokenizerInputOptions
        @Option(name: .shortAndLong, help: "Write here instead of standard output.")
        var output: String?
        @Argument(help: "Text or JSONL file.")
        var file: String

        func run() throws {
            let tok = try BPETokenizer(contentsOf: URL(fileURLWithPath: tokenizer))
            let docs = try TextSource.read([URL(fileURLWithPath: file)], config: input.config)
            let ids = tok.encodeBatch(docs.texts, allowSpecial: allowSpecial)
            try writeLines(ids.map(TokenIDLines.format), to: output)
            if docs.skippedLines > 0 { note("skipped \(docs.skippedLines) bad lines") }
        }
    }

    struct Decode: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Turn lines of JSON id arrays back into text.")
        @Option(help: "tokenizer.json to use.")
        var tokenizer: String
        @Flag(help: "Write JSONL ({\"text\": ...}) instead of one text per line.")
        var jsonl = false
        @Flag(name: .customLong("skip-special"), help: "Leave special tokens out of the text.")
        var skipSpecial = false
        @Option(name: .shortAndLong, help: "Write here instead of standard output.")
        var output: String?
        @Argument(help: "File of id arrays, as `encode` prints them.")
        var file: String

        func run() throws {
            let tok = try BPETokenizer(contentsOf: URL(fileURLWithPath: tokenizer))
            guard let data = FileManager.default.contents(atPath: file) else {
                throw StrataError.io("read \(file)", "file does not exist or cannot be read")
            }
            var lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            if lines.last == "" { lines.removeLast() }
            let out = try lines.enumerated().map { i, line -> String in
                let ids = try TokenIDLines.parse(line, file: file, line: i + 1)
                if let bad = tok.firstInvalidID(ids) {
                    throw StrataError.data("read \(file):\(i + 1)", "id \(bad) is outside the vocab (0..<\(tok.vocabSize))",
                                           fix: "decode with the tokenizer that encoded the ids")
                }
                let text = tok.decode(ids, skipSpecial: skipSpecial)
                return jsonl ? "{\"text\":\"\(JSONText.escape(text))\"}" : text
            }
            try writeLines(out, to: output)
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Describe a tokenizer.json.")
        @Argument(help: "tokenizer.json")
        var tokenizer: String

        func run() throws {
            let tok = try BPETokenizer(contentsOf: URL(fileURLWithPath: tokenizer))
            print("vocab size: \(tok.vocabSize) (\(tok.vocab.count) BPE + \(tok.vocabSize - tok.vocab.count) added)")
            print("merges: \(tok.merges.count)")
            print("pattern: \(tok.options.pattern.rawValue), add_prefix_space: \(tok.options.addPrefixSpace)")
            print("eos id: \(tok.eosID.map(String.init) ?? "none")")
            for a in tok.addedTokens { print("added \(a.id): \(a.content)\(a.special ? " (special)" : "")") }
            print("hash: \(tok.tokenizerHash)")
        }
    }

    struct AddSpecial: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-special",
                                                        abstract: "Add special tokens to a tokenizer.json and print their ids.")
        @Option(help: "tokenizer.json to extend.")
        var tokenizer: String
        @Option(name: .customLong("special-token"), help: "Token to add (repeatable).")
        var specialTokens: [String]
        @Option(name: .shortAndLong, help: "Where to write the extended tokenizer.json.")
        var output: String

        func run() throws {
            let tok = try BPETokenizer(contentsOf: URL(fileURLWithPath: tokenizer))
            let (grown, ids) = try tok.addingSpecialTokens(specialTokens)
            try grown.write(to: URL(fileURLWithPath: output))
            for (t, id) in zip(specialTokens, ids) { print("\(id)\t\(t)") }
        }
    }

    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Same as `strata bench tokenizer`.")
        @OptionGroup var options: BenchTokenizerOptions
        func run() throws { try options.run() }
    }
}
