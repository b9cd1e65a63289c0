// Causal self-attention as one fused op with its own backward:
//   out = softmax(Q·Kᵀ/√D + causal mask)·V, per batch row and head,
// reading Q, K, V straight out of the fused qkv projection [B, T, 3C] through
// strided batched matmuls (no head transposes are copied). An optional
// per-position document start makes the mask document-aware for packed
// sequences: position t attends to [start(t), t].
// `attention` dispatches on the tape's `attentionKernel`: the tiled kernel
// (Ops+TiledAttention.swift) or the materialised one here, which keeps the full
// [B, H, T, T] probabilities for backward and, with its query rows in two
// blocks (T a multiple of 32), skips the off-diagonal quarter of the masked
// upper triangle. By default (`.standard`) the materialised one while its
// probabilities fit a memory budget (it is faster with oneDNN 2.6, see
// docs/benchmarks.md), the tiled one beyond. The materialised kernel is also
// the tiled one's reference.
// In bf16 (Backend+BF16.swift) its products narrow qkv and dO once each, and
// the softmax and its backward write P and dS straight into bf16 images, the
// products' operands: P is kept for backward as that image (half the fp32
// square's memory) and the softmax backward reads it rounded.
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

    /// The reference kernel: [B, H, T, T] probabilities kept for backward. With `rowBlocks` n > 1 (T divisible by
    /// n) the query rows go in n blocks of T/n, and block k's products read only keys [0, (k+1)·T/n): of the masked
    /// upper triangle only the diagonal blocks are computed, so the products do (n+1)/2n of the square's work (¾ at
    /// n = 2). Entries outside the computed blocks are never read: the softmax and its backward write zeros there.
    /// By default two blocks where each is a multiple of 16 rows — there the results are bit for bit one block's
    /// (the softmax backward's 16-lane sums see the same terms), so checkpoints and goldens do not move — else one.
    public func attentionMaterialized(_ qkv: Tensor, heads h: Int, docStart: [Int32]? = nil, rowBlocks: Int? = nil) -> Tensor {
        precondition(qkv.rank == 3 && qkv.shape[2] % (3 * h) == 0, "attention: qkv \(qkv.shape) must be [B, T, 3C] with C divisible by \(h) heads")
        let b = qkv.shape[0], t = qkv.shape[1], c = qkv.shape[2] / 3, d = c / h
        precondition(docStart == nil || docStart!.count == b * t, "attention: docStart has \(docStart!.count) entries, expected B·T = \(b * t)")
        let scale = 1 / Float(d).squareRoot()
        let n = rowBlocks ?? (t % 32 == 0 ? 2 : 1)
        let v = AttentionViews(b: b, t: t, c: c, h: h, blocks: n >= 1 && t % n == 0 ? n : 1)
        // Scores, then probabilities in place. In bf16 the softmax writes the probabilities' bf16 image instead (the
        // AV product's and backward's operand) and the fp32 buffer is dropped when the forward ends.
        let scores = Tensor(uninitialized: [b, h, t, t])
        let image = backend.batchedProductsInBF16 ? BF16Buffer(count: scores.count) : nil
        let probs = image.map(AttentionKernels.Square.bf16) ?? .fp32(scores)
        let out = Tensor(uninitialized: [b, t, c])
        let q = qkv.ptr
        backend.sharingNarrowed([(q, qkv.count)]) {   // bf16 (Backend+BF16.swift): qkv narrowed once for Q, K, V
            for k in 0..<v.blocks {   // S[rows k, keys ≤ k] = Q_k·Kᵀ
                backend.matmul(v.heads(q, 3 * c, v.rows(k)), v.headsT(q + c, v.upTo(k)), into: v.block(scores.ptr, v.rows(k), v.upTo(k)))
            }
            AttentionKernels.causalSoftmax(scores.ptr, image: image?.ptr, rows: b * h * t, t: t, heads: h, scale: scale, docStart: docStart)
            for k in 0..<v.blocks {   // O_k = P[rows k, keys ≤ k]·V
                backend.matmul(probs.block(v, v.rows(k), v.upTo(k)), v.heads(q + 2 * c, 3 * c, v.upTo(k)), into: v.heads(out.ptr, c, v.rows(k)))
            }
        }
        if tracks(qkv, out: out) {
            record { [backend] in
                guard let g = out.grad else { return }
                let (dqkv, fresh) = qkv.gradBufferForFullWrite()
                AttentionKernels.backward(backend, v, qkv: qkv, probs: probs, dOut: g, dqkv: dqkv.ptr, accumulate: !fresh, scale: scale)
            }
        }
        return out
    }
}

