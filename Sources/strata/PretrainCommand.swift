// `strata pretrain` and `strata generate`: thin commands over RunOptions and CausalLM.generate.
import ArgumentParser
import Foundation
import StrataCore
import StrataModel
import StrataTrain
import StrataTokenizer

struct PretrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pretrain",
        abstract: "Pretrain a model (model.family: gpt2 or llama) from random weights as a YAML recipe describes, or resume a run.")

    @OptionGroup var options: StageArguments

    func run() throws {
        if options.from != nil {
            throw ValidationError("pretrain starts from random weights; to start from a checkpoint use strata continue --from CHECKPOINT")
        }
        try options.launch(Pretrain.run)
    }
}

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate", abstract: "Sample text from a checkpoint.")

    @Option(help: "A checkpoint directory, or a run directory (its latest valid checkpoint).") var checkpoint: String
    @Option(help: "The prompt text.") var prompt: String
    @Option(help: "Tokens to generate at most.") var maxNewTokens = 64
    @Option(help: "Sampling temperature (0 = greedy).") var temperature: Float = 0.8
    @Option(help: "Top-k filter (0 = off).") var topK = 0
    @Option(help: "Top-p (nucleus) filter (1 = off).") var topP: Float = 0.95
    @Option(help: "Number of samples.") var samples = 1
    @Option(help: "Random seed.") var seed: UInt64 = 0

    func run() throws {
        guard samples >= 1 else { throw ValidationError("--samples is \(samples); it must be at least 1") }
        let ckpt = try TrainingCheckpoint.resolve(checkpoint)
        let loaded = try TrainingCheckpoint.load(ckpt)
        try loaded.model.requireDecoder(for: "strata generate", source: "checkpoint \(ckpt.url.path)")
        let stop = loaded.tokenizer.eosID.map { [Int32($0)] } ?? []
        let sampling = SamplingConfig(maxNewTokens: maxNewTokens, temperature: temperature, topK: topK, topP: topP, stopTokens: stop, seed: seed)
        try sampling.validate(op: "generate")
        let ids = loaded.tokenizer.encode(prompt).map(Int32.init)
        try loaded.model.checkPrompt(ids, label: "--prompt")
        let chunk = 32  // samples generated together (one KV-cache row each)
        try MemoryBudget.check(loaded.model.generationBytes(rows: min(samples, chunk)), for: "generating \(min(samples, chunk)) samples at once",
                               op: "generate", fix: "use a smaller model")
        loaded.model.sample(ids, count: samples, sampling: sampling, chunk: chunk) { i, o in
            if samples > 1 { print("--- sample \(i + 1)") }
            print(prompt + loaded.tokenizer.decode(o.tokens.map(Int.init)))
            if o.finish == .contextFull {
                FileHandle.standardError.write(Data("note: sample \(i + 1) stopped at the model's context of \(loaded.model.contextLength) tokens\n".utf8))
            }
        }
    }
}
