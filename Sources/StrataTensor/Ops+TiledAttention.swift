// Tiled causal attention with online softmax (the flash-attention scheme, on the
// CPU). Queries are taken in blocks of `queryBlock` rows; for each block only the
// keys it may see are visited, in chunks of at most `keyChunk` columns:
//   chunks start at the block's earliest document start (rounded down to a block
//   boundary) and end at the block's last query, so key blocks wholly above the
//   diagonal or wholly before every row's document start are never computed.
// Per row the forward keeps a running max m and sum l of exp(scale·s − m) and
// rescales the partial output when m grows:
//   m' = max(m, max_j scale·s_j),  α = exp(m − m'),  l' = α·l + Σ_j exp(scale·s_j − m'),
//   O' = α·O + P·V_chunk,           finally O /= l and lse = m + log l.
// The only state kept for backward is lse [B, H, T]; backward recomputes each
// block's probabilities P = exp(scale·S − lse) and, with δ = rowsum(dO ⊙ O):
//   dV += Pᵀ·dO,  dS = scale·P ⊙ (dO·Vᵀ − δ),  dQ += dS·K,  dK += dSᵀ·Q.
// Every product is a oneDNN matmul batched over [B, H] (no document mask) or
// over the H heads of one batch row (document mask: each row skips its own
// keys). Q, K, V (and dO) are first copied into dense per-head buffers
// [B, H, T, D], and dQ, dK, dV accumulated in such buffers then added back:
// oneDNN 2.6 runs small products over strided views of qkv far slower. Scratch
// is a few [B, H, T, D] buffers and two [B, H, queryBlock, keyChunk]: linear in T.
// Shapes: B batch, T time, C channels, H heads, D = C / H head size.
// Leaves out: attention dropout, splitting work across batch rows in Strata's
// own threads (oneDNN parallelises each product; the row kernels split rows).

import Foundation
import StrataCore

/// Block sizes of the tiled kernel. `keyChunk` must be a multiple of `queryBlock` so that the
/// products come in a bounded set of shapes (each shape is one cached oneDNN primitive).
public struct AttentionTiling: Sendable, Equatable {
    public var queryBlock: Int
    public var keyChunk: Int
    public init(queryBlock: Int, keyChunk: Int) {
        precondition(queryBlock >= 1 && keyChunk >= queryBlock && keyChunk % queryBlock == 0,
                     "AttentionTiling: keyChunk \(keyChunk) must be a positive multiple of queryBlock \(queryBlock)")
        self.queryBlock = queryBlock; self.keyChunk = keyChunk
    }
    /// 256-row query blocks, 2048-key chunks: the fewest, largest products of the sizes `strata bench kernels`
    /// tried, the most robust on a loaded machine (docs/benchmarks.md).
    public static let standard = AttentionTiling(queryBlock: 256, keyChunk: 2048)
}

/// The causal-attention kernel a tape runs.
public enum AttentionKernel: Sendable, Equatable {
    /// Query blocks × key chunks with online softmax; keeps lse [B, H, T] for backward.
    case tiled(AttentionTiling)
    /// Full [B, H, T, T] scores; keeps the probabilities for backward (the reference).
    case materialized
    /// Materialised while one layer's [B, H, T, T] probabilities fit in `budgetBytes`, tiled (standard blocks)
    /// beyond: on oneDNN 2.6 the materialised products are faster, the tiled kernel's memory is linear in T.
    case automatic(budgetBytes: Int)

    /// The default: materialised up to 64 MiB of probabilities per layer (nano: B=8, T=256 holds 12 MiB).
    public static let standard = AttentionKernel.automatic(budgetBytes: 64 << 20)

    /// The concrete kernel for a [B, T] batch with H heads.
    public func resolved(b: Int, t: Int, heads h: Int) -> AttentionKernel {
        guard case .automatic(let budget) = self else { return self }
        return b * h * t * t * MemoryLayout<Float>.size <= budget ? .materialized : .tiled(.standard)
    }
}

extension Tape {
    /// qkv: [B, T, 3C] → [B, T, C], as `attention`, computed block by block.
    public func attentionTiled(_ qkv: Tensor, heads h: Int, docStart: [Int32]? = nil, tiling: AttentionTiling = .standard) -> Tensor {
        precondition(qkv.rank == 3 && qkv.shape[2] % (3 * h) == 0, "attention: qkv \(qkv.shape) must be [B, T, 3C] with C divisible by \(h) heads")
        let b = qkv.shape[0], t = qkv.shape[1], c = qkv.shape[2] / 3
        precondition(docStart == nil || docStart!.count == b * t, "attention: docStart has \(docStart!.count) entries, expected B·T = \(b * t)")
        let plan = TiledAttention(b: b, t: t, c: c, h: h, tiling: tiling, docStart: docStart)
        let out = Tensor(zeros: [b, t, c])
        let lse = Tensor(uninitialized: [b, h, t])
        plan.forward(qkv.ptr, out: out.ptr, lse: lse.ptr, backend)
        if tracks(qkv, out: out) {
            record { [backend] in
                guard let g = out.grad else { return }
                plan.backward(qkv.ptr, out: out.ptr, lse: lse.ptr, dOut: g.ptr, dqkv: qkv.gradBuffer().ptr, backend)
            }
        }
        return out
    }
}

