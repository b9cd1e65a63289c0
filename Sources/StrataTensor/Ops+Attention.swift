// Causal self-attention as one fused op with its own backward:
//   out = softmax(Q·Kᵀ/√D + causal mask)·V, per batch row and head,
// reading Q, K, V straight out of the fused qkv projection [B, T, 3C] through
// strided batched matmuls (no head transposes are copied). An optional
// per-position document start makes the mask document-aware for packed
// sequences: position t attends to [start(t), t].
// `attention` dispatches on the tape's `attentionKernel`: the tiled kernel
// (Ops+TiledAttention.swift) or the materialised one here, which keeps the full
// [B, H, T, T] probabilities for backward and computes the masked upper triangle
// too; by default (`.standard`) the materialised one while its probabilities
// fit a memory budget (it is faster with oneDNN 2.6, see docs/benchmarks.md),
// the tiled one beyond. The materialised kernel is also the tiled one's reference.
// In bf16 (Backend+BF16.swift) its products narrow qkv, dO and dS once each.
// Leaves out: attention dropout.

import Foundation
import StrataCore

extension Tape {
    /// qkv: [B, T, 3C] → [B, T, C]. `docStart` (B·T entries, optional) gives the first position each
    /// query may attend to (0 for plain causal attention).
    public func attention(_ qkv: Tensor, heads h: Int, docStart: [Int32]? = nil) -> Tensor {
        switch attentionKernel.resolved(b: qkv.shape[0], t: qkv.shape[1], heads: h) {
        case .tiled(let tiling): return attentionTiled(qkv, heads: h, docStart: docStart, tiling: tiling)
        case .materialized, .automatic: return attentionMaterialized(qkv, heads: h, docStart: docStart)
        }
    }

    /// The reference kernel: full [B, H, T, T] scores, probabilities kept for backward.
    public func attentionMaterialized(_ qkv: Tensor, heads h: Int, docStart: [Int32]? = nil) -> Tensor {
        precondition(qkv.rank == 3 && qkv.shape[2] % (3 * h) == 0, "attention: qkv \(qkv.shape) must be [B, T, 3C] with C divisible by \(h) heads")
        let b = qkv.shape[0], t = qkv.shape[1], c = qkv.shape[2] / 3, d = c / h
        precondition(docStart == nil || docStart!.count == b * t, "attention: docStart has \(docStart!.count) entries, expected B·T = \(b * t)")
        let scale = 1 / Float(d).squareRoot()
        let v = AttentionViews(b: b, t: t, c: c, h: h)
        let probs = Tensor(uninitialized: [b, h, t, t])
        let out = Tensor(uninitialized: [b, t, c])
        let q = qkv.ptr
        backend.sharingNarrowed([(q, qkv.count)]) {   // bf16 (Backend+BF16.swift): qkv narrowed once for Q, K, V
            backend.matmul(v.heads(q, rowStride: 3 * c), v.headsT(q + c), into: v.square(probs.ptr))
            AttentionKernels.causalSoftmax(probs.ptr, rows: b * h * t, t: t, heads: h, scale: scale, docStart: docStart)
            backend.matmul(v.square(probs.ptr), v.heads(q + 2 * c, rowStride: 3 * c), into: v.heads(out.ptr, rowStride: c))
        }
        if tracks(qkv, out: out) {
            record { [backend] in
                guard let g = out.grad else { return }
                let dqkv = qkv.gradBuffer().ptr
                let dP = Tensor(uninitialized: [b, h, t, t])
                let gv = v.heads(g.ptr, rowStride: c)
                backend.sharingNarrowed([(q, qkv.count), (g.ptr, g.count)]) {   // bf16: each operand narrowed once
                    backend.matmul(gv, v.headsT(q + 2 * c), into: v.square(dP.ptr))                                      // dP = dO·Vᵀ
                    backend.matmul(v.squareT(probs.ptr), gv, into: v.heads(dqkv + 2 * c, rowStride: 3 * c), accumulate: true)  // dV += Pᵀ·dO
                    AttentionKernels.softmaxBackward(probs: probs.ptr, grad: dP.ptr, rows: b * h * t, t: t, scale: scale)   // dS in dP
                    backend.sharingNarrowed([(dP.ptr, dP.count)]) {
                        backend.matmul(v.square(dP.ptr), v.heads(q + c, rowStride: 3 * c), into: v.heads(dqkv, rowStride: 3 * c), accumulate: true)  // dQ += dS·K
                        backend.matmul(v.squareT(dP.ptr), v.heads(q, rowStride: 3 * c), into: v.heads(dqkv + c, rowStride: 3 * c), accumulate: true) // dK += dSᵀ·Q
                    }
                }
            }
        }
        return out
    }
}

