// `strata model`: create a randomly initialised GPT-2 checkpoint, and dump logits for
// given token ids (what tools/fixtures/gpt2_parity.py --check-strata compares with transformers).
// Logits go to --out (default ./strata_logits.safetensors), never into the checkpoint directory.
// Leaves out: batches of several sequences.
import ArgumentParser
import Foundation
import StrataCheckpoint
import StrataModel
import StrataTensor

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "model", abstract: "Create and inspect GPT-2 checkpoints.",
                                                    subcommands: [ModelInit.self, ModelLogits.self])
}

struct ModelInit: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Write a randomly initialised GPT-2 (model.safetensors + config.json).")
    @Option(help: "Layers.") var layers = 2
    @Option(help: "Heads.") var heads = 4
    @Option(help: "Embedding width.") var embd = 64
    @Option(help: "Context length (n_positions).") var context = 64
    @Option(help: "Vocabulary size.") var vocab = 256
    @Option(help: "Seed.") var seed: UInt64 = 0
    @Option(help: "Output directory.") var out: String

    func run() throws {
        let cfg = GPT2Config(vocabSize: vocab, nPositions: context, nEmbd: embd, nLayer: layers, nHead: heads)
        try cfg.validate(source: "options")  // includes the memory the weights need (refused before allocating)
        try GPT2(cfg, seed: seed).save(directory: URL(fileURLWithPath: out))
        print("wrote \(out) (\(cfg.parameterCount) parameters)")
    }
}

struct ModelLogits: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "logits", abstract: "Write logits for token ids to a safetensors file (default ./strata_logits.safetensors).")
    @Option(help: "Checkpoint directory (config.json + model.safetensors).") var checkpoint: String
    @Option(help: "Comma-separated token ids (one sequence).") var ids: String
    @Option(help: "Output file (default: strata_logits.safetensors in the current directory; the checkpoint is left untouched).")
    var out = "strata_logits.safetensors"

    func run() throws {
        let dir = URL(fileURLWithPath: checkpoint)
        let model = try GPT2.load(directory: dir)
        let tokens = try Self.parseIDs(ids, config: model.config)
        let tape = Tape.noGrad()
        let logits = model.logits(model.hidden(tokens, batch: 1, time: tokens.count, tape: tape), tape: tape)
        try SafeTensors.write([NamedTensor(name: "logits", shape: [tokens.count, model.vocabSize], values: logits.toArray()),
                               NamedTensor(name: "input_ids", shape: [tokens.count], values: tokens.map(Float.init)),
                               NamedTensor(name: "shape", shape: [2], values: [1, Float(tokens.count)])],
                              to: URL(fileURLWithPath: out))
        print("wrote \(out)")
    }

    /// `--ids "1,2,3"`: at least one id, each below vocab_size, at most n_positions of them.
    static func parseIDs(_ text: String, config: GPT2Config) throws -> [Int32] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.contains(where: { !$0.isEmpty }) else {
            throw ValidationError("--ids is '\(text)'; give at least one token id, e.g. --ids 15496,11,995")
        }
        let tokens = try parts.enumerated().map { i, s -> Int32 in
            guard let v = Int32(s), v >= 0, Int(v) < config.vocabSize else {
                throw ValidationError("--ids: item \(i + 1) '\(s)' is not a token id below vocab_size \(config.vocabSize)")
            }
            return v
        }
        guard tokens.count <= config.nPositions else {
            throw ValidationError("--ids has \(tokens.count) ids but the model's context (n_positions) is \(config.nPositions); pass at most that many")
        }
        return tokens
    }
}