/// One query block of a group of batch rows (all B rows without a document mask, one row with it) and the
/// key chunks it visits.
struct AttentionBlock {
    let row: Int          // first batch row of the group
    let group: Int        // batch rows in the group
    let q0: Int, q1: Int  // query positions [q0, q1)
    let chunks: [(k0: Int, k1: Int)]
    var rows: Int { q1 - q0 }
    /// Score rows of the block: group · H · rows, ordered (batch row, head, query).
    func decompose(_ job: Int, heads h: Int) -> (bi: Int, hh: Int, i: Int) {
        (row + job / (h * rows), (job / rows) % h, job % rows)
    }
}

struct TiledAttention {
    let b: Int, t: Int, c: Int, h: Int, d: Int
    let tiling: AttentionTiling
    let scale: Float
    let docStart: [Int32]?

    init(b: Int, t: Int, c: Int, h: Int, tiling: AttentionTiling, docStart: [Int32]?) {
        self.b = b; self.t = t; self.c = c; self.h = h; d = c / h
        self.tiling = tiling; self.docStart = docStart
        scale = 1 / Float(d).squareRoot()
    }

    /// First key position query `r` of batch row `bi` may attend to.
    @inline(__always) func lo(_ bi: Int, _ r: Int) -> Int { docStart.map { Int($0[bi * t + r]) } ?? 0 }

    /// Every (batch group, query block) with its key chunks, in the order both passes visit them. Without a
    /// document mask one group holds all B rows (fewer, larger products); with one, each row is its own group
    /// so its blocks skip the keys before its own documents.
    var blocks: [AttentionBlock] {
        var out = [AttentionBlock]()
        let bq = tiling.queryBlock, kc = tiling.keyChunk, group = docStart == nil ? b : 1
        for bi in stride(from: 0, to: b, by: group) {
            for q0 in stride(from: 0, to: t, by: bq) {
                let q1 = min(t, q0 + bq)
                let first = (q0..<q1).map { lo(bi, $0) }.min()!
                let kLo = (min(first, q0) / bq) * bq
                let chunks = stride(from: kLo, to: q1, by: kc).map { (k0: $0, k1: min($0 + kc, q1)) }
                out.append(AttentionBlock(row: bi, group: group, q0: q0, q1: q1, chunks: chunks))
            }
        }
        return out
    }

    /// Rows p0..<p0+rows of the group's heads in a dense [B, H, T, D] buffer: [G, H, rows, D], or transposed [G, H, D, rows].
    func dense(_ p: UnsafeMutablePointer<Float>, _ blk: AttentionBlock, _ p0: Int, _ rows: Int, transposed: Bool = false) -> MatView {
        let base = p + (blk.row * h * t + p0) * d
        return transposed ? MatView(base, dims: [blk.group, h, d, rows], strides: [h * t * d, t * d, 1, d])
                          : MatView(base, dims: [blk.group, h, rows, d], strides: [h * t * d, t * d, d, 1])
    }
    /// A dense [B, H, T, D] copy of the per-head slices of rows of length `stride` (qkv: 3C, out: C). oneDNN 2.6
    /// multiplies dense blocks far faster than small strided views of qkv, and the copy is O(B·T·C).
    func pack(_ src: UnsafeMutablePointer<Float>, stride: Int) -> Tensor {
        let dst = Tensor(uninitialized: [b, h, t, d]), po = dst.ptr, (t, h, d) = (self.t, self.h, self.d)
        Parallel.rows(b * h, minPerChunk: 1) { s, e in
            for bh in s..<e {
                let bi = bh / h, hh = bh % h
                for r in 0..<t { (po + (bh * t + r) * d).update(from: src + (bi * t + r) * stride + hh * d, count: d) }
            }
        }
        return dst
    }
    /// The reverse of `pack`, adding: dst[rows of length stride] += src[dense].
    func unpackAdd(_ src: Tensor, stride: Int, into dst: UnsafeMutablePointer<Float>) {
        let ps = src.ptr, (t, h, d) = (self.t, self.h, self.d)
        Parallel.rows(b * t, minPerChunk: 16) { s, e in
            for bt in s..<e {
                let bi = bt / t, r = bt % t
                for hh in 0..<h {
                    let from = ps + ((bi * h + hh) * t + r) * d, to = dst + bt * stride + hh * d
                    for k in 0..<d { to[k] += from[k] }
                }
            }
        }
    }
    /// Contiguous [G, H, rows, cols] scratch, or its transpose [G, H, cols, rows].
    func scores(_ p: UnsafeMutablePointer<Float>, _ blk: AttentionBlock, _ cols: Int, transposed: Bool = false) -> MatView {
        let rows = blk.rows, g = blk.group
        return transposed ? MatView(p, dims: [g, h, cols, rows], strides: [h * rows * cols, rows * cols, 1, cols])
                          : MatView(p, dims: [g, h, rows, cols], strides: [h * rows * cols, rows * cols, cols, 1])
    }
    /// Floats of one scratch buffer (the largest group's block).
    var scratch: Int { (docStart == nil ? b : 1) * h * min(tiling.queryBlock, t) * min(tiling.keyChunk, t) }
    var rowState: Int { (docStart == nil ? b : 1) * h * min(tiling.queryBlock, t) }


