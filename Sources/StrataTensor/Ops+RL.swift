// Tape ops the reinforcement-learning losses are built from:
//   - `tokenEntropy`: the entropy of softmax(logits) per row, with gradient;
//   - `pointwise`: an elementwise function whose value and slope the caller
//     computes per element (PPO's clipped surrogate, the KL estimators k1/k2/k3
//     and the clipped value loss are all elementwise in the one input that
//     carries gradient, so each is one node with its own derivative);
//   - `weightedSum`: Σ w_i x_i → [1], how masked per-token losses are aggregated
//     (the weights fold in the mask and the step's normaliser).
// Shapes: N rows of logits over V, any shape for the elementwise ops.
// Leaves out: entropy of a temperature-scaled distribution (scale the logits
// first), second derivatives.

import Foundation
import StrataCore

extension Tape {
    /// H_r = −Σ_j p_rj log p_rj with p_r = softmax(logits[r]) for each row of `logits` [N, V] → [N].
    /// Rows whose `active` flag is false give 0 and no gradient (nil: every row is active).
    ///
    /// Forward:  H = lse − Σ_j p_j z_j                (lse = log Σ_j e^{z_j})
    /// Backward: ∂H/∂z_j = −p_j (log p_j + H)
    public func tokenEntropy(_ logits: Tensor, active: [Bool]? = nil) -> Tensor {
        let v = logits.cols, n = logits.rows
        precondition(active == nil || active!.count == n, "tokenEntropy: \(active!.count) flags for logits \(logits.shape)")
        let on = active ?? [Bool](repeating: true, count: n)
        let lse = LossKernels.logSumExp(logits)
        let out = Tensor(zeros: [n])
        let pl = logits.ptr, pz = lse.ptr, po = out.ptr
        Parallel.rows(n, minPerChunk: max(1, Kernels.grain / max(v, 1))) { s, e in
            for r in s..<e where on[r] { po[r] = pz[r] - RLKernels.expectedLogit(pl + r * v, v, lse: pz[r]) }
        }
        if tracks(logits, out: out) {
            record {
                guard let g = out.grad else { return }
                let gl = logits.gradBuffer().ptr, pg = g.ptr, pz = lse.ptr  // the closure keeps `lse` alive
                Parallel.rows(n, minPerChunk: max(1, Kernels.grain / max(v, 1))) { s, e in
                    for r in s..<e where on[r] {
                        let row = pl + r * v, grow = gl + r * v, z = pz[r], h = po[r], scale = pg[r]
                        for j in 0..<v {
                            let logp = row[j] - z
                            grow[j] -= scale * VMath.exp(logp) * (logp + h)
                        }
                    }
                }
            }
        }
        return out
    }

    /// out_i = f(i, x_i).value, with ∂out_i/∂x_i = f(i, x_i).slope. The caller supplies both (in closed
    /// form); slopes are computed in the forward pass and kept for backward. Any shape.
    public func pointwise(_ x: Tensor, _ f: (Int, Float) -> (value: Float, slope: Float)) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        let slopes = Tensor(uninitialized: x.shape)
        let px = x.ptr, po = out.ptr, ps = slopes.ptr
        for i in 0..<x.count {
            let (value, slope) = f(i, px[i])
            po[i] = value; ps[i] = slope
        }
        if tracks(x, out: out) {
            record {
                guard let g = out.grad else { return }
                let gx = x.gradBuffer().ptr, pg = g.ptr, ps = slopes.ptr  // the closure keeps `slopes` alive
                for i in 0..<x.count { gx[i] += pg[i] * ps[i] }
            }
        }
        return out
    }

    /// Σ_i w_i x_i → [1] over all elements of `x` (`weights.count == x.count`), summed in Double.
    public func weightedSum(_ x: Tensor, _ weights: [Float]) -> Tensor {
        precondition(weights.count == x.count, "weightedSum: \(weights.count) weights for \(x.shape)")
        let out = Tensor(uninitialized: [1])
        let px = x.ptr
        var s: Double = 0
        for i in 0..<x.count { s += Double(weights[i]) * Double(px[i]) }
        out.ptr[0] = Float(s)
        if tracks(x, out: out) {
            record {
                guard let g = out.grad else { return }
                let gx = x.gradBuffer().ptr, k = g.ptr[0]
                for i in 0..<x.count { gx[i] += k * weights[i] }
            }
        }
        return out
    }
}

enum RLKernels {
    /// Σ_j softmax(row)_j · row_j = Σ_j e^{z_j − lse} z_j over `v` logits, in SIMD16 lanes.
    static func expectedLogit(_ row: UnsafePointer<Float>, _ v: Int, lse: Float) -> Float {
        var acc = VMath.V(repeating: 0), i = 0
        let shift = VMath.V(repeating: lse)
        while i + 16 <= v {
            let z = VMath.load(row + i)
            acc += VMath.exp(z - shift) * z
            i += 16
        }
        var total = acc.sum()
        while i < v { total += VMath.exp(row[i] - lse) * row[i]; i += 1 }
        return total
    }
}
