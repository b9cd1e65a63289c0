// The generation benchmark behind `strata bench generate`: `GPT2.generate` with
// the KV cache on a random GPT-2, greedy and sampled (temperature 1, whole
// distribution, one seed per row as the rollout engine seeds them), no stop
// tokens so every row produces exactly `newTokens` tokens. Reports the fastest
// of several timed repeats after one warm-up, for each mode, plus the prefill
// alone (one forward over the prompts that fills the cache). Optionally saves
// the model and prompts so tools/bench/generate_bench.py times transformers'
// `generate` on exactly the same model, batch and lengths.
// Leaves out: tokenisation, top-k/top-p (they add a sort per token on both sides).

import Foundation
import StrataCore
import StrataModel

public enum GenerateBenchmark {
    public struct Config: Codable, Equatable, Sendable {
        public var layers = 6, heads = 6, embd = 384, vocab = 8192, positions = 256
        public var batch = 16, promptTokens = 32, newTokens = 64
        public var repeats = 3
        public var seed: UInt64 = 0
        /// Decode through the per-row reference path (`GPT2.batchedDecoding` off), for before/after comparisons.
        public var perRowDecoding = false
        public init() {}

        enum CodingKeys: String, CodingKey {
            case layers, heads, embd, vocab, positions, batch, promptTokens = "prompt_tokens", newTokens = "new_tokens", repeats, seed
            case perRowDecoding = "per_row_decoding"
        }
    }

    public struct Result: Codable, Equatable, Sendable {
        public var config: Config
        public var greedyTokensPerSecond: Double
        public var sampledTokensPerSecond: Double
        /// Prompt tokens per second of the prefill alone (batch × prompt_tokens in one pass).
        public var prefillTokensPerSecond: Double
        public var parameters: Int
        /// The greedy completions (row-major), so the script can check transformers produced the same tokens.
        public var greedyTokens: [[Int32]]

        enum CodingKeys: String, CodingKey {
            case config, greedyTokensPerSecond = "greedy_tokens_per_s", sampledTokensPerSecond = "sampled_tokens_per_s"
            case prefillTokensPerSecond = "prefill_tokens_per_s", parameters, greedyTokens = "greedy_tokens"
        }
    }

    /// The random prompt ids of `config` (batch × prompt_tokens).
    public static func prompts(_ c: Config) -> [[Int32]] {
        var rng = StrataRNG(seed: c.seed &+ 17)
        return (0..<c.batch).map { _ in (0..<c.promptTokens).map { _ in Int32(rng.int(below: c.vocab)) } }
    }

    static func fastest(_ repeats: Int, _ body: () -> Void) -> Double {
        var best = Double.infinity
        for i in 0...repeats {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            if i > 0 { best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9) }   // repeat 0 warms up
        }
        return best
    }

    /// Time greedy and sampled generation and the prefill; `saveTo` receives model.safetensors, config.json and prompts.json.
    public static func run(_ c: Config, saveTo: URL? = nil) throws -> Result {
        guard c.batch >= 1, c.promptTokens >= 1, c.newTokens >= 1, c.repeats >= 1, c.promptTokens + c.newTokens <= c.positions else {
            throw StrataError.config("bench generate", "batch \(c.batch), prompt \(c.promptTokens) + new \(c.newTokens) tokens, positions \(c.positions), repeats \(c.repeats)",
                                     fix: "give positive sizes with prompt + new tokens ≤ positions")
        }
        let model = GPT2(GPT2Config(vocabSize: c.vocab, nPositions: c.positions, nEmbd: c.embd, nLayer: c.layers, nHead: c.heads), seed: c.seed)
        model.batchedDecoding = !c.perRowDecoding
        let prompts = prompts(c)
        if let dir = saveTo {
            try model.save(directory: dir)
            try StrataJSON.encode(prompts).write(to: dir.appendingPathComponent("prompts.json"))
        }
        let seeds = (0..<c.batch).map { c.seed &+ UInt64($0) &* 0x9E37_79B9_7F4A_7C15 }
        var greedy: [Completion] = []
        let greedyS = fastest(c.repeats) {
            greedy = model.generate(prompts: prompts, sampling: SamplingConfig(maxNewTokens: c.newTokens, temperature: 0), rowSeeds: seeds)
        }
        let sampledS = fastest(c.repeats) {
            _ = model.generate(prompts: prompts, sampling: SamplingConfig(maxNewTokens: c.newTokens, temperature: 1), rowSeeds: seeds)
        }
        let prefillS = fastest(c.repeats) {
            let cache = KVCache(model: model, batch: c.batch)
            _ = model.decode(rows: Array(0..<c.batch), tokens: prompts, cache: cache)
        }
        let tokens = Double(c.batch * c.newTokens)
        return Result(config: c, greedyTokensPerSecond: tokens / greedyS, sampledTokensPerSecond: tokens / sampledS,
                      prefillTokensPerSecond: Double(c.batch * c.promptTokens) / prefillS,
                      parameters: model.parameters.reduce(0) { $0 + $1.count }, greedyTokens: greedy.map(\.tokens))
    }
}
