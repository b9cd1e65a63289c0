// Sampling from GPT-2 with the KV cache: greedy, temperature, top-k and top-p
// (nucleus), stop tokens, batched prompts of different lengths. Each prompt gets
// its own StrataRNG stream derived from the seed and its index, so a prompt
// samples the same tokens whether it runs alone or in a batch. `SamplingConfig.validate`
// and `GPT2.checkPrompt` are the one place user-supplied sampling options and prompts are
// checked (generate and chat both call them) before anything is allocated.
// Leaves out: beam search, repetition penalties, speculative decoding.

import Foundation
import StrataCore
import StrataTensor

public struct SamplingConfig: Codable, Equatable, Sendable {
    /// Tokens to generate at most per prompt.
    public var maxNewTokens: Int = 64
    /// 0 means greedy (argmax); otherwise logits are divided by it.
    public var temperature: Float = 1.0
    /// Keep only the k most likely tokens (0 = off).
    public var topK: Int = 0
    /// Keep the smallest set of tokens whose probability reaches p (1 = off).
    public var topP: Float = 1.0
    /// Generation of a row ends after any of these tokens (which is not included in the output).
    public var stopTokens: [Int32] = []
    public var seed: UInt64 = 0

    public init(maxNewTokens: Int = 64, temperature: Float = 1.0, topK: Int = 0, topP: Float = 1.0, stopTokens: [Int32] = [], seed: UInt64 = 0) {
        self.maxNewTokens = maxNewTokens; self.temperature = temperature; self.topK = topK
        self.topP = topP; self.stopTokens = stopTokens; self.seed = seed
    }
}

extension SamplingConfig {
    /// The options as the CLI spells them (`strata generate` and `strata chat` share them).
    public enum Option: String, Sendable {
        case maxNewTokens = "--max-new-tokens", temperature = "--temperature", topK = "--top-k", topP = "--top-p"
    }

    /// Refuses values that would sample nonsense or crash: temperature < 0 / NaN / inf, top-k < 0,
    /// top-p outside (0, 1], max-new-tokens < 1. Errors name the option, the value and the range.
    public func validate(op: String = "sampling options") throws {
        func bad(_ o: Option, _ value: String, _ rule: String) -> StrataError {
            .config(op, "\(o.rawValue) is \(value); it \(rule)", fix: "pass \(o.rawValue) within that range")
        }
        guard maxNewTokens >= 1 else { throw bad(.maxNewTokens, "\(maxNewTokens)", "must be at least 1") }
        guard temperature.isFinite, temperature >= 0 else {
            throw bad(.temperature, "\(temperature)", "must be finite and ≥ 0 (0 = greedy, 1 = the model's own distribution)")
        }
        guard topK >= 0 else { throw bad(.topK, "\(topK)", "must be ≥ 0 (0 = off)") }
        guard topP > 0, topP <= 1 else { throw bad(.topP, "\(topP)", "must be in (0, 1] (1 = off)") }
    }
}

extension GPT2 {
    /// Checks a prompt before generation: not empty, every id in the vocabulary, and shorter than the
    /// context so at least one token can be generated. `label` names the prompt in the error.
    public func checkPrompt(_ ids: [Int32], label: String = "the prompt") throws {
        let op = "generate"
        guard !ids.isEmpty else { throw StrataError.config(op, "\(label) encodes to no tokens", fix: "give a non-empty prompt") }
        if let (i, id) = ids.enumerated().first(where: { $0.element < 0 || Int($0.element) >= config.vocabSize }) {
            throw StrataError.config(op, "\(label) has token id \(id) at position \(i), outside the vocabulary (0..<\(config.vocabSize))",
                                     fix: "use ids below vocab_size \(config.vocabSize)")
        }
        guard ids.count < config.nPositions else {
            throw StrataError.config(op, "\(label) is \(ids.count) tokens but the model's context (n_positions) is \(config.nPositions), "
                                     + "so no token can follow it", fix: "shorten the prompt to fewer than \(config.nPositions) tokens")
        }
    }

    /// Bytes of the KV cache and logits that generating `rows` sequences at once needs.
    public func generationBytes(rows: Int) -> Double {
        let c = Double(config.nEmbd), l = Double(config.nLayer), t = Double(config.nPositions)
        return Double(rows) * 4 * (2 * l * t * c + 2 * Double(config.vocabSize))
    }
}

public struct Completion: Equatable, Sendable {
    public enum Finish: String, Sendable { case stop, maxTokens, contextFull }
    public var tokens: [Int32]
    /// log p of each sampled token under the unmodified model distribution (for RL stages).
    public var logProbs: [Float]
    public var finish: Finish
}