    /// The visible columns [jLo, jHi] (inclusive, relative to k0) of query r in chunk [k0, k1); empty when jHi < jLo.
    @inline(__always) func visible(_ bi: Int, _ r: Int, _ k0: Int, _ k1: Int) -> (Int, Int) {
        (max(lo(bi, r), k0) - k0, min(r, k1 - 1) - k0)
    }

    func forward(_ qkv: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>, _ backend: Backend) {
        let s = Tensor(uninitialized: [scratch])
        let m = Tensor(uninitialized: [rowState]), l = Tensor(uninitialized: [rowState])
        let qd = pack(qkv, stride: 3 * c), kd = pack(qkv + c, stride: 3 * c), vd = pack(qkv + 2 * c, stride: 3 * c)
        let od = Tensor(zeros: [b, h, t, d])
        for blk in blocks {
            let n = blk.rows
            m.fill(-.infinity); l.fill(0)
            for (k0, k1) in blk.chunks {
                let w = k1 - k0
                backend.matmul(dense(qd.ptr, blk, blk.q0, n), dense(kd.ptr, blk, k0, w, transposed: true), into: scores(s.ptr, blk, w)) // S = Q·Kᵀ
                onlineSoftmax(blk, k0, k1, s: s.ptr, m: m.ptr, l: l.ptr, o: od.ptr)
                backend.matmul(scores(s.ptr, blk, w), dense(vd.ptr, blk, k0, w), into: dense(od.ptr, blk, blk.q0, n), accumulate: true) // O += P·V
            }
            finish(blk, m: m.ptr, l: l.ptr, o: od.ptr, out: out, lse: lse)
        }
    }

    /// Scores of one chunk → unnormalised probabilities exp(scale·s − m'), updating m, l and rescaling O rows by α.
    private func onlineSoftmax(_ blk: AttentionBlock, _ k0: Int, _ k1: Int, s: UnsafeMutablePointer<Float>,
                               m: UnsafeMutablePointer<Float>, l: UnsafeMutablePointer<Float>, o: UnsafeMutablePointer<Float>) {
        let w = k1 - k0
        Parallel.rows(blk.group * h * blk.rows, minPerChunk: max(1, Kernels.grain / w)) { r0, r1 in
            for job in r0..<r1 {
                let (bi, hh, i) = blk.decompose(job, heads: h), r = blk.q0 + i
                let row = s + job * w
                let (jLo, jHi) = visible(bi, r, k0, k1)
                guard jHi >= jLo else { row.update(repeating: 0, count: w); continue }
                let mNew = Swift.max(m[job], VMath.max(row + jLo, jHi - jLo + 1) * scale)
                let alpha: Float = m[job] == -.infinity ? 0 : VMath.exp(m[job] - mNew)
                for j in jLo...jHi { row[j] = VMath.exp(row[j] * scale - mNew) }     // no reduction here: this loop vectorises
                let sum = VMath.sum(row + jLo, jHi - jLo + 1)
                if jLo > 0 { row.update(repeating: 0, count: jLo) }
                if jHi + 1 < w { (row + jHi + 1).update(repeating: 0, count: w - jHi - 1) }
                l[job] = l[job] * alpha + sum
                m[job] = mNew
                if alpha != 1 {
                    let orow = o + ((bi * h + hh) * t + r) * d
                    for k in 0..<d { orow[k] *= alpha }
                }
            }
        }
    }

