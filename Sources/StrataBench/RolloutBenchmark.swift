// The rollout benchmark behind `strata bench rollout`: batched sampling with the
// KV cache (the rollout engine's generation: per-row seeds, no stop tokens, so
// every row produces exactly the requested tokens) on a random GPT-2, then the
// batched no-grad log-prob pass over the same rollouts (the reference/old-policy
// scoring). Reports the fastest of several timed repeats after one warm-up.
// Optionally saves the model and prompts so tools/bench/rollout_bench.py times
// transformers' `generate` on exactly the same model, batch and lengths.
// Leaves out: tokenisation and chat rendering (fixed random prompt ids).

import Foundation
import StrataCore
import StrataModel
import StrataRL

public enum RolloutBenchmark {
    public struct Config: Codable, Equatable, Sendable {
        public var layers = 6, heads = 6, embd = 384, vocab = 8192, positions = 256
        public var batch = 16, promptTokens = 32, newTokens = 64
        public var temperature: Float = 1
        public var repeats = 3
        public var seed: UInt64 = 0
        public init() {}

        enum CodingKeys: String, CodingKey {
            case layers, heads, embd, vocab, positions, batch, promptTokens = "prompt_tokens", newTokens = "new_tokens"
            case temperature, repeats, seed
        }
    }

    public struct Result: Codable, Equatable, Sendable {
        public var config: Config
        /// Fastest generation of batch × new_tokens tokens, seconds.
        public var generateSeconds: Double
        public var generateTokensPerSecond: Double
        /// Fastest batched log-prob pass over the generated rollouts, seconds.
        public var logProbSeconds: Double
        public var logProbTokensPerSecond: Double
        public var parameters: Int

        enum CodingKeys: String, CodingKey {
            case config, generateSeconds = "generate_seconds", generateTokensPerSecond = "generate_tokens_per_s"
            case logProbSeconds = "logprob_seconds", logProbTokensPerSecond = "logprob_tokens_per_s", parameters
        }
    }

    /// The random prompt ids of `config` (row-major, batch × prompt_tokens).
    public static func prompts(_ c: Config) -> [[Int32]] {
        var rng = StrataRNG(seed: c.seed &+ 17)
        return (0..<c.batch).map { _ in (0..<c.promptTokens).map { _ in Int32(rng.int(below: c.vocab)) } }
    }

    /// Time generation and log-prob scoring; `saveTo` receives model.safetensors, config.json and prompts.json.
    public static func run(_ c: Config, saveTo: URL? = nil) throws -> Result {
        guard c.batch >= 1, c.promptTokens >= 1, c.newTokens >= 1, c.repeats >= 1, c.promptTokens + c.newTokens <= c.positions else {
            throw StrataError.config("bench rollout", "batch \(c.batch), prompt \(c.promptTokens) + new \(c.newTokens) tokens, positions \(c.positions), repeats \(c.repeats)",
                                     fix: "give positive sizes with prompt + new tokens ≤ positions")
        }
        let model = GPT2(GPT2Config(vocabSize: c.vocab, nPositions: c.positions, nEmbd: c.embd, nLayer: c.layers, nHead: c.heads), seed: c.seed)
        let prompts = prompts(c)
        if let dir = saveTo {
            try model.save(directory: dir)
            try StrataJSON.encode(prompts).write(to: dir.appendingPathComponent("prompts.json"))
        }
        let rollout = RolloutConfig(maxNewTokens: c.newTokens, temperature: c.temperature, seed: c.seed, maxBatchRows: c.batch)
        let sampling = SamplingConfig(maxNewTokens: c.newTokens, temperature: c.temperature, stopTokens: [])
        let seeds = (0..<c.batch).map { rollout.rowSeed(step: 0, row: $0) }
        var completions: [Completion] = []
        var best = Double.infinity
        for i in 0...c.repeats {
            let t0 = Date()
            completions = model.generate(prompts: prompts, sampling: sampling, rowSeeds: seeds)
            if i > 0 { best = min(best, Date().timeIntervalSince(t0)) }   // repeat 0 warms up
        }
        let rollouts = zip(prompts, completions).enumerated().map { r, pc in
            Rollout(promptIndex: r, sampleIndex: 0, row: r, seed: seeds[r], promptTokens: pc.0, completionTokens: pc.1.tokens,
                    logProbs: pc.1.logProbs, finish: .truncated, text: "")
        }
        var bestLP = Double.infinity
        for i in 0...c.repeats {
            let t0 = Date()
            _ = try RolloutLogProbs.compute(model: model, rollouts: rollouts, temperature: max(c.temperature, 1e-3), batchRows: c.batch)
            if i > 0 { bestLP = min(bestLP, Date().timeIntervalSince(t0)) }
        }
        let tokens = Double(c.batch * c.newTokens)
        return Result(config: c, generateSeconds: best, generateTokensPerSecond: tokens / best, logProbSeconds: bestLP,
                      logProbTokensPerSecond: tokens / bestLP, parameters: model.parameters.reduce(0) { $0 + $1.count })
    }
}
