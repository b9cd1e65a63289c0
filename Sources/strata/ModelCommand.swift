// `strata model`: create a randomly initialised GPT-2 or Llama checkpoint, and dump logits for
// given token ids (what tools/fixtures/gpt2_parity.py --check-strata compares with transformers;
// tools/fixtures/llama_fixture.py --check-strata loads a Strata-written Llama in transformers).
// Logits go to --out (default ./strata_logits.safetensors), never into the checkpoint directory.
// Leaves out: batches of several sequences.
import ArgumentParser
import Foundation
import StrataCheckpoint
import StrataModel
import StrataTensor
import StrataTrain

struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "model", abstract: "Create and inspect GPT-2, Llama and RoBERTa checkpoints.",
                                                    subcommands: [ModelInit.self, ModelLogits.self])
}

struct ModelInit: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "init", abstract: "Write a randomly initialised GPT-2, Llama or RoBERTa encoder (model.safetensors + config.json).")
    @Option(help: "Model family: gpt2, llama or roberta (masked-LM encoder; context = tokens per row).") var family: ModelFamily = .gpt2
    @Option(help: "Layers.") var layers = 2
    @Option(help: "Heads.") var heads = 4
    @Option(help: "Embedding width.") var embd = 64
    @Option(help: "Context length (n_positions).") var context = 64
    @Option(help: "Vocabulary size.") var vocab = 256
    @Option(help: "Llama: key/value heads (grouped-query attention; default: --heads).") var kvHeads: Int?
    @Option(help: "MLP width (default 4·embd for gpt2, 8·embd/3 rounded up to 256 for llama).") var inner: Int?
    @Option(help: "Seed.") var seed: UInt64 = 0
    @Option(help: "Output directory.") var out: String

    func run() throws {
        let model: any CausalLM
        switch family {
        case .gpt2:
            if kvHeads != nil { throw ValidationError("--kv-heads applies to --family llama only") }
            var cfg = GPT2Config(vocabSize: vocab, nPositions: context, nEmbd: embd, nLayer: layers, nHead: heads)
            cfg.nInner = inner
            try cfg.validate(source: "options")  // includes the memory the weights need (refused before allocating)
            model = GPT2(cfg, seed: seed)
        case .llama:
            var m = StrataTrain.ModelConfig()
            (m.family, m.nLayer, m.nHead, m.nKVHead, m.nEmbd, m.nPositions, m.nInner) = (.llama, layers, heads, kvHeads, embd, context, inner)
            let cfg = m.llamaConfig(vocab: vocab, bos: nil, eos: nil)
            try cfg.validate(source: "options")
            model = Llama(cfg, seed: seed)
        case .roberta:   // the masked-LM encoder: pad id 1, so positions 2 … context + 1 (max_position_embeddings = context + 2)
            if kvHeads != nil { throw ValidationError("--kv-heads applies to --family llama only") }
            let cfg = RobertaConfig(vocabSize: vocab, hiddenSize: embd, layers: layers, heads: heads, intermediateSize: inner ?? 4 * embd,
                                    maxPositions: context + 2)
            try cfg.validate(source: "options")
            model = Roberta(cfg, seed: seed)
        }
        try model.save(directory: URL(fileURLWithPath: out))
        print("wrote \(out) (\(model.parameterCount) parameters)")
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
        let model = try loadCausalLM(directory: dir)
        let tokens = try Self.parseIDs(ids, vocabSize: model.vocabSize, context: model.contextLength)
        let tape = Tape.noGrad()
        let logits = model.logits(model.hidden(tokens, batch: 1, time: tokens.count, tape: tape), tape: tape)
        try SafeTensors.write([NamedTensor(name: "logits", shape: [tokens.count, model.vocabSize], values: logits.toArray()),
                               NamedTensor(name: "input_ids", shape: [tokens.count], values: tokens.map(Float.init)),
                               NamedTensor(name: "shape", shape: [2], values: [1, Float(tokens.count)])],
                              to: URL(fileURLWithPath: out))
        print("wrote \(out)")
    }

    /// `--ids "1,2,3"`: at least one id, each below vocab_size, at most n_positions of them.
    static func parseIDs(_ text: String, vocabSize: Int, context: Int) throws -> [Int32] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.contains(where: { !$0.isEmpty }) else {
            throw ValidationError("--ids is '\(text)'; give at least one token id, e.g. --ids 15496,11,995")
        }
        let tokens = try parts.enumerated().map { i, s -> Int32 in
            guard let v = Int32(s), v >= 0, Int(v) < vocabSize else {
                throw ValidationError("--ids: item \(i + 1) '\(s)' is not a token id below vocab_size \(vocabSize)")
            }
            return v
        }
        guard tokens.count <= context else {
            throw ValidationError("--ids has \(tokens.count) ids but the model's context (n_positions) is \(context); pass at most that many")
        }
        return tokens
    }
}

extension ModelFamily: ExpressibleByArgument {}