/// Strided 4-d views [B, H, rows, cols] over the attention operands.
struct AttentionViews {
    let b: Int, t: Int, c: Int, h: Int
    var d: Int { c / h }
    /// Per-head [T, D] blocks inside rows of length `rowStride` (qkv: 3C, output: C).
    func heads(_ p: UnsafeMutablePointer<Float>, rowStride: Int) -> MatView {
        MatView(p, dims: [b, h, t, d], strides: [t * rowStride, d, rowStride, 1])
    }
    /// Per-head [D, T] transposed view of a block inside qkv rows.
    func headsT(_ p: UnsafeMutablePointer<Float>) -> MatView {
        MatView(p, dims: [b, h, d, t], strides: [t * 3 * c, d, 1, 3 * c])
    }
    /// Contiguous [B, H, T, T] scores/probabilities.
    func square(_ p: UnsafeMutablePointer<Float>) -> MatView {
        MatView(p, dims: [b, h, t, t], strides: [h * t * t, t * t, t, 1])
    }
    func squareT(_ p: UnsafeMutablePointer<Float>) -> MatView {
        MatView(p, dims: [b, h, t, t], strides: [h * t * t, t * t, 1, t])
    }
}

enum AttentionKernels {
    /// In place: row r (query position i = r mod T) becomes softmax(scale·s[lo...i]) with zeros elsewhere.
    static func causalSoftmax(_ p: UnsafeMutablePointer<Float>, rows: Int, t: Int, heads: Int, scale: Float, docStart: [Int32]?) {
        docStart.withOptionalBuffer { ds in
            let box = UnsafeSendableBox(ds)
            Parallel.rows(rows, minPerChunk: max(1, Kernels.grain / t)) { s, e in
                for r in s..<e {
                    let i = r % t, bIndex = r / (t * heads)
                    let lo = box.value.map { Int($0[bIndex * t + i]) } ?? 0
                    let row = p + r * t
                    softmaxRow(row, lo: lo, hi: i, t: t, scale: scale)
                }
            }
        }
    }

    @inline(__always)
    static func softmaxRow(_ row: UnsafeMutablePointer<Float>, lo: Int, hi: Int, t: Int, scale: Float) {
        let n = hi - lo + 1
        let seg = row + lo
        let m = VMath.max(seg, n) * scale
        for j in 0..<n { seg[j] = VMath.exp(seg[j] * scale - m) }
        let inv = 1 / VMath.sum(seg, n)
        for j in 0..<n { seg[j] *= inv }
        if lo > 0 { row.update(repeating: 0, count: lo) }
        if hi + 1 < t { (row + hi + 1).update(repeating: 0, count: t - hi - 1) }
    }

    /// In place: grad ← scale · P ⊙ (grad − Σ_j grad·P), the softmax backward with the score scale folded in.
    static func softmaxBackward(probs: UnsafeMutablePointer<Float>, grad: UnsafeMutablePointer<Float>, rows: Int, t: Int, scale: Float) {
        Parallel.rows(rows, minPerChunk: max(1, Kernels.grain / t)) { s, e in
            for r in s..<e {
                let pr = probs + r * t, gr = grad + r * t
                let dot = VMath.dot(pr, gr, t)
                for j in 0..<t { gr[j] = scale * pr[j] * (gr[j] - dot) }
            }
        }
    }
}

extension Optional where Wrapped == [Int32] {
    func withOptionalBuffer<R>(_ body: (UnsafeBufferPointer<Int32>?) -> R) -> R {
        switch self {
        case .none: return body(nil)
        case .some(let a): return a.withUnsafeBufferPointer { body($0) }
        }
    }
}
