// AdamW on the GPU over one flat parameter buffer cut into segments (one per
// parameter tensor, each decaying or not), with global-norm clipping folded into
// the update: the same arithmetic as StrataTensor's AdamW and clipGradNorm.
//   norm = √Σ g²;  clip = maxNorm/(norm+1e-6) when below 1, else 1
//   per segment: g ← clip·g;  m ← β1 m + (1−β1) g;  v ← β2 v + (1−β2) g²
//                p ← p·(1 − lr·wd) − (lr/(1−β1^t)) · m / (√v/√(1−β2^t) + eps)
// Leaves out: fused multi-tensor launches (one launch per segment).

import Foundation
import StrataCore

public final class GPUAdamWOptimizer {
    let ops: GPUOps
    let params: DeviceBuffer<Float>, grads: DeviceBuffer<Float>, expAvg: DeviceBuffer<Float>, expAvgSq: DeviceBuffer<Float>
    /// (offset, count, decays) per parameter tensor.
    let segments: [(offset: Int, count: Int, decays: Bool)]
    let normScratch: DeviceBuffer<Float>
    /// Updates applied so far (bias correction).
    public var step = 0

    public init(ops: GPUOps, params: DeviceBuffer<Float>, grads: DeviceBuffer<Float>, expAvg: DeviceBuffer<Float>,
                expAvgSq: DeviceBuffer<Float>, segments: [(Int, Int, Bool)]) throws {
        self.ops = ops; self.params = params; self.grads = grads; self.expAvg = expAvg; self.expAvgSq = expAvgSq
        self.segments = segments.map { (offset: $0.0, count: $0.1, decays: $0.2) }
        normScratch = try DeviceBuffer(ops.device, count: 1024)
    }

    public func gradNorm() throws -> Double {
        let total = segments.reduce(0) { max($0, $1.offset + $1.count) }
        return try ops.sumSquares(grads.address, count: total, scratch: normScratch).squareRoot()
    }

    @discardableResult
    public func update(lr: Float, config: GPUAdamW, maxNorm: Float?) throws -> Double {
        let norm = try gradNorm()
        var clip: Float = 1
        if let maxNorm { let coef = maxNorm / (Float(norm) + 1e-6); if coef < 1 { clip = coef } }
        step += 1
        let bc1 = 1 - Float(Foundation.pow(Double(config.beta1), Double(step)))
        let bc2 = Float(Foundation.sqrt(1 - Foundation.pow(Double(config.beta2), Double(step))))
        for s in segments {
            try ops.adamW(p: params.at(s.offset), g: grads.at(s.offset), m: expAvg.at(s.offset), v: expAvgSq.at(s.offset), count: s.count,
                          clip: clip, beta1: config.beta1, beta2: config.beta2, eps: config.eps,
                          decay: s.decays ? 1 - lr * config.weightDecay : 1, stepSize: lr / bc1, bc2: bc2)
        }
        return norm
    }
}
