// `strata data`: build the synthetic corpus (synth: the world's files plus the SFT
// conversations the demo and recipes/sft-world.yaml train on), turn text/JSONL into
// token shards (prepare) and look inside a shard (inspect). Thin: options map onto
// the library's config structs. Leaves out: loading logic (StrataData).

import ArgumentParser
import Foundation
import StrataCore
import StrataData
import StrataRL
import StrataTokenizer
import StrataTrain

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Prepare training data: synthetic corpora, token shards.",
        subcommands: [Synth.self, Prepare.self, Inspect.self])

    struct Synth: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the built-in synthetic world: corpora, probes, QA pairs, preference pairs, SFT conversations, RL prompt files, judge training data and world.json.")

        @Option(help: "Random seed; the same seed gives the same bytes.") var seed: UInt64 = 0
        @Option(help: "Approximate total size of the corpora, e.g. 2MB or 500KB.") var size: String = "3MB"
        @Option(help: "Facts dated after this year go to the after-cutoff corpus only.") var cutoff: Int = 2020
        @Option(help: "Fewest renderings of each fact.") var minRenderings: Int = 6
        @Option(help: "Most renderings of each fact.") var maxRenderings: Int = 14
        @Option(help: "SFT conversations per task kind in sft_before_cutoff.jsonl (fact questions: before-cutoff facts only).")
        var sftPerKind: Int = WorldChatData.defaultPerKind
        @Option(help: "Chance that a person joins another organisation, and that they move city, before the cutoff.")
        var earlierMoveChance = 0.2
        @Option(help: "Chance that a person wins a prize before the cutoff.") var earlierAwardChance = 0.3
        @Option(help: "Chance that a person with an earlier join (move) has a second one before the cutoff, years apart.")
        var secondMoveChance = 0.0
        @Option(help: "People per organisation founded before the cutoff (fewer: more organisations).")
        var personsPerOrganisation = SyntheticWorld.Config().personsPerOrganisation
        @Option(help: "Output directory.") var out: String
        @Option(help: "Instruction tasks per kind in prompts_train.jsonl (RL prompts from the QA train split).") var promptsTrainPerKind = 200
        @Option(help: "Instruction tasks per kind in prompts_test.jsonl (the held-out instruction evaluation set).") var promptsTestPerKind = 40
        @Option(help: "Addition and list-reversal tasks each in prompts_generated.jsonl (GRPO's verifiable-reward prompts).")
        var promptsGenerated = 2_000

        func run() throws {
            var config = SyntheticWorld.Config(seed: seed, size: try ByteSize.parse(size))
            config.cutoffYear = cutoff
            config.minRenderings = minRenderings
            config.maxRenderings = maxRenderings
            config.earlierMoveChance = earlierMoveChance
            config.earlierAwardChance = earlierAwardChance
            config.secondMoveChance = secondMoveChance
            config.personsPerOrganisation = personsPerOrganisation
            let start = Date()
            let output = try SyntheticWorld.generate(config)
            var files = try output.write(to: URL(fileURLWithPath: out))
            files.append(try WorldChatData.write(qa: output.qa, seed: seed, perKind: sftPerKind, to: URL(fileURLWithPath: out)))
            let prompts = InstructionPrompts.Config(trainPerKind: promptsTrainPerKind, trainSeed: seed, testPerKind: promptsTestPerKind,
                                                    generatedPerKind: promptsGenerated)
            for f in try InstructionPrompts.write(qa: output.qa, to: URL(fileURLWithPath: out), config: prompts) {
                let size = (try? FileManager.default.attributesOfItem(atPath: URL(fileURLWithPath: out).appendingPathComponent(f.file).path)[.size]) as? Int
                files.append((f.file, size ?? 0))
            }
            let judge = try WorldJudgeData.write(qa: output.qa, seed: seed, to: URL(fileURLWithPath: out))
            for name in [judge.file, WorldJudgeData.testFileName, WorldJudgeData.templateFileName] {
                let size = (try? FileManager.default.attributesOfItem(atPath: URL(fileURLWithPath: out).appendingPathComponent(name).path)[.size]) as? Int
                files.append((name, size ?? 0))
            }
            for f in files { print(String(format: "%@  %10d bytes", f.file.padding(toLength: 24, withPad: " ", startingAt: 0), f.bytes)) }
            let w = output.world
            let after = w.facts.filter { $0.period == "after" }.count
            print("\(w.entities.count) entities, \(w.facts.count) facts (\(after) after \(cutoff)), "
                  + "\(output.probes.count) probes, \(output.qa.count) QA pairs; "
                  + String(format: "%.2f s", Date().timeIntervalSince(start)))
        }
    }

    struct Prepare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Tokenize text/JSONL files into train/validation token shards with JSON sidecars.")

        @Argument(help: "Input files or directories (.txt, .md, .jsonl, .ndjson).") var inputs: [String]
        @Option(help: "tokenizer.json, or 'bytes' for the byte-level encoder (vocabulary 257).") var tokenizer: String
        @Option(help: "Output directory.") var out: String
        @Option(help: "Output file prefix.") var name: String = "data"
        @Option(help: "JSONL field holding the text.") var field: String = "text"
        @Option(help: "Input format: auto, text or jsonl.") var format: String = "auto"
        @Option(help: "Text files: one document per file, paragraph or line.") var textSplit: String = "file"
        @Option(help: "Fraction of documents for validation.") var valFraction: Double = 0.05
        @Option(help: "Seed of the train/validation split.") var seed: UInt64 = 0
        @Option(help: "Token dtype: uint16 or uint32 (default: chosen from the vocabulary size).") var dtype: String?
        @Flag(help: "Skip JSONL lines that are not JSON or lack the field, and count them.") var skipBadLines = false

        func run() throws {
            var config = DataPrepare.Config(inputs: inputs, outputDirectory: out)
            config.name = name
            config.reader = DocumentReader.Options(format: try parseChoice(format, "--format"), textField: field,
                                                   textSplit: try parseChoice(textSplit, "--text-split"), skipBadLines: skipBadLines)
            config.valFraction = valFraction
            config.seed = seed
            config.dtype = try dtype.map { try parseChoice($0, "--dtype") }
            let start = Date()
            let report = try DataPrepare.run(config, encoder: try loadTokenEncoder(tokenizer))
            for split in [report.train] + (report.validation.map { [$0] } ?? []) {
                let s = split.sidecar
                print("\(split.shardURL.path): \(s.documentCount) documents, \(s.tokenCount) tokens (\(s.dtype.rawValue))")
            }
            print("skipped: \(report.emptyDocuments) empty documents, \(report.badLines) bad lines, \(report.emptyFiles) empty files; "
                  + String(format: "%.2f s", Date().timeIntervalSince(start)))
            for w in report.warnings { print("warning: \(w)") }
        }
    }

    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a shard's header, sidecar summary and first tokens.")

        @Argument(help: "A .bin shard.") var shard: String
        @Option(help: "How many leading tokens to print.") var tokens: Int = 16

        func run() throws {
            let s = try Shard(contentsOf: URL(fileURLWithPath: shard))
            print("\(shard): \(s.count) tokens, dtype \(s.dtype.rawValue), vocabulary \(s.vocabSize)")
            if let side = try? ShardSidecar.read(at: s.sidecarURL) {
                print("split \(side.split), \(side.documentCount) documents, tokenizer \(side.tokenizerHash.prefix(16)), "
                      + "\(side.sources.count) source files")
            }
            print(s.tokens(in: 0..<min(tokens, s.count)).map(String.init).joined(separator: " "))
        }
    }
}

private func parseChoice<T: RawRepresentable>(_ text: String, _ option: String) throws -> T where T.RawValue == String, T: CaseIterable {
    guard let v = T(rawValue: text) else {
        throw StrataError.config("parse \(option)", "'\(text)' is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return v
}

/// The tokenizer for `prepare`. "bytes" is built in; anything else is a tokenizer.json path.
private func loadTokenEncoder(_ path: String) throws -> any TokenEncoder {
    if path == "bytes" { return ByteTokenEncoder() }
    return TokenizerEncoder(try BPETokenizer(contentsOf: URL(fileURLWithPath: path)))
}