    /// out = O / l (from the dense block O) and lse = m + log l for the block's rows.
    private func finish(_ blk: AttentionBlock, m: UnsafeMutablePointer<Float>, l: UnsafeMutablePointer<Float>,
                        o: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>) {
        for job in 0..<(blk.group * h * blk.rows) {
            let (bi, hh, i) = blk.decompose(job, heads: h), r = blk.q0 + i
            let dst = out + (bi * t + r) * c + hh * d, src = o + ((bi * h + hh) * t + r) * d, inv = 1 / l[job]
            for k in 0..<d { dst[k] = src[k] * inv }
            lse[(bi * h + hh) * t + r] = m[job] + Foundation.log(l[job])
        }
    }

    func backward(_ qkv: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
                  dOut: UnsafeMutablePointer<Float>, dqkv: UnsafeMutablePointer<Float>, _ backend: Backend) {
        let p = Tensor(uninitialized: [scratch]), dp = Tensor(uninitialized: [scratch])
        let delta = Tensor(uninitialized: [rowState])
        let qd = pack(qkv, stride: 3 * c), kd = pack(qkv + c, stride: 3 * c), vd = pack(qkv + 2 * c, stride: 3 * c)
        let dod = pack(dOut, stride: c)
        let dq = Tensor(zeros: [b, h, t, d]), dk = Tensor(zeros: [b, h, t, d]), dv = Tensor(zeros: [b, h, t, d])
        for blk in blocks {
            let n = blk.rows
            for job in 0..<(blk.group * h * n) {   // δ = rowsum(dO ⊙ O)
                let (bi, hh, i) = blk.decompose(job, heads: h)
                let off = (bi * t + blk.q0 + i) * c + hh * d
                delta.ptr[job] = VMath.dot(dOut + off, out + off, d)
            }
            let q = dense(qd.ptr, blk, blk.q0, n), dO = dense(dod.ptr, blk, blk.q0, n)
            for (k0, k1) in blk.chunks {
                let w = k1 - k0
                backend.matmul(q, dense(kd.ptr, blk, k0, w, transposed: true), into: scores(p.ptr, blk, w))             // S = Q·Kᵀ
                probabilities(blk, k0, k1, p: p.ptr, lse: lse)                                                          // P = exp(scale·S − lse)
                backend.matmul(dO, dense(vd.ptr, blk, k0, w, transposed: true), into: scores(dp.ptr, blk, w))           // dP = dO·Vᵀ
                backend.matmul(scores(p.ptr, blk, w, transposed: true), dO, into: dense(dv.ptr, blk, k0, w), accumulate: true) // dV += Pᵀ·dO
                scoreGradient(rows: blk.group * h * n, w: w, p: p.ptr, dp: dp.ptr, delta: delta.ptr)                    // dS in dp
                backend.matmul(scores(dp.ptr, blk, w), dense(kd.ptr, blk, k0, w), into: dense(dq.ptr, blk, blk.q0, n), accumulate: true) // dQ += dS·K
                backend.matmul(scores(dp.ptr, blk, w, transposed: true), q, into: dense(dk.ptr, blk, k0, w), accumulate: true)  // dK += dSᵀ·Q
            }
        }
        unpackAdd(dq, stride: 3 * c, into: dqkv)
        unpackAdd(dk, stride: 3 * c, into: dqkv + c)
        unpackAdd(dv, stride: 3 * c, into: dqkv + 2 * c)
    }

    /// Scores of one chunk → P = exp(scale·s − lse) on visible columns, 0 elsewhere.
    private func probabilities(_ blk: AttentionBlock, _ k0: Int, _ k1: Int, p: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>) {
        let w = k1 - k0
        Parallel.rows(blk.group * h * blk.rows, minPerChunk: max(1, Kernels.grain / w)) { r0, r1 in
            for job in r0..<r1 {
                let (bi, hh, i) = blk.decompose(job, heads: h), r = blk.q0 + i
                let row = p + job * w, z = lse[(bi * h + hh) * t + r]
                let (jLo, jHi) = visible(bi, r, k0, k1)
                guard jHi >= jLo else { row.update(repeating: 0, count: w); continue }
                for j in jLo...jHi { row[j] = VMath.exp(row[j] * scale - z) }
                if jLo > 0 { row.update(repeating: 0, count: jLo) }
                if jHi + 1 < w { (row + jHi + 1).update(repeating: 0, count: w - jHi - 1) }
            }
        }
    }

    /// dS = scale · P ⊙ (dP − δ), in place over dP (zero where P is).
    private func scoreGradient(rows: Int, w: Int, p: UnsafeMutablePointer<Float>, dp: UnsafeMutablePointer<Float>, delta: UnsafeMutablePointer<Float>) {
        let scale = self.scale
        Parallel.rows(rows, minPerChunk: max(1, Kernels.grain / w)) { r0, r1 in
            for job in r0..<r1 {
                let pr = p + job * w, gr = dp + job * w, dl = delta[job]
                for j in 0..<w { gr[j] = scale * pr[j] * (gr[j] - dl) }
            }
        }
    }
}