/// Strided 4-d views [B, H, rows, cols] over the attention operands, by ranges of positions: the query rows go in
/// `blocks` blocks of T/blocks (the materialised kernel's causal skipping), and block k's keys are those up to its end.
struct AttentionViews {
    let b: Int, t: Int, c: Int, h: Int
    var blocks = 1
    var d: Int { c / h }
    var blockRows: Int { t / blocks }
    /// Query rows of block k.
    func rows(_ k: Int) -> Range<Int> { k * blockRows ..< (k + 1) * blockRows }
    /// Keys block k attends to: [0, end of block k).
    func upTo(_ k: Int) -> Range<Int> { 0 ..< (k + 1) * blockRows }
    /// Positions from block k's start to T: the queries that attend to block k's keys.
    func from(_ k: Int) -> Range<Int> { k * blockRows ..< t }
    /// Per-head [positions, D] blocks inside rows of length `rowStride` (qkv: 3C, output: C).
    func heads(_ p: UnsafeMutablePointer<Float>, _ rowStride: Int, _ pos: Range<Int>) -> MatView {
        MatView(p + pos.lowerBound * rowStride, dims: [b, h, pos.count, d], strides: [t * rowStride, d, rowStride, 1])
    }
    /// Per-head [D, positions] transposed view of a block inside qkv rows.
    func headsT(_ p: UnsafeMutablePointer<Float>, _ pos: Range<Int>) -> MatView {
        MatView(p + pos.lowerBound * 3 * c, dims: [b, h, d, pos.count], strides: [t * 3 * c, d, 1, 3 * c])
    }
    /// The [rows, cols] block of the contiguous [B, H, T, T] scores/probabilities (transposed: [cols, rows]), over
    /// fp32 or over a bf16 image of the square.
    func block(_ p: UnsafeMutablePointer<Float>, _ rows: Range<Int>, _ cols: Range<Int>, transposed: Bool = false) -> MatView {
        let l = blockLayout(rows, cols, transposed)
        return MatView(p + l.offset, dims: l.dims, strides: l.strides)
    }
    func block(_ p: UnsafeMutablePointer<UInt16>, _ rows: Range<Int>, _ cols: Range<Int>, transposed: Bool = false) -> MatView {
        let l = blockLayout(rows, cols, transposed)
        return .bf16Image(p + l.offset, dims: l.dims, strides: l.strides)
    }
    private func blockLayout(_ rows: Range<Int>, _ cols: Range<Int>, _ transposed: Bool) -> (offset: Int, dims: [Int], strides: [Int]) {
        (rows.lowerBound * t + cols.lowerBound,
         transposed ? [b, h, cols.count, rows.count] : [b, h, rows.count, cols.count],
         transposed ? [h * t * t, t * t, 1, t] : [h * t * t, t * t, t, 1])
    }
}

enum AttentionKernels {
    /// A [B, H, T, T] operand of the products (probabilities P, their gradient dS): fp32, or only a bf16 image
    /// when the batched products run in bf16 (written so by the softmax kernels, never narrowed from fp32).
    enum Square {
        case fp32(Tensor)
        case bf16(BF16Buffer)

        func block(_ v: AttentionViews, _ rows: Range<Int>, _ cols: Range<Int>, transposed: Bool = false) -> MatView {
            switch self {
            case .fp32(let x): return v.block(x.ptr, rows, cols, transposed: transposed)
            case .bf16(let x): return v.block(x.ptr, rows, cols, transposed: transposed)
            }
        }
    }

