// The ops a Llama-family decoder adds to GPT-2's: RMSNorm, rotary position
// embeddings (transformers' rotate-half convention), the SwiGLU gate, and the
// packing of grouped-query projections into the fused attention op's [.., 3·H·D]
// layout (each key/value head repeated for the H/Hkv query heads that share it).
// Shapes: N = B·T tokens, H query heads, Hkv key/value heads, D head size, F MLP width.
// Leaves out: rope scaling variants (linear, dynamic, yarn, llama3; the model
// config refuses them), partial rotary factors, fused QK-norm.

import Foundation
import StrataCore

extension Tape {
    /// RMSNorm per row of the last dim C: y = x / √(mean(x²) + eps) · w. x: [..., C], w: [C].
    public func rmsNorm(_ x: Tensor, _ w: Tensor, eps: Float) -> Tensor {
        let c = x.cols, n = x.rows
        precondition(w.count == c, "rmsNorm: weight \(w.shape) does not match input \(x.shape)")
        let out = Tensor(uninitialized: x.shape), rstd = Tensor(uninitialized: [n])
        let px = x.ptr, pw = w.ptr, po = out.ptr, pr = rstd.ptr
        Parallel.rows(n, minPerChunk: max(1, Kernels.grain / c)) { s, e in
            for r in s..<e {
                let row = px + r * c, y = po + r * c
                let rs = 1 / (VMath.sumSquares(row, c) / Float(c) + eps).squareRoot()
                pr[r] = rs
                for j in 0..<c { y[j] = pw[j] * (row[j] * rs) }
            }
        }
        if tracks(x, w, out: out) { record { rmsNormBackward(x, w, out, rstd) } }
        return out
    }

    /// SwiGLU gate: y = silu(a) ⊙ b with silu(a) = a·σ(a). a, b: [N, F].
    public func swiglu(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape, "swiglu: shapes \(a.shape) and \(b.shape) differ")
        let out = Tensor(uninitialized: a.shape)
        let pa = a.ptr, pb = b.ptr, po = out.ptr
        Kernels.spans(a.count, period: a.count) { i, _, len in
            for k in i..<(i + len) { let s = 1 / (1 + VMath.exp(-pa[k])); po[k] = pa[k] * s * pb[k] }
        }
        if tracks(a, b, out: out) {
            record {
                guard let g = out.grad else { return }
                let pg = g.ptr, ga = a.requiresGrad ? a.gradBuffer().ptr : nil, gb = b.requiresGrad ? b.gradBuffer().ptr : nil
                Kernels.spans(a.count, period: a.count) { i, _, len in
                    for k in i..<(i + len) {
                        let s = 1 / (1 + VMath.exp(-pa[k])), silu = pa[k] * s
                        // d silu / da = σ(a)·(1 + a·(1 − σ(a)))
                        ga?[k] += pg[k] * pb[k] * s * (1 + pa[k] * (1 - s))
                        gb?[k] += pg[k] * silu
                    }
                }
            }
        }
        return out
    }

    /// Rotary embedding of x [N, H·D] (heads of size D side by side), token i at `positions[i]`:
    /// per head, with half = D/2 and angle θ_j = pos · rope.inverseFrequency[j] (j < half),
    ///   y[j]        = x[j]·cos θ_j − x[j+half]·sin θ_j
    ///   y[j + half] = x[j+half]·cos θ_j + x[j]·sin θ_j      (transformers' rotate_half)
    public func rope(_ x: Tensor, heads h: Int, positions: [Int32], table: RotaryTable) -> Tensor {
        let d = table.headDim, n = positions.count
        precondition(x.count == n * h * d, "rope: input \(x.shape) is not [\(n), \(h)·\(d)]")
        let out = Tensor(uninitialized: x.shape)
        table.rotate(x.ptr, into: out.ptr, heads: h, positions: positions, inverse: false)
        if tracks(x, out: out) {
            record {
                // The rotation is orthogonal: dx = Rᵀ·g, a rotation by −θ.
                guard let g = out.grad else { return }
                let back = Tensor(uninitialized: x.shape)
                table.rotate(g.ptr, into: back.ptr, heads: h, positions: positions, inverse: true)
                Kernels.accumulate(x.gradBuffer().ptr, back.ptr, x.count)
            }
        }
        return out
    }

    /// Packs q [N, H·D], k and v [N, Hkv·D] into [N, 3·H·D] for `attention`: query head j reads
    /// key/value head j / (H/Hkv) (transformers' repeat_kv). Backward sums each group's gradients.
    public func groupedQKV(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads h: Int, kvHeads hk: Int) -> Tensor {
        let n = q.rows, d = q.cols / h, c = h * d, group = h / hk
        precondition(h % hk == 0 && q.cols == c && k.shape == [n, hk * d] && v.shape == [n, hk * d],
                     "groupedQKV: q \(q.shape), k \(k.shape), v \(v.shape) do not fit \(h) heads over \(hk) kv heads")
        let out = Tensor(uninitialized: [n, 3 * c])
        let pq = q.ptr, pk = k.ptr, pv = v.ptr, po = out.ptr
        Parallel.rows(n, minPerChunk: max(1, Kernels.grain / (3 * c))) { s, e in
            for i in s..<e {
                let row = po + i * 3 * c
                (row).update(from: pq + i * c, count: c)
                for j in 0..<h {
                    (row + c + j * d).update(from: pk + (i * hk + j / group) * d, count: d)
                    (row + 2 * c + j * d).update(from: pv + (i * hk + j / group) * d, count: d)
                }
            }
        }
        if tracks(q, k, v, out: out) {
            record {
                guard let g = out.grad else { return }
                let pg = g.ptr
                let gq = q.requiresGrad ? q.gradBuffer().ptr : nil, gk = k.requiresGrad ? k.gradBuffer().ptr : nil
                let gv = v.requiresGrad ? v.gradBuffer().ptr : nil
                Parallel.rows(n, minPerChunk: max(1, Kernels.grain / (3 * c))) { s, e in
                    for i in s..<e {
                        let row = pg + i * 3 * c
                        if let gq { for x in 0..<c { gq[i * c + x] += row[x] } }
                        for j in 0..<h {
                            let kv = (i * hk + j / group) * d
                            if let gk { for x in 0..<d { gk[kv + x] += row[c + j * d + x] } }
                            if let gv { for x in 0..<d { gv[kv + x] += row[2 * c + j * d + x] } }
                        }
                    }
                }
            }
        }
        return out
    }
}

