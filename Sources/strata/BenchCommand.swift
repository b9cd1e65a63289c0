// `strata bench`: the training-step benchmark (default) and the tokenizer benchmark.
import ArgumentParser
import Foundation
import StrataModel

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks (run from a release build: swift build -c release).",
        subcommands: [BenchTrain.self, BenchTokenizer.self], defaultSubcommand: BenchTrain.self)
}

struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train",
        abstract: "Time full training steps of the nano GPT-2 (6L, 6H, d=384, T=256, V=8192, B=8, fp32, AdamW).")

    @Option(help: "Timed steps.") var steps = 10
    @Option(help: "Warm-up steps (not timed).") var warmup = 2
    @Option(help: "Batch size.") var batch = 8
    @Option(help: "Context length.") var context = 256
    @Option(help: "Layers.") var layers = 6
    @Option(help: "Embedding width.") var embd = 384
    @Option(help: "Heads.") var heads = 6
    @Option(help: "Vocabulary size.") var vocab = 8192
    @Flag(help: "Print the result as JSON.") var json = false
    @Flag(help: "Also print where the time goes, op by op.") var profile = false

    func run() throws {
        var cfg = TrainStepBenchmark.Config()
        cfg.steps = steps; cfg.warmupSteps = warmup; cfg.profile = profile; cfg.batch = batch; cfg.context = context
        cfg.model = .init(vocabSize: vocab, nPositions: context, nEmbd: embd, nLayer: layers, nHead: heads)
        let r = TrainStepBenchmark.run(cfg, log: json ? { _ in } : { print($0) })
        if json {
            let data = try JSONEncoder().encode(r)
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print(String(format: """
            model: %d layers, %d heads, d=%d, T=%d, V=%d, batch %d (%.2fM parameters)
            tokens/s: %.0f   ms/step: %.1f
            time in matmul: %.0f%%, everything else: %.0f%%
            peak RSS: %.0f MiB
            achieved %.0f GFLOP/s of %.0f measured peak: MFU %.0f%%
            """, layers, heads, embd, context, vocab, batch, Double(cfg.model.parameterCount) / 1e6,
            r.tokensPerSecond, r.msPerStep, r.matmulShare * 100, (1 - r.matmulShare) * 100, r.peakRSSMiB,
            r.achievedGFLOPS, r.peakGFLOPS, r.mfu * 100))
        if profile {
            print("time per step by op (ms):")
            for (k, v) in r.breakdownMs.sorted(by: { $0.value > $1.value }) { print(String(format: "  %8.1f  %@", v, k)) }
        }
    }
}
