// The kernel benchmark behind `strata bench kernels`: forward + backward of one
// causal attention layer (tiled kernel at several block sizes against the
// materialised kernel, and the materialised one in bf16 where the CPU has native
// bf16 products) and of the LM head with cross-entropy (chunked against full
// [N, V] logits), at the nano width. The variants are timed round-robin —
// one repeat of each in turn — and the fastest repeat of each is reported, so
// load on a shared machine hits every variant alike and the minimum filters it.
// Also: narrowing fp32 to bf16 (the per-product operand conversion of bf16
// training) in Swift's vectorised loop against a oneDNN reorder, at the sizes of
// a nano layer's activations and of an LM-head gradient chunk.
// `--blocked` (plain against blocked weight layouts): KernelBenchmark+Blocked.swift.
// Leaves out: the rest of the training step (`strata bench` times that).

import Foundation
import StrataCore
import StrataTensor

public enum KernelBenchmark {
    public struct Config: Codable, Sendable {
        public var embd = 384, heads = 6, vocab = 8192
        /// (batch, context) pairs for attention; each keeps B·T tokens.
        public var attentionShapes: [[Int]] = [[8, 256], [2, 1024], [1, 2048]]
        /// Block sizes of the tiled kernel to try: (queryBlock, keyChunk).
        public var tilings: [[Int]] = [[64, 256], [128, 512], [128, 1024], [256, 1024], [256, 2048]]
        public var lmHeadRows = 2048
        /// Rows per chunk of the chunked LM head loss to try.
        public var lmHeadChunkRows = [256, 512, 1024]
        public var repeats = 5
        public init() {}
    }

    public struct Line: Codable, Sendable {
        public var what: String
        public var variant: String
        public var bestMs: Double
        /// Time inside oneDNN matmul calls during the best repeat.
        public var matmulMs: Double
    }

    static func seconds(_ body: () -> Void) -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
    }

    /// Best time of each variant over `repeats` round-robin rounds (after one warm-up round), with the
    /// time inside oneDNN matmul calls during that best repeat (both in ms).
    static func roundRobin(_ variants: [(String, () -> Void)], repeats: Int) -> [(String, Double, Double)] {
        var best = [Double](repeating: .infinity, count: variants.count), inMatmul = best
        for round in 0...repeats {
            for (i, v) in variants.enumerated() {
                Backend.shared.resetCounters()
                let s = seconds(v.1)
                if round > 0 && s < best[i] { best[i] = s; inMatmul[i] = Backend.shared.matmulSeconds }
            }
        }
        return variants.indices.map { (variants[$0].0, best[$0] * 1000, inMatmul[$0] * 1000) }
    }

    public static func run(_ cfg: Config, log: (String) -> Void = { print($0) }) -> [Line] {
        var lines = [Line]()
        var rng = StrataRNG(seed: 1)
        for shape in cfg.attentionShapes {
            let b = shape[0], t = shape[1], c = cfg.embd
            let qkv = Tensor((0..<(b * t * 3 * c)).map { _ in rng.normal() }, shape: [b, t, 3 * c], requiresGrad: true)
            let dy = Tensor((0..<(b * t * c)).map { _ in rng.normal() }, shape: [b, t, c])
            func pass(_ kernel: AttentionKernel) -> () -> Void {
                return {
                    let tape = Tape()
                    tape.attentionKernel = kernel
                    let y = tape.attention(qkv, heads: cfg.heads)
                    tape.backward(tape.sum(tape.mul(y, dy)))
                    qkv.zeroGrad()
                }
            }
            // The materialised kernel with its products in bf16 too, where the CPU runs them natively.
            let bf16: [(String, () -> Void)] = CPUMatmulFeatures.detected.nativeBF16
                ? [("materialized bf16", { Backend.shared.withPrecision(.bf16, cachedWeights: []) { pass(.materialized)() } })] : []
            let variants = [("materialized", pass(.materialized))] + bf16
                + cfg.tilings.map { ("tiled \($0[0])/\($0[1])", pass(.tiled(AttentionTiling(queryBlock: $0[0], keyChunk: $0[1])))) }
            for (name, ms, mm) in roundRobin(variants, repeats: cfg.repeats) {
                let what = "attention fwd+bwd B=\(b) T=\(t) C=\(c) H=\(cfg.heads)"
                log(String(format: "%@  %-18@ %8.1f ms (matmul %6.1f ms)", what, name, ms, mm))
                lines.append(Line(what: what, variant: name, bestMs: ms, matmulMs: mm))
            }
        }
        let n = cfg.lmHeadRows, c = cfg.embd, v = cfg.vocab
        let h = Tensor((0..<(n * c)).map { _ in rng.normal() }, shape: [n, c], requiresGrad: true)
        let w = Tensor((0..<(v * c)).map { _ in rng.normal() * 0.02 }, shape: [v, c], requiresGrad: true)
        let targets = (0..<n).map { _ in Int32(rng.int(below: v)) }
        /// chunk: logits per chunk (nil: the full [N, V] logits).
        func head(_ chunk: Int?) -> () -> Void {
            return {
                let tape = Tape()
                let loss = chunk.map { tape.lmHeadCrossEntropy(h, w, targets, chunkElements: $0) }
                    ?? tape.crossEntropy(tape.linearTransposed(h, w), targets)
                tape.backward(loss)
                h.zeroGrad(); w.zeroGrad()
            }
        }
        let heads = [("full logits", head(nil))] + cfg.lmHeadChunkRows.map { ("chunked \($0) rows", head($0 * v)) }
        for (name, ms, mm) in roundRobin(heads, repeats: cfg.repeats) {
            let what = "LM head + cross-entropy fwd+bwd N=\(n) C=\(c) V=\(v)"
            log(String(format: "%@  %-18@ %8.1f ms (matmul %6.1f ms)", what, name, ms, mm))
            lines.append(Line(what: what, variant: name, bestMs: ms, matmulMs: mm))
        }
        lines += narrowing(cfg, log: log)
        return lines
    }

    /// BF16.narrow (Swift, vectorised, split over the cores) against oneDNN's f32→bf16 reorder.
    static func narrowing(_ cfg: Config, log: (String) -> Void) -> [Line] {
        var lines = [Line]()
        for count in [cfg.lmHeadRows * cfg.embd, cfg.lmHeadRows * cfg.vocab] {
            let src = Tensor(uninitialized: [count])
            for i in 0..<count { src.ptr[i] = Float(i % 1000) * 0.001 - 0.5 }
            let dst = BF16Buffer(count: count)
            let variants: [(String, () -> Void)] = [
                ("swift", { BF16.narrow(src.ptr, into: dst.ptr, count: count) }),
                ("onednn reorder", { Backend.shared.reorderToBF16(src.ptr, into: dst.ptr, count: count) }),
            ]
            for (name, ms, _) in roundRobin(variants, repeats: cfg.repeats) {
                let what = "narrow fp32→bf16 \(count) values"
                log(String(format: "%@  %-18@ %8.2f ms (%.1f GB/s read+written)", what, name, ms, Double(count * 6) / ms / 1e6))
                lines.append(Line(what: what, variant: name, bestMs: ms, matmulMs: 0))
            }
        }
        return lines
    }
}
