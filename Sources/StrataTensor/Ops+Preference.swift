// Small ops that preference losses (DPO, IPO, SimPO, Bradley–Terry) are built
// from: per-row sums (token log-probs [R, T] → sequence log-probs [R]), a
// numerically stable log-sigmoid, elementwise difference, and a row gather
// (the hidden state at one position per row, or a chosen/rejected half of a
// vector). They work on short vectors, so they favour clarity over threading.
// Leaves out: softplus-based variants with a temperature, scatter with reduction
// other than a sum.

import Foundation
import StrataCore

extension Tape {
    /// Sum over the last axis: [..., K] → [...] (a rank-1 input gives [1]).
    public func rowSum(_ x: Tensor) -> Tensor {
        let k = x.cols, r = x.rows
        let out = Tensor(uninitialized: x.rank > 1 ? Array(x.shape.dropLast()) : [1])
        let px = x.ptr, po = out.ptr
        for i in 0..<r {
            var s: Double = 0
            for j in 0..<k { s += Double(px[i * k + j]) }
            po[i] = Float(s)
        }
        if tracks(x, out: out) {
            record {
                guard let g = out.grad else { return }
                let gx = x.gradBuffer().ptr, pg = g.ptr
                for i in 0..<r { for j in 0..<k { gx[i * k + j] += pg[i] } }
            }
        }
        return out
    }

    /// log σ(x) = −log(1 + e^{−x}), elementwise, stable for large |x|.
    public func logSigmoid(_ x: Tensor) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        let px = x.ptr, po = out.ptr
        for i in 0..<x.count {
            let v = Double(px[i])
            po[i] = Float(Swift.min(v, 0) - Foundation.log1p(Foundation.exp(-Swift.abs(v))))
        }
        if tracks(x, out: out) {
            record {
                guard let g = out.grad else { return }
                let gx = x.gradBuffer().ptr, pg = g.ptr
                // d/dx log σ(x) = 1 − σ(x) = σ(−x)
                for i in 0..<x.count { gx[i] += pg[i] * Float(Tape.sigmoid(-Double(px[i]))) }
            }
        }
        return out
    }

    /// out = a − b (same shapes).
    public func sub(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape, "sub: shapes \(a.shape) and \(b.shape) differ")
        let out = Tensor(uninitialized: a.shape)
        let pa = a.ptr, pb = b.ptr, po = out.ptr
        for i in 0..<a.count { po[i] = pa[i] - pb[i] }
        if tracks(a, b, out: out) {
            record {
                guard let g = out.grad else { return }
                let pg = g.ptr
                if a.requiresGrad { let ga = a.gradBuffer().ptr; for i in 0..<a.count { ga[i] += pg[i] } }
                if b.requiresGrad { let gb = b.gradBuffer().ptr; for i in 0..<a.count { gb[i] -= pg[i] } }
            }
        }
        return out
    }

    /// Rows of `x` (leading dimension N, any trailing shape) picked by `indices` → [indices.count, trailing...].
    /// Indices may repeat (their gradients add). Out-of-range indices are a precondition failure: callers
    /// validate positions first (the preference helpers do).
    public func gatherRows(_ x: Tensor, _ indices: [Int]) -> Tensor {
        precondition(x.rank >= 1, "gatherRows: input must have a leading dimension, got \(x.shape)")
        let n = x.shape[0], inner = x.count / Swift.max(n, 1)
        for i in indices { precondition(i >= 0 && i < n, "gatherRows: row \(i) outside \(x.shape)") }
        let out = Tensor(uninitialized: [indices.count] + x.shape.dropFirst())
        let px = x.ptr, po = out.ptr
        for (r, i) in indices.enumerated() { (po + r * inner).update(from: px + i * inner, count: inner) }
        if tracks(x, out: out) {
            record {
                guard let g = out.grad else { return }
                let gx = x.gradBuffer().ptr, pg = g.ptr
                for (r, i) in indices.enumerated() {
                    let dst = gx + i * inner, src = pg + r * inner
                    for j in 0..<inner { dst[j] += src[j] }
                }
            }
        }
        return out
    }

    /// σ(x) in Double, stable on both tails.
    static func sigmoid(_ x: Double) -> Double {
        x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x))
    }
}
