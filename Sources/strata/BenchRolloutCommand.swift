// `strata bench rollout`: rollout-engine generation tokens/s (batched sampling
// with the KV cache) and the batched log-prob pass, on a random GPT-2. Thin:
// the work is StrataRL's RolloutBenchmark. tools/bench/rollout_bench.py runs it
// with --save-model and times transformers' generate on the same model.
// Leaves out: the PPO step split (the PPO stage reports that).

import ArgumentParser
import Foundation
import StrataBench
import StrataCore
import StrataRL

struct BenchRollout: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rollout",
        abstract: "Time batched sampling with the KV cache (rollout generation) and the batched log-prob pass on a random GPT-2.")

    @Option(help: "Layers.") var layers = 6
    @Option(help: "Heads.") var heads = 6
    @Option(help: "Embedding width.") var embd = 384
    @Option(help: "Vocabulary size.") var vocab = 8192
    @Option(help: "n_positions.") var positions = 256
    @Option(help: "Rows (prompts) sampled together.") var batch = 16
    @Option(help: "Prompt tokens per row.") var promptTokens = 32
    @Option(help: "New tokens per row (no stop tokens: every row generates all of them).") var newTokens = 64
    @Option(help: "Sampling temperature.") var temperature: Float = 1
    @Option(help: "Timed repeats after one warm-up (the fastest is reported).") var repeats = 3
    @Option(help: "Write model.safetensors, config.json and prompts.json here (for the transformers comparison).") var saveModel: String?
    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        var c = RolloutBenchmark.Config()
        c.layers = layers; c.heads = heads; c.embd = embd; c.vocab = vocab; c.positions = positions
        c.batch = batch; c.promptTokens = promptTokens; c.newTokens = newTokens; c.temperature = temperature; c.repeats = repeats
        let r = try RolloutBenchmark.run(c, saveTo: saveModel.map { URL(fileURLWithPath: $0) })
        if json { print(String(decoding: try StrataJSON.encode(r, pretty: false), as: UTF8.self)); return }
        print(String(format: """
            model: %d layers, %d heads, d=%d, V=%d (%.2fM parameters); batch %d, prompt %d + %d new tokens
            generate: %.0f tokens/s (%.3f s)
            log-prob pass: %.0f tokens/s (%.3f s)
            """, layers, heads, embd, vocab, Double(r.parameters) / 1e6, batch, promptTokens, newTokens,
            r.generateTokensPerSecond, r.generateSeconds, r.logProbTokensPerSecond, r.logProbSeconds))
    }
}