    /// Row r (query position i = r mod T) becomes softmax(scale·s[lo...i]) with zeros elsewhere: in place, or, given
    /// `image`, written whole into the bf16 image (the same fp32 values, rounded) and the scores left as they were.
    static func causalSoftmax(_ p: UnsafeMutablePointer<Float>, image: UnsafeMutablePointer<UInt16>? = nil, rows: Int, t: Int,
                              heads: Int, scale: Float, docStart: [Int32]?) {
        docStart.withOptionalBuffer { ds in
            let box = UnsafeSendableBox(ds), out = UnsafeSendableBox(image)
            Parallel.rows(rows, minPerChunk: max(1, Kernels.grain / t)) { s, e in
                let tmp = out.value == nil ? nil : UnsafeMutablePointer<Float>.allocate(capacity: t)
                defer { tmp?.deallocate() }
                for r in s..<e {
                    let i = r % t, bIndex = r / (t * heads)
                    let lo = box.value.map { Int($0[bIndex * t + i]) } ?? 0
                    guard let tmp, let image = out.value else { softmaxRow(p + r * t, lo: lo, hi: i, t: t, scale: scale); continue }
                    softmaxRow(p + r * t, into: tmp, lo: lo, hi: i, t: t, scale: scale)   // the scores' buffer is not written
                    BF16.narrowSpan(tmp, image + r * t, t)
                }
            }
        }
    }

    /// One row: out[lo...hi] = softmax(scale·row[lo...hi]), zeros elsewhere; `out` is the row itself (in place) or a
    /// buffer apart from it. The two cases run separate loops, so neither writes through a pointer that may alias
    /// what it reads (LLVM would keep such a loop scalar).
    @inline(__always)
    static func softmaxRow(_ row: UnsafeMutablePointer<Float>, into out: UnsafeMutablePointer<Float>? = nil, lo: Int, hi: Int, t: Int, scale: Float) {
        let n = hi - lo + 1, o = out ?? row
        let src = row + lo, dst = o + lo
        let m = VMath.max(src, n) * scale
        if o == row {
            for j in 0..<n { src[j] = VMath.exp(src[j] * scale - m) }
        } else {
            for j in 0..<n { dst[j] = VMath.exp(src[j] * scale - m) }
        }
        let inv = 1 / VMath.sum(dst, n)
        for j in 0..<n { dst[j] *= inv }
        if lo > 0 { o.update(repeating: 0, count: lo) }
        if hi + 1 < t { (o + hi + 1).update(repeating: 0, count: t - hi - 1) }
    }

