// Sampling from any CausalLM (GPT-2, Llama) with its KV cache: greedy, temperature, top-k and top-p
// (nucleus), stop tokens, batched prompts of different lengths (prefilled
// together in groups of bounded token count; rows sampled in parallel). Each prompt gets
// its own StrataRNG stream derived from the seed and its index (or a seed given
// per row, for RL rollouts seeded by step and row), so a prompt samples the same
// tokens whether it runs alone or in a batch. `SamplingConfig.validate`
// and `CausalLM.checkPrompt` are the one place user-supplied sampling options and prompts are
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

extension CausalLM {
    /// Checks a prompt before generation: not empty, every id in the vocabulary, and shorter than the
    /// context so at least one token can be generated. `label` names the prompt in the error.
    public func checkPrompt(_ ids: [Int32], label: String = "the prompt") throws {
        let op = "generate"
        guard !ids.isEmpty else { throw StrataError.config(op, "\(label) encodes to no tokens", fix: "give a non-empty prompt") }
        if let (i, id) = ids.enumerated().first(where: { $0.element < 0 || Int($0.element) >= vocabSize }) {
            throw StrataError.config(op, "\(label) has token id \(id) at position \(i), outside the vocabulary (0..<\(vocabSize))",
                                     fix: "use ids below vocab_size \(vocabSize)")
        }
        guard ids.count < contextLength else {
            throw StrataError.config(op, "\(label) is \(ids.count) tokens but the model's context (n_positions) is \(contextLength), "
                                     + "so no token can follow it", fix: "shorten the prompt to fewer than \(contextLength) tokens")
        }
    }

    /// Bytes of the KV cache and logits that generating `rows` sequences at once needs.
    public func generationBytes(rows: Int) -> Double {
        Double(rows) * (Double(contextLength) * kvBytesPerPosition + 4 * 2 * Double(vocabSize))
    }
}

public struct Completion: Equatable, Sendable {
    public enum Finish: String, Sendable { case stop, maxTokens, contextFull }
    public var tokens: [Int32]
    /// log p of each sampled token under the distribution it was drawn from before top-k/top-p filtering:
    /// softmax(logits / temperature), or softmax(logits) when greedy (for RL stages).
    public var logProbs: [Float]
    public var finish: Finish
    /// With `.stop`: the stop token that ended the row (not in `tokens`) and its log-probability.
    public var stopToken: Int32? = nil
    public var stopLogProb: Float? = nil
}

extension CausalLM {
    /// Continue each prompt; `onToken(row, token)` is called as tokens are produced (for streaming).
    public func generate(prompts: [[Int32]], sampling: SamplingConfig, onToken: ((Int, Int32) -> Void)? = nil) -> [Completion] {
        generate(prompts: prompts, sampling: sampling,
                 rowSeeds: prompts.indices.map { sampling.seed &+ UInt64($0) &* Self.rowSeedStride }, onToken: onToken)
    }

