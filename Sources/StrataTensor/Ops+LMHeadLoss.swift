// The tied LM head fused with cross-entropy, computed in row chunks so the full
// [N, V] logits (and their gradient) never exist:
//   for each chunk of R rows:  Z = H_chunk·Wᵀ            [R, V]
//     lse_r = log Σ_v exp(Z_rv),  loss += Σ_r (lse_r − Z_r,target_r)
//     G = (softmax(Z) − onehot(target)) / denom          (0 on ignored rows)
//     dH_chunk = G·W,  dW += Gᵀ·H_chunk
// The loss is linear in its upstream gradient g, so the gradients are formed
// during the forward pass (while the chunk's logits are at hand) into dH [N, C]
// and dW [V, C], and backward only adds g·dH and g·dW: no product is
// recomputed. Chunks whose targets are all ignored are skipped outright.
// Shapes: N = B·T rows, C channels, V vocab, R rows per chunk.
// Leaves out: label smoothing, z-loss, the per-token log-prob form (DPO/PPO use
// `tokenLogProbs` over materialised logits).

import Foundation
import StrataCore

extension Tape {
    /// Mean cross-entropy of the logits hidden·wᵀ (hidden [..., C], w [V, C]) against `targets` (one per row;
    /// `ignoreIndex` entries carry no loss), divided by `normalizer` (default: the number of counted targets).
    /// Equal to `crossEntropy(linearTransposed(hidden, w), targets)` with at most `chunkElements` logits alive.
    public func lmHeadCrossEntropy(_ hidden: Tensor, _ w: Tensor, _ targets: [Int32], ignoreIndex: Int32 = -100,
                                   normalizer: Float? = nil, chunkElements: Int = 1 << 22) -> Tensor {
        let v = w.shape[0], c = w.shape[1], n = hidden.count / c
        precondition(w.rank == 2 && hidden.cols == c, "lmHeadCrossEntropy: hidden \(hidden.shape) does not match head \(w.shape)")
        precondition(targets.count == n, "lmHeadCrossEntropy: \(targets.count) targets for \(n) rows")
        for tg in targets where tg != ignoreIndex { precondition(tg >= 0 && Int(tg) < v, "lmHeadCrossEntropy: target \(tg) outside vocabulary of \(v)") }
        let counted = targets.reduce(0) { $0 + ($1 != ignoreIndex ? 1 : 0) }
        let denom = normalizer ?? Float(counted)
        let out = Tensor(uninitialized: [1])
        let grads = tracks(hidden, w, out: out) && denom > 0
        let dH = grads && hidden.requiresGrad ? Tensor(zeros: [n, c]) : nil
        let dW = grads && w.requiresGrad ? Tensor(zeros: [v, c]) : nil
        let rowsPerChunk = max(1, min(n, chunkElements / v))
        let z = Tensor(uninitialized: [rowsPerChunk, v])
        var total: Double = 0
        for r0 in stride(from: 0, to: n, by: rowsPerChunk) {
            let r1 = min(n, r0 + rowsPerChunk), rows = r1 - r0
            if !targets[r0..<r1].contains(where: { $0 != ignoreIndex }) { continue }
            let h = hidden.ptr + r0 * c
            // bf16 (Backend+BF16.swift): the chunk's H and G are each narrowed once for the products that read them.
            let chunkLoss = backend.sharingNarrowed([(h, rows * c)]) { () -> Double in
                backend.gemm(transB: true, m: rows, n: v, k: c, a: h, b: w.ptr, c: z.ptr)                      // Z = H·Wᵀ
                let l = LMHeadKernels.lossAndGradient(z.ptr, rows: rows, v: v, targets: targets, from: r0, ignoreIndex: ignoreIndex,
                                                      scale: grads ? 1 / denom : nil)
                guard grads else { return l }
                backend.sharingNarrowed([(z.ptr, rows * v)]) {
                    if let dH { backend.gemm(m: rows, n: c, k: v, a: z.ptr, b: w.ptr, c: dH.ptr + r0 * c) }              // dH = G·W
                    if let dW { backend.gemm(transA: true, m: v, n: c, k: rows, a: z.ptr, b: h, c: dW.ptr, accumulate: true) } // dW += Gᵀ·H
                }
                return l
            }
            total += chunkLoss
        }
        out.ptr[0] = denom > 0 ? Float(total / Double(denom)) : 0
        if grads {
            record {
                guard let g = out.grad else { return }
                let k = g.ptr[0]
                if let dH {
                    let (gh, fresh) = hidden.gradBufferForFullWrite()
                    LMHeadKernels.addScaled(dH.ptr, k, into: gh.ptr, n * c, store: fresh)
                }
                if let dW { LMHeadKernels.addScaled(dW.ptr, k, into: w.gradBuffer().ptr, v * c) }
            }
        }
        return out
    }
}

enum LMHeadKernels {
    /// Σ over counted rows of lse − z[target] for one chunk of logits `z` [rows, V] (rows start at `from` in
    /// `targets`). With `scale`, each row is overwritten by scale·(softmax − onehot), or zeros when ignored.
    static func lossAndGradient(_ z: UnsafeMutablePointer<Float>, rows: Int, v: Int, targets: [Int32], from r0: Int,
                                ignoreIndex: Int32, scale: Float?) -> Double {
        var perRow = [Double](repeating: 0, count: rows)
        perRow.withUnsafeMutableBufferPointer { pr in
            targets.withUnsafeBufferPointer { tp in
                let box = UnsafeSendableBox((pr, tp))
                Parallel.rows(rows, minPerChunk: max(1, Kernels.grain / v)) { s, e in
                    for i in s..<e {
                        let row = z + i * v, tg = box.value.1[r0 + i]
                        guard tg != ignoreIndex else { if scale != nil { row.update(repeating: 0, count: v) }; continue }
                        let m = VMath.max(row, v)
                        let lse = m + Foundation.log(VMath.sumExp(row, v, shift: m))
                        box.value.0[i] = Double(lse - row[Int(tg)])
                        guard let k = scale else { continue }
                        for j in 0..<v { row[j] = k * VMath.exp(row[j] - lse) }
                        row[Int(tg)] -= k
                    }
                }
            }
        }
        return perRow.reduce(0, +)
    }

    /// dst += k·src over n elements, or dst = k·src with `store` (dst fresh).
    static func addScaled(_ src: UnsafeMutablePointer<Float>, _ k: Float, into dst: UnsafeMutablePointer<Float>, _ n: Int, store: Bool = false) {
        if store {
            Kernels.spans(n, period: n) { i, _, len in for j in i..<(i + len) { dst[j] = k * src[j] } }
        } else {
            Kernels.spans(n, period: n) { i, _, len in for j in i..<(i + len) { dst[j] += k * src[j] } }
        }
    }
}