    /// The materialised kernel's backward, block by block as its forward (shape legend: P, dP [B, H, T, T]):
    ///   dP = dO·Vᵀ;  dV += Pᵀ·dO;  dS = softmax backward of dP;  dQ += dS·K;  dK += dSᵀ·Q.
    /// Query block k reads keys up to its end; key block j is read by the queries from its start on. Each block's
    /// products write disjoint rows of dQ, dK and dV that together cover them: without `accumulate` (dqkv fresh) they
    /// store rather than add.
    static func backward(_ backend: Backend, _ v: AttentionViews, qkv: Tensor, probs: Square, dOut g: Tensor,
                         dqkv: UnsafeMutablePointer<Float>, accumulate: Bool, scale: Float) {
        let c = v.c, q = qkv.ptr, dP = Tensor(uninitialized: [v.b, v.h, v.t, v.t])
        backend.sharingNarrowed([(q, qkv.count), (g.ptr, g.count)]) {   // bf16: each operand narrowed once
            for k in 0..<v.blocks {   // dP[rows k, keys ≤ k] = dO_k·Vᵀ
                backend.matmul(v.heads(g.ptr, c, v.rows(k)), v.headsT(q + 2 * c, v.upTo(k)), into: v.block(dP.ptr, v.rows(k), v.upTo(k)))
            }
            for j in 0..<v.blocks {   // dV_j += P[rows ≥ j, keys j]ᵀ·dO[rows ≥ j]
                backend.matmul(probs.block(v, v.from(j), v.rows(j), transposed: true), v.heads(g.ptr, c, v.from(j)),
                               into: v.heads(dqkv + 2 * c, 3 * c, v.rows(j)), accumulate: accumulate)
            }
            let rows = v.b * v.h * v.t, dS: Square
            switch probs {   // dS in dP's buffer, or as a bf16 image from P's
            case .fp32(let p):
                softmaxBackward(probs: p.ptr, grad: dP.ptr, rows: rows, t: v.t, blockRows: v.blockRows, scale: scale)
                dS = .fp32(dP)
            case .bf16(let p):
                let image = BF16Buffer(count: dP.count)
                softmaxBackward(probs: p.ptr, grad: dP.ptr, into: image.ptr, rows: rows, t: v.t, scale: scale)
                dS = .bf16(image)
            }
            for k in 0..<v.blocks {   // dQ_k += dS[rows k, keys ≤ k]·K
                backend.matmul(dS.block(v, v.rows(k), v.upTo(k)), v.heads(q + c, 3 * c, v.upTo(k)),
                               into: v.heads(dqkv, 3 * c, v.rows(k)), accumulate: accumulate)
            }
            for j in 0..<v.blocks {   // dK_j += dS[rows ≥ j, keys j]ᵀ·Q[rows ≥ j]
                backend.matmul(dS.block(v, v.from(j), v.rows(j), transposed: true), v.heads(q, 3 * c, v.from(j)),
                               into: v.heads(dqkv + c, 3 * c, v.rows(j)), accumulate: accumulate)
            }
        }
    }

    /// In place, row r (query position i = r mod T): grad[0...i] ← scale · P ⊙ (grad − Σ_j grad·P), the softmax
    /// backward with the score scale folded in; grad past i (masked, P = 0, possibly never computed) ← 0.
    /// Only entries before the end of the row's query block (of `blockRows` rows; T when one block) hold a product.
    /// The dot runs over whole SIMD lane groups while they stay inside that end, so it sums in the order a full row's
    /// would (the terms past i are P = 0): the blocked kernel trains bit for bit as the one-block one did.
    static func softmaxBackward(probs: UnsafeMutablePointer<Float>, grad: UnsafeMutablePointer<Float>, rows: Int, t: Int,
                                blockRows: Int, scale: Float) {
        let lanes = VMath.V.scalarCount
        Parallel.rows(rows, minPerChunk: max(1, Kernels.grain / t)) { s, e in
            for r in s..<e {
                let pr = probs + r * t, gr = grad + r * t, i = r % t, n = i + 1
                let computed = (i / blockRows + 1) * blockRows
                let dot = VMath.dot(pr, gr, Swift.min((n + lanes - 1) / lanes * lanes, t, computed))
                for j in 0..<n { gr[j] = scale * pr[j] * (gr[j] - dot) }
                if n < t { (gr + n).update(repeating: 0, count: t - n) }
            }
        }
    }

    /// The same from P's bf16 image, writing dS's bf16 image whole (zeros past i); dP's buffer is only read.
    static func softmaxBackward(probs: UnsafeMutablePointer<UInt16>, grad: UnsafeMutablePointer<Float>,
                                into out: UnsafeMutablePointer<UInt16>, rows: Int, t: Int, scale: Float) {
        Parallel.rows(rows, minPerChunk: max(1, Kernels.grain / t)) { s, e in
            let row = UnsafeMutablePointer<Float>.allocate(capacity: t)
            defer { row.deallocate() }
            for r in s..<e {
                let gr = grad + r * t, n = r % t + 1
                BF16.widenSpan(probs + r * t, row, n)
                let dot = VMath.dot(row, gr, n)
                for j in 0..<n { row[j] = scale * row[j] * (gr[j] - dot) }
                if n < t { (row + n).update(repeating: 0, count: t - n) }
                BF16.narrowSpan(row, out + r * t, t)
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