    /// `generate` with one sampling seed per prompt (`sampling.seed` is not used): row i draws from
    /// `StrataRNG(seed: rowSeeds[i])` alone, whatever else is in the batch.
    public func generate(prompts: [[Int32]], sampling: SamplingConfig, rowSeeds: [UInt64],
                         onToken: ((Int, Int32) -> Void)? = nil) -> [Completion] {
        precondition(!prompts.isEmpty && prompts.allSatisfy { !$0.isEmpty }, "generate: every prompt needs at least one token")
        precondition(rowSeeds.count == prompts.count, "generate: one seed per prompt")
        let cache = makeCache(batch: prompts.count)
        var rngs = rowSeeds.map { StrataRNG(seed: $0) }
        var out = prompts.map { _ in Completion(tokens: [], logProbs: [], finish: .maxTokens) }
        var active = [Int](), pending = [[Int32]]()
        for (r, p) in prompts.enumerated() {
            if p.count >= cache.capacity { out[r].finish = .contextFull } else { active.append(r); pending.append(p) }
        }
        var stepsLeft = sampling.maxNewTokens
        let stop = Set(sampling.stopTokens)
        while !active.isEmpty && stepsLeft > 0 {
            // Prefill rows together in groups of at most `prefillTokens` tokens, then decode all active rows together.
            let logits = pending.contains { $0.count > 1 }
                ? stackRows(prefillGroups(pending).map { g in decode(rows: g.map { active[$0] }, tokens: g.map { pending[$0] }, cache: cache) })
                : decode(rows: active, tokens: pending, cache: cache)
            var nextActive = [Int](), nextPending = [[Int32]]()
            let picks = sampleRows(logits, active: active, sampling, &rngs)
            for (i, r) in active.enumerated() {
                let (tok, lp) = picks[i]
                if stop.contains(tok) { out[r].finish = .stop; out[r].stopToken = tok; out[r].stopLogProb = lp; continue }
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

    /// One token per active row from its row of `logits` [active.count, V], each row drawing from its own
    /// stream `rngs[active[i]]`; rows run in parallel (their streams are independent, so the draws are the
    /// same as one after another).
    private func sampleRows(_ logits: Tensor, active: [Int], _ sampling: SamplingConfig, _ rngs: inout [StrataRNG]) -> [(Int32, Float)] {
        let v = vocabSize
        var picks = [(Int32, Float)](repeating: (0, 0), count: active.count)
        picks.withUnsafeMutableBufferPointer { pk in
            rngs.withUnsafeMutableBufferPointer { rg in
                active.withUnsafeBufferPointer { ac in
                    let box = UnsafeSendableBox((pk, rg, ac))
                    Parallel.rows(active.count) { s, e in
                        for i in s..<e {
                            let row = UnsafeBufferPointer(start: logits.ptr + i * v, count: v)
                            box.value.0[i] = Sampler.sample(row, sampling, &box.value.1[box.value.2[i]])
                        }
                    }
                }
            }
        }
        return picks
    }

    /// Row r of a batch samples with seed + r · rowSeedStride.
    static var rowSeedStride: UInt64 { 0x9E37_79B9_7F4A_7C15 }

    /// Most prompt tokens fed to one prefill call (bounds the activations of long batched prompts).
    static var prefillTokens: Int { 4096 }

    /// Consecutive indices of `pending`, grouped so each group holds at most `prefillTokens` tokens (or one row).
    private func prefillGroups(_ pending: [[Int32]]) -> [[Int]] {
        var groups: [[Int]] = [], current: [Int] = [], tokens = 0
        for (i, p) in pending.enumerated() {
            if !current.isEmpty && tokens + p.count > Self.prefillTokens { groups.append(current); current = []; tokens = 0 }
            current.append(i); tokens += p.count
        }
        return groups + [current]
    }

    /// Rows of several [n_i, V] logit tensors stacked into one [Σ n_i, V].
    private func stackRows(_ parts: [Tensor]) -> Tensor {
        let v = vocabSize
        let t = Tensor(uninitialized: [parts.reduce(0) { $0 + $1.count / v }, v])
        var offset = 0
        for r in parts { (t.ptr + offset).update(from: r.ptr, count: r.count); offset += r.count }
        return t
    }
}

public enum Sampler {
    /// Pick a token from one row of logits; returns it with its log-probability under softmax(logits / temperature)
    /// (softmax(logits) when greedy), before top-k/top-p filtering.
    public static func sample(_ logits: UnsafeBufferPointer<Float>, _ cfg: SamplingConfig, _ rng: inout StrataRNG) -> (Int32, Float) {
        let v = logits.count
        var maxL = -Float.infinity, arg = 0
        for j in 0..<v where logits[j] > maxL { maxL = logits[j]; arg = j }
        let inv = cfg.temperature > 0 ? 1 / Double(cfg.temperature) : 1
        var z: Double = 0
        for j in 0..<v { z += Foundation.exp(Double(logits[j] - maxL) * inv) }
        let logZ = Foundation.log(z)
        func lp(_ j: Int) -> Float { Float(Double(logits[j] - maxL) * inv - logZ) }
        if cfg.temperature <= 0 { return (Int32(arg), lp(arg)) }
        if (cfg.topK <= 0 || cfg.topK >= v) && cfg.topP >= 1 {
            // The whole distribution: inverse CDF in id order, no sort.
            let u = rng.uniformDouble() * z
            var acc = 0.0
            for j in 0..<v {
                acc += Foundation.exp(Double(logits[j] - maxL) * inv)
                if u < acc { return (Int32(j), lp(j)) }
            }
            return (Int32(arg), lp(arg))   // rounding left u at the very top: the likeliest token
        }
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