extension GPT2 {
    /// Continue each prompt; `onToken(row, token)` is called as tokens are produced (for streaming).
    public func generate(prompts: [[Int32]], sampling: SamplingConfig, onToken: ((Int, Int32) -> Void)? = nil) -> [Completion] {
        precondition(!prompts.isEmpty && prompts.allSatisfy { !$0.isEmpty }, "generate: every prompt needs at least one token")
        let cache = KVCache(model: self, batch: prompts.count)
        var rngs = prompts.indices.map { StrataRNG(seed: sampling.seed &+ UInt64($0) &* Self.rowSeedStride) }
        var out = prompts.map { _ in Completion(tokens: [], logProbs: [], finish: .maxTokens) }
        var active = [Int](), pending = [[Int32]]()
        for (r, p) in prompts.enumerated() {
            if p.count >= cache.capacity { out[r].finish = .contextFull } else { active.append(r); pending.append(p) }
        }
        var stepsLeft = sampling.maxNewTokens
        let stop = Set(sampling.stopTokens)
        while !active.isEmpty && stepsLeft > 0 {
            // Prefill rows one at a time (long prompts), then decode all active rows together.
            let logits = pending.contains { $0.count > 1 }
                ? stackRows(zip(active, pending).map { decode(rows: [$0.0], tokens: [$0.1], cache: cache) })
                : decode(rows: active, tokens: pending, cache: cache)
            var nextActive = [Int](), nextPending = [[Int32]]()
            for (i, r) in active.enumerated() {
                let row = UnsafeBufferPointer(start: logits.ptr + i * config.vocabSize, count: config.vocabSize)
                let (tok, lp) = Sampler.sample(row, sampling, &rngs[r])
                if stop.contains(tok) { out[r].finish = .stop; continue }
                out[r].tokens.append(tok); out[r].logProbs.append(lp)
                onToken?(r, tok)
                if cache.lengths[r] >= cache.capacity { out[r].finish = .contextFull; continue }
                nextActive.append(r); nextPending.append([tok])
            }
            active = nextActive; pending = nextPending; stepsLeft -= 1
        }
        return out
    }

    /// `count` samples of one prompt, generated `chunk` rows at a time so the KV cache stays bounded however
    /// many are asked for. Each chunk's seed continues the per-row streams, so the samples are those of one
    /// batch of `count` rows. `onCompletion(index, completion)` receives them in order.
    public func sample(_ prompt: [Int32], count: Int, sampling: SamplingConfig, chunk: Int = 32,
                       onCompletion: (Int, Completion) -> Void) {
        let rows = max(1, chunk)
        for start in stride(from: 0, to: count, by: rows) {
            var part = sampling
            part.seed = sampling.seed &+ UInt64(start) &* Self.rowSeedStride
            let outs = generate(prompts: Array(repeating: prompt, count: min(rows, count - start)), sampling: part)
            for (i, o) in outs.enumerated() { onCompletion(start + i, o) }
        }
    }

    /// Row r of a batch samples with seed + r · rowSeedStride.
    static let rowSeedStride: UInt64 = 0x9E37_79B9_7F4A_7C15

    private func stackRows(_ rows: [Tensor]) -> Tensor {
        let v = config.vocabSize
        let t = Tensor(uninitialized: [rows.count, v])
        for (i, r) in rows.enumerated() { (t.ptr + i * v).update(from: r.ptr, count: v) }
        return t
    }
}

public enum Sampler {
    /// Pick a token from one row of logits; returns it with its log-probability under the raw distribution.
    public static func sample(_ logits: UnsafeBufferPointer<Float>, _ cfg: SamplingConfig, _ rng: inout StrataRNG) -> (Int32, Float) {
        let v = logits.count
        var maxL = -Float.infinity, arg = 0
        for j in 0..<v where logits[j] > maxL { maxL = logits[j]; arg = j }
        var z: Double = 0
        for j in 0..<v { z += Foundation.exp(Double(logits[j] - maxL)) }
        let logZ = Double(maxL) + Foundation.log(z)
        func lp(_ j: Int) -> Float { Float(Double(logits[j]) - logZ) }
        if cfg.temperature <= 0 { return (Int32(arg), lp(arg)) }
        // Candidates sorted by logit (descending); ties broken by id so every machine agrees.
        var idx = Array(0..<v)
        idx.sort { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }
        if cfg.topK > 0 && cfg.topK < v { idx.removeSubrange(cfg.topK...) }
        let t = Double(cfg.temperature)
        var probs = idx.map { Foundation.exp(Double(logits[$0] - maxL) / t) }
        var total = probs.reduce(0, +)
        if cfg.topP < 1 {
            var cum = 0.0, keep = 0
            for p in probs { cum += p / total; keep += 1; if cum >= Double(cfg.topP) { break } }
            idx.removeSubrange(keep...); probs.removeSubrange(keep...)
            total = probs.reduce(0, +)
        }
        let u = rng.uniformDouble() * total
        var acc = 0.0
        for (k, p) in probs.enumerated() {
            acc += p
            if u < acc { return (Int32(idx[k]), lp(idx[k])) }
        }
        return (Int32(idx[idx.count - 1]), lp(idx[idx.count - 1]))
    }
}
