// AdamW (decoupled weight decay, as torch.optim.AdamW computes it) and
// global-norm gradient clipping. Which parameters decay is the caller's choice
// through `decays`; `AdamW.defaultDecay` follows GPT-2/nanoGPT practice: matrices
// and embeddings (rank ≥ 2) decay, biases and LayerNorm gains (rank 1) do not.
// Moments are plain tensors keyed by parameter name so checkpoints can save them.
// With bf16 products the parameters updated here are the fp32 master weights; the
// bf16 copies the products read live in the backend (Backend+BF16.swift).
// Leaves out: AMSGrad, fused multi-tensor kernels.

import Foundation
import StrataCore
import CVectorMath

public final class AdamW {
    public struct Config: Codable, Equatable, Sendable {
        public var lr: Float = 3e-4
        public var beta1: Float = 0.9
        public var beta2: Float = 0.95
        public var eps: Float = 1e-8
        public var weightDecay: Float = 0.1
        public init(lr: Float = 3e-4, beta1: Float = 0.9, beta2: Float = 0.95, eps: Float = 1e-8, weightDecay: Float = 0.1) {
            self.lr = lr; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
        }
    }

    public var config: Config
    public let parameters: [Tensor]
    public let decays: [Bool]
    /// First and second moments, one per parameter (same order).
    public let expAvg: [Tensor]
    public let expAvgSq: [Tensor]
    /// Number of updates applied so far (bias correction uses it).
    public var step: Int = 0

    public static func defaultDecay(_ p: Tensor) -> Bool { p.rank >= 2 }

    public init(_ parameters: [Tensor], config: Config, decays: ((Tensor) -> Bool)? = nil) {
        self.config = config
        self.parameters = parameters
        self.decays = parameters.map(decays ?? AdamW.defaultDecay)
        expAvg = parameters.map { Tensor(zeros: $0.shape) }
        expAvgSq = parameters.map { Tensor(zeros: $0.shape) }
    }

    /// Apply one update with learning rate `lr` (defaults to config.lr) to every parameter that has a gradient, read as
    /// `gradScale`·g: clipping's factor (`clipScale`) applied on the way in, which gives the bits of scaling the
    /// gradients in place first (the same product) without that pass over them.
    public func update(lr: Float? = nil, gradScale: Float = 1) {
        step += 1
        let lr = lr ?? config.lr
        let b1 = config.beta1, b2 = config.beta2, eps = config.eps
        let bc1 = 1 - Float(Foundation.pow(Double(b1), Double(step)))
        let bc2Sqrt = Float(Foundation.sqrt(1 - Foundation.pow(Double(b2), Double(step))))
        let stepSize = lr / bc1
        for (i, p) in parameters.enumerated() {
            guard let g = p.grad else { continue }
            let decay: Float = decays[i] ? 1 - lr * config.weightDecay : 1
            let pp = p.ptr, pg = g.ptr, pm = expAvg[i].ptr, pv = expAvgSq[i].ptr
            Parallel.rows(p.count, minPerChunk: 16_384) { s, e in
                for k in s..<e {   // vectorised by LLVM (strata_sqrtf: see CVectorMath/vector_math.h)
                    let gk = pg[k] * gradScale
                    let m = b1 * pm[k] + (1 - b1) * gk
                    let v = b2 * pv[k] + (1 - b2) * gk * gk
                    pm[k] = m; pv[k] = v
                    pp[k] = pp[k] * decay - stepSize * m / (strata_sqrtf(v) / bc2Sqrt + eps)
                }
            }
        }
    }

    /// L2 norm over all gradients, computed in Double. Each parameter's sum of squares is taken whole by one thread
    /// (the threads share the parameters by size) and the sums are added in parameter order, so the bits do not depend
    /// on the thread count.
    public static func gradNorm(_ parameters: [Tensor]) -> Float {
        let grads = parameters.compactMap(\.grad)
        let shares = sharesBySize(grads.map(\.count), workers: Parallel.workers)
        var squares = [Double](repeating: 0, count: grads.count)
        squares.withUnsafeMutableBufferPointer { sq in
            let box = UnsafeSendableBox(sq)
            Parallel.rows(shares.count) { s, e in
                for w in s..<e { for i in shares[w] { box.value[i] = Double(VMath.sumSquares(grads[i].ptr, grads[i].count)) } }
            }
        }
        return Float(squares.reduce(0, +).squareRoot())
    }

    /// Indices of `sizes` dealt to `workers` lists, largest first to the least loaded (empty lists dropped).
    static func sharesBySize(_ sizes: [Int], workers: Int) -> [[Int]] {
        var lists = [[Int]](repeating: [], count: max(1, workers)), load = [Int](repeating: 0, count: max(1, workers))
        for i in sizes.indices.sorted(by: { sizes[$0] > sizes[$1] }) {
            let w = load.indices.min { load[$0] < load[$1] }!
            lists[w].append(i); load[w] += sizes[i]
        }
        return lists.filter { !$0.isEmpty }
    }

    /// The factor global-norm clipping scales gradients by (as torch's clip_grad_norm_), or 1 when `norm` is within
    /// `maxNorm` or there is no bound (nil): pass it to `update(gradScale:)`.
    public static func clipScale(norm: Float, maxNorm: Float?) -> Float {
        guard let maxNorm else { return 1 }
        let coef = maxNorm / (norm + 1e-6)
        return coef < 1 ? coef : 1
    }

    /// Scale gradients in place so their global norm is at most `maxNorm` (as torch's clip_grad_norm_). Returns the
    /// norm before clipping. (A training step instead passes `clipScale` to `update`, sparing this pass.)
    @discardableResult
    public static func clipGradNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
        let norm = gradNorm(parameters)
        let coef = clipScale(norm: norm, maxNorm: maxNorm)
        if coef < 1 {
            for p in parameters {
                guard let g = p.grad else { continue }
                let pg = g.ptr
                Kernels.spans(g.count, period: g.count) { i, _, len in for k in i..<(i + len) { pg[k] *= coef } }
            }
        }
        return norm
    }
}
