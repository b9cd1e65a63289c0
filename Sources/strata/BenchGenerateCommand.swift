// `strata bench generate` and `strata bench kernels`, thin over StrataBench.
// generate (GenerateBenchmark): greedy and sampled generation tokens/s with the KV
// cache, and the prefill alone, on a random GPT-2; tools/bench/generate_bench.py
// runs it with --save-model and times transformers' generate on the same model.
// kernels (KernelBenchmark): attention and LM-head loss variants, round-robin.
// Leaves out: top-k/top-p sampling.

import ArgumentParser
import Foundation
import StrataBench
import StrataCore

struct BenchGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate",
        abstract: "Time greedy and sampled generation with the KV cache (and the prefill alone) on a random GPT-2.")

    @Option(help: "Layers.") var layers = 6
    @Option(help: "Heads.") var heads = 6
    @Option(help: "Embedding width.") var embd = 384
    @Option(help: "Vocabulary size.") var vocab = 8192
    @Option(help: "n_positions.") var positions = 256
    @Option(help: "Rows (prompts) generated together.") var batch = 16
    @Option(help: "Prompt tokens per row.") var promptTokens = 32
    @Option(help: "New tokens per row (no stop tokens: every row generates all of them).") var newTokens = 64
    @Option(help: "Timed repeats after one warm-up (the fastest is reported).") var repeats = 3
    @Option(help: "Write model.safetensors, config.json and prompts.json here (for the transformers comparison).") var saveModel: String?
    @Flag(help: "Decode through the per-row reference path (dot products per row and head) instead of batched products.") var perRowDecode = false
    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        var c = GenerateBenchmark.Config()
        c.perRowDecoding = perRowDecode
        c.layers = layers; c.heads = heads; c.embd = embd; c.vocab = vocab; c.positions = positions
        c.batch = batch; c.promptTokens = promptTokens; c.newTokens = newTokens; c.repeats = repeats
        let r = try GenerateBenchmark.run(c, saveTo: saveModel.map { URL(fileURLWithPath: $0) })
        if json { print(String(decoding: try StrataJSON.encode(r, pretty: false), as: UTF8.self)); return }
        print(String(format: """
            model: %d layers, %d heads, d=%d, V=%d (%.2fM parameters); batch %d, prompt %d + %d new tokens
            greedy: %.0f tokens/s   sampled: %.0f tokens/s   prefill: %.0f prompt tokens/s
            """, layers, heads, embd, vocab, Double(r.parameters) / 1e6, batch, promptTokens, newTokens,
            r.greedyTokensPerSecond, r.sampledTokensPerSecond, r.prefillTokensPerSecond))
    }
}

struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kernels",
        abstract: "Time attention (tiled at several block sizes vs materialised) and the LM head loss (chunked vs full), forward + backward, round-robin.")

    @Option(help: "Round-robin repeats after one warm-up round (the fastest of each variant is reported).") var repeats = 5
    @Flag(help: "Print the result as JSON.") var json = false
    @Flag(help: "Only the nano weight products with plain against blocked (oneDNN-chosen layout) weights, fp32 and bf16, alternating call by call.")
    var blocked = false

    func run() throws {
        guard repeats >= 1 else { throw ValidationError("--repeats must be ≥ 1 (got \(repeats))") }
        if blocked {
            let lines = KernelBenchmark.blockedWeights(repeats: repeats, log: json ? { _ in } : { print($0) })
            if json { print(String(decoding: try StrataJSON.encode(lines, pretty: false), as: UTF8.self)) }
            return
        }
        var c = KernelBenchmark.Config()
        c.repeats = repeats
        let lines = KernelBenchmark.run(c, log: json ? { _ in } : { print($0) })
        if json { print(String(decoding: try StrataJSON.encode(lines, pretty: false), as: UTF8.self)) }
    }
}