/// cos/sin of rotary angles, computed in Double from θ_j = pos · base^(−2j/D) and kept per position
/// up to `maxPositions` (positions past it are computed on the fly).
public final class RotaryTable: @unchecked Sendable {
    public let headDim: Int, base: Double
    let cosines: [Float], sines: [Float], cached: Int

    public init(headDim: Int, base: Double, maxPositions: Int) {
        precondition(headDim > 0 && headDim % 2 == 0, "RotaryTable: head size \(headDim) must be even")
        self.headDim = headDim; self.base = base
        cached = max(0, min(maxPositions, 1 << 16))
        let half = headDim / 2
        var c = [Float](repeating: 0, count: cached * half), s = c
        for p in 0..<cached { for j in 0..<half { let a = Self.angle(p, j, headDim, base); c[p * half + j] = Float(cos(a)); s[p * half + j] = Float(sin(a)) } }
        cosines = c; sines = s
    }

    /// transformers computes inv_freq = 1 / base^(2j/D) in float32, then pos · inv_freq in float32.
    static func angle(_ p: Int, _ j: Int, _ d: Int, _ base: Double) -> Double {
        let inv = Float(1 / Foundation.pow(base, Double(2 * j) / Double(d)))
        return Double(Float(p) * inv)
    }

    /// out = R(θ)·x per head (R(−θ) when `inverse`); x and out: [N, H·D].
    func rotate(_ x: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>, heads h: Int, positions: [Int32], inverse: Bool) {
        let d = headDim, half = d / 2, n = positions.count, sign: Float = inverse ? -1 : 1
        positions.withUnsafeBufferPointer { pp in
            let box = UnsafeSendableBox(pp)
            Parallel.rows(n, minPerChunk: max(1, Kernels.grain / (h * d))) { s, e in
                var cs = [Float](repeating: 0, count: half), sn = cs
                for i in s..<e {
                    let p = Int(box.value[i])
                    for j in 0..<half {
                        if p < cached { cs[j] = cosines[p * half + j]; sn[j] = sign * sines[p * half + j] }
                        else { let a = Self.angle(p, j, d, base); cs[j] = Float(cos(a)); sn[j] = sign * Float(sin(a)) }
                    }
                    for hh in 0..<h {
                        let src = x + (i * h + hh) * d, dst = out + (i * h + hh) * d
                        for j in 0..<half {
                            let a = src[j], b = src[j + half]
                            dst[j] = a * cs[j] - b * sn[j]
                            dst[j + half] = b * cs[j] + a * sn[j]
                        }
                    }
                }
            }
        }
    }
}

private func rmsNormBackward(_ x: Tensor, _ w: Tensor, _ out: Tensor, _ rstd: Tensor) {
    // With x̂ = x·r, r = (mean(x²)+eps)^(-1/2), y = w ⊙ x̂:
    //   dw += Σ_rows g ⊙ x̂;   dx = r·(g⊙w − x̂ · mean(g⊙w⊙x̂))
    guard let g = out.grad else { return }
    let c = x.cols, n = x.rows, workers = Parallel.workers
    let px = x.ptr, pw = w.ptr, pg = g.ptr, pr = rstd.ptr
    let gx: UnsafeMutablePointer<Float>? = x.requiresGrad ? x.gradBuffer().ptr : nil
    let partial = Tensor(zeros: [workers, c]), pp = partial.ptr
    Parallel.rows(workers) { w0, w1 in
        for wk in w0..<w1 {
            let s = n * wk / workers, e = n * (wk + 1) / workers, dw = pp + wk * c
            for r in s..<e {
                let row = px + r * c, gr = pg + r * c, rs = pr[r]
                var dot: Float = 0
                for j in 0..<c { let xh = row[j] * rs; dw[j] += gr[j] * xh; dot += gr[j] * pw[j] * xh }
                guard let gx else { continue }
                let m = dot / Float(c), dx = gx + r * c
                for j in 0..<c { dx[j] += rs * (gr[j] * pw[j] - row[j] * rs * m) }
            }
        }
    }
    if w.requiresGrad { let gw = w.gradBuffer().ptr; for wk in 0..<workers { for j in 0..<c { gw[j] += pp[wk * c + j] } } }
}
