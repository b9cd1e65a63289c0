// Losses over logits: cross-entropy fused with log-softmax (mean over targets
// that are not ignored, or over a caller-given count for gradient accumulation
// and assistant-only SFT losses), and per-token log-probabilities of given
// targets (DPO, PPO, GRPO, probes). Both keep only the per-row log-sum-exp and
// recompute probabilities in backward, so no second [N, V] buffer is held.
// Leaves out: label smoothing, z-loss.

import Foundation
import StrataCore

extension Tape {
    /// Mean cross-entropy of `logits` [N, V] against `targets` (N ids; `ignoreIndex` entries carry no loss).
    /// `normalizer` overrides the divisor (default: the number of counted targets); with none counted the
    /// loss is 0 and no gradient flows, never a division by zero.
    public func crossEntropy(_ logits: Tensor, _ targets: [Int32], ignoreIndex: Int32 = -100, normalizer: Float? = nil) -> Tensor {
        let v = logits.cols, n = logits.rows
        precondition(targets.count == n, "crossEntropy: \(targets.count) targets for logits \(logits.shape)")
        for tg in targets where tg != ignoreIndex { precondition(tg >= 0 && Int(tg) < v, "crossEntropy: target \(tg) outside vocabulary of \(v)") }
        let lse = LossKernels.logSumExp(logits)
        var total: Double = 0, counted = 0
        for r in 0..<n where targets[r] != ignoreIndex {
            total += Double(lse.ptr[r] - logits.ptr[r * v + Int(targets[r])]); counted += 1
        }
        let denom = normalizer ?? Float(counted)
        let out = Tensor(uninitialized: [1])
        out.ptr[0] = denom > 0 ? Float(total / Double(denom)) : 0
        if tracks(logits, out: out) {
            record {
                guard let g = out.grad, denom > 0 else { return }
                let k = g.ptr[0] / denom
                LossKernels.softmaxMinusOneHot(logits, lse, targets, ignoreIndex: ignoreIndex) { _ in k }
            }
        }
        return out
    }

    /// log p(target_r | row r) for each row of `logits` [N, V] → [N]; `ignoreIndex` rows give 0.
    public func tokenLogProbs(_ logits: Tensor, _ targets: [Int32], ignoreIndex: Int32 = -100) -> Tensor {
        let v = logits.cols, n = logits.rows
        precondition(targets.count == n, "tokenLogProbs: \(targets.count) targets for logits \(logits.shape)")
        for tg in targets where tg != ignoreIndex { precondition(tg >= 0 && Int(tg) < v, "tokenLogProbs: target \(tg) outside vocabulary of \(v)") }
        let lse = LossKernels.logSumExp(logits)
        let out = Tensor(zeros: [n])
        for r in 0..<n where targets[r] != ignoreIndex { out.ptr[r] = logits.ptr[r * v + Int(targets[r])] - lse.ptr[r] }
        if tracks(logits, out: out) {
            record {
                guard let g = out.grad else { return }
                let pg = g.ptr
                // d lp_r / d logits = onehot − softmax, i.e. −(softmax − onehot) scaled by g_r.
                LossKernels.softmaxMinusOneHot(logits, lse, targets, ignoreIndex: ignoreIndex) { r in -pg[r] }
            }
        }
        return out
    }
}

enum LossKernels {
    /// Per-row log Σ exp(logits) → [N].
    static func logSumExp(_ logits: Tensor) -> Tensor {
        let v = logits.cols, n = logits.rows
        let lse = Tensor(uninitialized: [n])
        let pl = logits.ptr, po = lse.ptr
        Parallel.rows(n, minPerChunk: max(1, Kernels.grain / v)) { s, e in
            for r in s..<e {
                let row = pl + r * v
                let m = VMath.max(row, v)
                let sum = VMath.sumExp(row, v, shift: m)
                po[r] = m + Foundation.log(sum)
            }
        }
        return lse
    }

    /// logits.grad[r, :] += k(r) · (softmax(row r) − onehot(target r)) for rows that are not ignored.
    static func softmaxMinusOneHot(_ logits: Tensor, _ lse: Tensor, _ targets: [Int32], ignoreIndex: Int32, _ k: (Int) -> Float) {
        let v = logits.cols, n = logits.rows
        let pl = logits.ptr, gl = logits.gradBuffer().ptr, pz = lse.ptr
        targets.withUnsafeBufferPointer { tp in
            let box = UnsafeSendableBox(tp)
            withoutActuallyEscaping(k) { k in
                let kb = UnsafeSendableBox(k)
                Parallel.rows(n, minPerChunk: max(1, Kernels.grain / v)) { s, e in
                    for r in s..<e where box.value[r] != ignoreIndex {
                        let scale = kb.value(r), z = pz[r], row = pl + r * v, grow = gl + r * v
                        for j in 0..<v { grow[j] += scale * VMath.exp(row[j] - z) }
                        grow[Int(box.value[r])] -= scale
                    }
                }
            }
        }
    }
}
