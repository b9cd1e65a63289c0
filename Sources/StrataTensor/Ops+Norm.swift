// Layer normalisation over the last dimension, with saved per-row mean and
// reciprocal standard deviation for the backward pass.
// Leaves out: RMSNorm (later models), normalising over several trailing dims.

import Foundation
import StrataCore

extension Tape {
    /// y = (x − mean) / √(var + eps) · w + b, per row of the last dim C. x: [..., C], w, b: [C].
    public func layerNorm(_ x: Tensor, _ w: Tensor, _ b: Tensor, eps: Float = 1e-5) -> Tensor {
        let c = x.cols, n = x.rows
        precondition(w.count == c && b.count == c, "layerNorm: weight \(w.shape)/bias \(b.shape) do not match input \(x.shape)")
        let out = Tensor(uninitialized: x.shape)
        let mean = Tensor(uninitialized: [n]), rstd = Tensor(uninitialized: [n])
        let px = x.ptr, pw = w.ptr, pb = b.ptr, po = out.ptr, pm = mean.ptr, pr = rstd.ptr
        Parallel.rows(n, minPerChunk: max(1, Kernels.grain / c)) { s, e in
            for r in s..<e {
                let row = px + r * c, y = po + r * c
                let mu = VMath.sum(row, c) / Float(c)
                let variance = VMath.sumSquaredDeviations(row, c, mean: mu) / Float(c)
                let rs = 1 / (variance + eps).squareRoot()
                pm[r] = mu; pr[r] = rs
                for j in 0..<c { y[j] = (row[j] - mu) * rs * pw[j] + pb[j] }
            }
        }
        if tracks(x, w, b, out: out) {
            record { layerNormBackward(x, w, b, out, mean, rstd) }
        }
        return out
    }
}

private func layerNormBackward(_ x: Tensor, _ w: Tensor, _ b: Tensor, _ out: Tensor, _ mean: Tensor, _ rstd: Tensor) {
    guard let g = out.grad else { return }
    let c = x.cols, n = x.rows, workers = Parallel.workers
    let px = x.ptr, pw = w.ptr, pg = g.ptr, pm = mean.ptr, pr = rstd.ptr
    let target = x.requiresGrad ? x.gradBufferForFullWrite() : nil
    let gx = target?.grad.ptr, store = target?.fresh ?? false   // store: dx is fresh, written rather than added to
    // Per-worker partial sums for dw and db, reduced after the parallel loop.
    let partial = Tensor(zeros: [workers, 2 * c]), pp = partial.ptr
    let xhatRow = Tensor(uninitialized: [workers, 2 * c]), scratch = xhatRow.ptr
    Parallel.rows(workers) { w0, w1 in
        for wk in w0..<w1 {
            let s = n * wk / workers, e = n * (wk + 1) / workers
            let dw = pp + wk * 2 * c, db = dw + c
            let xhat = scratch + wk * 2 * c, dxhat = xhat + c
            for r in s..<e {
                let row = px + r * c, gr = pg + r * c, mu = pm[r], rs = pr[r]
                for j in 0..<c {
                    xhat[j] = (row[j] - mu) * rs
                    dxhat[j] = gr[j] * pw[j]
                    dw[j] += gr[j] * xhat[j]
                    db[j] += gr[j]
                }
                guard let gx else { continue }
                let meanD = VMath.sum(dxhat, c) / Float(c)
                let meanDX = VMath.dot(dxhat, xhat, c) / Float(c)
                let dx = gx + r * c
                if store {
                    for j in 0..<c { dx[j] = rs * (dxhat[j] - meanD - xhat[j] * meanDX) }
                } else {
                    for j in 0..<c { dx[j] += rs * (dxhat[j] - meanD - xhat[j] * meanDX) }
                }
            }
        }
    }
    if w.requiresGrad { let gw = w.gradBuffer().ptr; for wk in 0..<workers { for j in 0..<c { gw[j] += pp[wk * 2 * c + j] } } }
    if b.requiresGrad { let gb = b.gradBuffer().ptr; for wk in 0..<workers { for j in 0..<c { gb[j] += pp[wk * 2 * c + c + j] } } }
}
