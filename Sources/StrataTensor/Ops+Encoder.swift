// The ops a bidirectional (BERT/RoBERTa) encoder adds: the exact erf GELU and
// full self-attention with a key padding mask (every query sees every
// non-padded key of its row, before and after it).
//   S = Q·Kᵀ/√D (+ −∞ at padded keys),  P = softmax_rows(S),  O = P·V
// Shapes: B batch, T time, C = H·D channels, H heads; q, k, v, out: [B·T, C].
// Leaves out: attention dropout, relative position biases, a tiled kernel (this one
// keeps the [B, H, T, T] probabilities and loops per row and head: encoder runs
// here are small).

import Foundation
import StrataCore

extension Tape {
    /// GELU with the exact Gaussian CDF: 0.5·x·(1 + erf(x/√2)) (BERT/RoBERTa's "gelu").
    public func geluErf(_ x: Tensor) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        let px = x.ptr, po = out.ptr
        Kernels.spans(x.count, period: x.count) { i, _, len in
            for k in i..<(i + len) { po[k] = 0.5 * px[k] * (1 + Foundation.erf(px[k] * 0.707_106_78)) }
        }
        if tracks(x, out: out) {
            record {
                guard let g = out.grad else { return }
                let gx = x.gradBuffer().ptr, pg = g.ptr
                Kernels.spans(x.count, period: x.count) { i, _, len in
                    for k in i..<(i + len) {
                        // d/dx = Φ(x) + x·φ(x)
                        let v = px[k], cdf = 0.5 * (1 + Foundation.erf(v * 0.707_106_78))
                        gx[k] += pg[k] * (cdf + v * 0.398_942_28 * Foundation.exp(-0.5 * v * v))
                    }
                }
            }
        }
        return out
    }

    /// Bidirectional multi-head attention of q, k, v [B·T, C] over rows of T tokens; `keyMask` (B·T) marks
    /// the tokens that may be attended to (false: padding). A row with no attendable key gets zero output.
    public func bidirectionalAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads h: Int, time t: Int, keyMask: [Bool]) -> Tensor {
        let c = q.cols, n = q.rows, b = n / t, d = c / h
        precondition(k.shape == q.shape && v.shape == q.shape && n == b * t && c == h * d && keyMask.count == n,
                     "bidirectionalAttention: q \(q.shape), k \(k.shape), v \(v.shape), T \(t), \(keyMask.count) mask entries")
        let probs = Tensor(zeros: [b, h, t, t]), out = Tensor(zeros: [n, c])
        let scale = 1 / Float(d).squareRoot()
        let pq = q.ptr, pk = k.ptr, pv = v.ptr, pp = probs.ptr, po = out.ptr
        keyMask.withUnsafeBufferPointer { mp in
            let mask = UnsafeSendableBox(mp)
            Parallel.rows(b * h) { s, e in
                for job in s..<e {
                    let bi = job / h, hh = job % h
                    for i in 0..<t {
                        let row = pp + (job * t + i) * t, qi = pq + (bi * t + i) * c + hh * d
                        var m = -Float.infinity
                        for j in 0..<t where mask.value[bi * t + j] {
                            row[j] = VMath.dot(qi, pk + (bi * t + j) * c + hh * d, d) * scale; m = max(m, row[j])
                        }
                        guard m > -Float.infinity else { continue }
                        var z: Float = 0
                        for j in 0..<t where mask.value[bi * t + j] { row[j] = VMath.exp(row[j] - m); z += row[j] }
                        let o = po + (bi * t + i) * c + hh * d
                        for j in 0..<t where mask.value[bi * t + j] {
                            row[j] /= z
                            let vj = pv + (bi * t + j) * c + hh * d
                            for x in 0..<d { o[x] += row[j] * vj[x] }
                        }
                    }
                }
            }
        }
        if tracks(q, k, v, out: out) {
            record { encoderAttentionBackward(q, k, v, out, probs, heads: h, time: t, scale: scale) }
        }
        return out
    }
}

/// dV = Pᵀ·dO;  dP = dO·Vᵀ;  dS = P ⊙ (dP − Σ_j dP⊙P);  dQ = dS·K/√D;  dK = dSᵀ·Q/√D  (per row and head;
/// padded keys have P = 0 and so get no gradient through S).
private func encoderAttentionBackward(_ q: Tensor, _ k: Tensor, _ v: Tensor, _ out: Tensor, _ probs: Tensor,
                                      heads h: Int, time t: Int, scale: Float) {
    guard let g = out.grad else { return }
    let c = q.cols, n = q.rows, b = n / t, d = c / h
    let gq = q.requiresGrad ? q.gradBuffer().ptr : nil, gk = k.requiresGrad ? k.gradBuffer().ptr : nil
    let gv = v.requiresGrad ? v.gradBuffer().ptr : nil
    let pq = q.ptr, pk = k.ptr, pv = v.ptr, pp = probs.ptr, pg = g.ptr
    Parallel.rows(b * h) { s, e in   // each job writes only its own (row, head) slices
        var ds = [Float](repeating: 0, count: t)
        for job in s..<e {
            let bi = job / h, hh = job % h
            for i in 0..<t {
                let row = pp + (job * t + i) * t, gi = pg + (bi * t + i) * c + hh * d
                var dot: Float = 0
                for j in 0..<t {
                    let off = (bi * t + j) * c + hh * d
                    let dp = VMath.dot(gi, pv + off, d)
                    ds[j] = dp; dot += dp * row[j]
                    if let gv, row[j] != 0 { for x in 0..<d { gv[off + x] += row[j] * gi[x] } }
                }
                let qi = pq + (bi * t + i) * c + hh * d
                for j in 0..<t where row[j] != 0 {
                    let sj = row[j] * (ds[j] - dot) * scale, off = (bi * t + j) * c + hh * d
                    if let gq { for x in 0..<d { gq[(bi * t + i) * c + hh * d + x] += sj * pk[off + x] } }
                    if let gk { for x in 0..<d { gk[off + x] += sj * qi[x] } }
                }
            }
        }
    }
}
