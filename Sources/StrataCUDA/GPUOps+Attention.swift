// Causal self-attention on the GPU, the same algorithm as StrataTensor's fused op:
// scores S = Q·Kᵀ materialised per head, P = causal softmax(S/√D) (document-aware
// when docStart is given), O = P·V; P is kept for the backward. Per batch row b,
// all H heads go in one strided batched product: Q, K, V are read in place from
// qkv [N, 3C] (row stride 3C, head stride D) and O is written in place into
// out [N, C] (row stride C, head stride D) — no permute kernels.
// Shapes: B, T, C, H, D = C/H; probs and scores are [B, H, T, T].
// Leaves out: tiled online-softmax (flash) attention, which would skip the masked
// half and keep memory O(T) — the CPU path does not have it either yet.

import Foundation

extension GPUOps {
    public func attentionForward(qkv: UInt64, out: UInt64, probs: UInt64, scores: UInt64, docStart: UInt64,
                                 b batchRows: Int, t: Int, c: Int, heads h: Int) throws {
        let d = c / h, tt = t * t
        for b in 0..<batchRows {
            let row = b * t * 3 * c
            try blas.gemmBatched(m: t, n: t, k: d, GemmOperand(qkv + f4(row)), lda: 3 * c, strideA: d,
                                 GemmOperand(qkv + f4(row + c), transposed: true), ldb: 3 * c, strideB: d,
                                 c: scores + f4(b * h * tt), ldc: t, strideC: tt, batch: h)
        }
        try causalSoftmax(p: probs, s: scores, docStart: docStart, rows: batchRows * h * t, t: t, heads: h, scale: 1 / Float(d).squareRoot())
        for b in 0..<batchRows {
            try blas.gemmBatched(m: t, n: d, k: t, GemmOperand(probs + f4(b * h * tt)), lda: t, strideA: tt,
                                 GemmOperand(qkv + f4(b * t * 3 * c + 2 * c)), ldb: 3 * c, strideB: d,
                                 c: out + f4(b * t * c), ldc: c, strideC: d, batch: h)
        }
    }

    /// From dO (dOut [N, C]) to dqkv [N, 3C] (overwritten):
    ///   dP = dO·Vᵀ, dV = Pᵀ·dO, dS = scale·P⊙(dP − Σ_j dP⊙P), dQ = dS·K, dK = dSᵀ·Q.  `scores` is scratch.
    public func attentionBackward(dOut: UInt64, dqkv: UInt64, qkv: UInt64, probs: UInt64, scores: UInt64,
                                  b batchRows: Int, t: Int, c: Int, heads h: Int) throws {
        let d = c / h, tt = t * t
        for b in 0..<batchRows {
            let row = b * t * 3 * c, dO = dOut + f4(b * t * c)
            try blas.gemmBatched(m: t, n: t, k: d, GemmOperand(dO), lda: c, strideA: d,
                                 GemmOperand(qkv + f4(row + 2 * c), transposed: true), ldb: 3 * c, strideB: d,
                                 c: scores + f4(b * h * tt), ldc: t, strideC: tt, batch: h)
            try blas.gemmBatched(m: t, n: d, k: t, GemmOperand(probs + f4(b * h * tt), transposed: true), lda: t, strideA: tt,
                                 GemmOperand(dO), ldb: c, strideB: d,
                                 c: dqkv + f4(row + 2 * c), ldc: 3 * c, strideC: d, batch: h)
        }
        try softmaxBackward(ds: scores, p: probs, dp: scores, rows: batchRows * h * t, t: t, scale: 1 / Float(d).squareRoot())
        for b in 0..<batchRows {
            let row = b * t * 3 * c, sb = scores + f4(b * h * tt)
            try blas.gemmBatched(m: t, n: d, k: t, GemmOperand(sb), lda: t, strideA: tt,
                                 GemmOperand(qkv + f4(row + c)), ldb: 3 * c, strideB: d, c: dqkv + f4(row), ldc: 3 * c, strideC: d, batch: h)
            try blas.gemmBatched(m: t, n: d, k: t, GemmOperand(sb, transposed: true), lda: t, strideA: tt,
                                 GemmOperand(qkv + f4(row)), ldb: 3 * c, strideB: d, c: dqkv + f4(row + c), ldc: 3 * c, strideC: d, batch: h)
        }
    }

    /// Byte offset of `i` floats.
    @inline(__always) func f4(_ i: Int) -> UInt64 { UInt64(i * 4) }
}
