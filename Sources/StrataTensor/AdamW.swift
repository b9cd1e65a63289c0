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

    /// Apply one update with learning rate `lr` (defaults to config.lr) to every parameter that has a gradient.
    public func update(lr: Float? = nil) {
        step += 1
        let lr = lr ?? config.lr
        let b1 = config.beta1, b2 = config.beta2, eps = config.eps
        let bc1 = 1 - Float(Foundation.pow(Double(b1), Double(step)))
        let bc2Sqrt = Float(Foundation.sqrt(1 - Foundation.pow(Double(b2), Double(step))))
        let stepSize = lr / bc1
        for (i, p) in parameters.enumerated() {
            guard let g = p.grad else { continue }
            let decay: Float = decays[i] ? 1 - lr * config.weightDecay : 1
            let step = Step(b1: b1, b2: b2, eps: eps, decay: decay, stepSize: stepSize, bc2Sqrt: bc2Sqrt)
            let pp = p.ptr, pg = g.ptr, pm = expAvg[i].ptr, pv = expAvgSq[i].ptr
            Parallel.rows(p.count, minPerChunk: 16_384) { s, e in
                var k = s
                while k + 16 <= e {   // 16 lanes at a time: the same operations per element as the tail's
                    step.apply(pp + k, pg + k, pm + k, pv + k, as: VMath.V.self)
                    k += 16
                }
                while k < e { step.apply(pp + k, pg + k, pm + k, pv + k, as: Float.self); k += 1 }
            }
        }
    }

    /// One element's (or one SIMD vector's) update, per element:
    ///   m ← β₁·m + (1 − β₁)·g;  v ← β₂·v + (1 − β₂)·g²;  p ← p·decay − stepSize·m / (√v / √(1 − β₂ᵗ) + ε).
    /// Written once for Float and SIMD16<Float> so both run the same IEEE operations in the same order.
    private struct Step {
        let b1: Float, b2: Float, eps: Float, decay: Float, stepSize: Float, bc2Sqrt: Float

        @inline(__always)
        func apply<T: AdamWLane>(_ pp: UnsafeMutablePointer<Float>, _ pg: UnsafeMutablePointer<Float>,
                                 _ pm: UnsafeMutablePointer<Float>, _ pv: UnsafeMutablePointer<Float>, as: T.Type) {
            let gk = T.load(pg)
            let m = T(b1) * T.load(pm) + T(1 - b1) * gk
            let v = T(b2) * T.load(pv) + T(1 - b2) * gk * gk
            m.store(pm); v.store(pv)
            (T.load(pp) * T(decay) - T(stepSize) * m / (v.squareRoot() / T(bc2Sqrt) + T(eps))).store(pp)
        }
    }

    /// L2 norm over all gradients, computed in Double.
    public static func gradNorm(_ parameters: [Tensor]) -> Float {
        var total: Double = 0
        for p in parameters { if let g = p.grad { total += Double(VMath.sumSquares(g.ptr, g.count)) } }
        return Float(total.squareRoot())
    }

    /// Scale gradients so their global norm is at most `maxNorm` (as torch's clip_grad_norm_). Returns the norm before clipping.
    @discardableResult
    public static func clipGradNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
        let norm = gradNorm(parameters)
        let coef = maxNorm / (norm + 1e-6)
        if coef < 1 {
            for p in parameters {   // the norm above stays serial: its summation order is part of every run's bits
                guard let g = p.grad else { continue }
                let pg = g.ptr
                Kernels.spans(g.count, period: g.count) { i, _, len in for k in i..<(i + len) { pg[k] *= coef } }
            }
        }
        return norm
    }
}

/// What AdamW's update needs of a lane type: Float for the tail, SIMD16<Float> for the body.
protocol AdamWLane {
    init(_ scalar: Float)
    static func load(_ p: UnsafeMutablePointer<Float>) -> Self
    func store(_ p: UnsafeMutablePointer<Float>)
    static func + (a: Self, b: Self) -> Self
    static func - (a: Self, b: Self) -> Self
    static func * (a: Self, b: Self) -> Self
    static func / (a: Self, b: Self) -> Self
    func squareRoot() -> Self
}

extension Float: AdamWLane {
    @inline(__always) static func load(_ p: UnsafeMutablePointer<Float>) -> Float { p.pointee }
    @inline(__always) func store(_ p: UnsafeMutablePointer<Float>) { p.pointee = self }
}

extension SIMD16: AdamWLane where Scalar == Float {
    @inline(__always) init(_ scalar: Float) { self.init(repeating: scalar) }
    @inline(__always) static func load(_ p: UnsafeMutablePointer<Float>) -> Self { UnsafeRawPointer(p).loadUnaligned(as: Self.self) }
    @inline(__always) func store(_ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: self, as: Self.self) }
}
