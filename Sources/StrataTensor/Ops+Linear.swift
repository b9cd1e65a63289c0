// Matrix-product ops on the tape: linear layers in Hugging Face Conv1D layout
// (y = x·W + b with W stored [in, out]), the tied LM head (y = x·Eᵀ with E stored
// [V, C]), and embedding lookup. Products go through Backend (oneDNN); gradients
// accumulate straight into the gradient buffers (the matmul's sum post-op), or are
// stored there by the first product to reach a fresh or zeroed buffer. In bf16
// (Backend+BF16.swift) a backward node narrows the output gradient once for its two products.
// Leaves out: nn.Linear's [out, in] layout (LoRA adapters use Conv1D layout too).

import StrataCore

extension Tape {
    /// y[N, out] = x[N, in] · w[in, out] (+ b[out]). x may have any leading shape [..., in].
    public func linear(_ x: Tensor, _ w: Tensor, _ b: Tensor? = nil) -> Tensor {
        let inF = w.shape[0], outF = w.shape[1], n = x.count / inF
        precondition(w.rank == 2 && x.cols == inF, "linear: input \(x.shape) does not match weight \(w.shape) (expects last dim \(inF))")
        precondition(b == nil || b!.count == outF, "linear: bias \(b!.shape) does not match weight \(w.shape)")
        let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [outF])
        backend.gemm(m: n, n: outF, k: inF, a: x.ptr, b: w.ptr, c: out.ptr, bias: b?.ptr)
        if tracks(x, w, b, out: out) {
            record { [backend] in
                guard let g = out.grad else { return }
                backend.sharingNarrowed([(g.ptr, g.count)]) {   // bf16: g narrowed once for both products
                    if x.requiresGrad {  // dx[N,in] += g[N,out] · wᵀ (stored when dx is fresh)
                        let (dx, fresh) = x.gradBufferForFullWrite()
                        backend.gemm(transB: true, m: n, n: inF, k: outF, a: g.ptr, b: w.ptr, c: dx.ptr, accumulate: !fresh)
                    }
                    if w.requiresGrad {  // dw[in,out] += xᵀ · g (stored when dw is fresh: the step's first product to reach it)
                        let (dw, fresh) = w.gradBufferForFullWrite()
                        backend.gemm(transA: true, m: inF, n: outF, k: n, a: x.ptr, b: g.ptr, c: dw.ptr, accumulate: !fresh)
                    }
                }
                if let b, b.requiresGrad { Kernels.sumRepeats(g.ptr, count: g.count, into: b.gradBuffer().ptr, period: outF) }
            }
        }
        return out
    }

    /// y[N, R] = x[N, K] · wᵀ where w is [R, K]: the tied LM head (R = V) and nn.Linear layout.
    public func linearTransposed(_ x: Tensor, _ w: Tensor) -> Tensor {
        let r = w.shape[0], k = w.shape[1], n = x.count / k
        precondition(w.rank == 2 && x.cols == k, "linearTransposed: input \(x.shape) does not match weight \(w.shape) (expects last dim \(k))")
        let out = Tensor(uninitialized: Array(x.shape.dropLast()) + [r])
        backend.gemm(transB: true, m: n, n: r, k: k, a: x.ptr, b: w.ptr, c: out.ptr)
        if tracks(x, w, out: out) {
            record { [backend] in
                guard let g = out.grad else { return }
                backend.sharingNarrowed([(g.ptr, g.count)]) {   // bf16: g narrowed once for both products
                    if x.requiresGrad {  // dx[N,K] += g[N,R] · w[R,K] (stored when dx is fresh)
                        let (dx, fresh) = x.gradBufferForFullWrite()
                        backend.gemm(m: n, n: k, k: r, a: g.ptr, b: w.ptr, c: dx.ptr, accumulate: !fresh)
                    }
                    if w.requiresGrad {  // dw[R,K] += gᵀ · x (stored when dw is fresh)
                        let (dw, fresh) = w.gradBufferForFullWrite()
                        backend.gemm(transA: true, m: r, n: k, k: n, a: g.ptr, b: x.ptr, c: dw.ptr, accumulate: !fresh)
                    }
                }
            }
        }
        return out
    }

    /// Rows of `table` [V, C] picked by `ids` → [ids.count, C]. Ids out of range are a precondition failure
    /// (callers validate token ids against the vocabulary first).
    public func embedding(_ table: Tensor, _ ids: [Int32]) -> Tensor {
        let v = table.shape[0], c = table.shape[1]
        for id in ids { precondition(id >= 0 && Int(id) < v, "embedding: id \(id) outside vocabulary of \(v) rows") }
        let out = Tensor(uninitialized: [ids.count, c])
        let pt = table.ptr, po = out.ptr
        ids.withUnsafeBufferPointer { idp in
            let box = UnsafeSendableBox(idp)
            Parallel.rows(ids.count, minPerChunk: max(1, Kernels.grain / c)) { s, e in
                for r in s..<e { (po + r * c).update(from: pt + Int(box.value[r]) * c, count: c) }
            }
        }
        if tracks(table, out: out) {
            record {
                guard let g = out.grad else { return }
                let gt = table.gradBuffer().ptr, pg = g.ptr
                // Split columns across threads: rows may repeat ids, columns never collide.
                ids.withUnsafeBufferPointer { idp in
                    let box = UnsafeSendableBox(idp)
                    Parallel.rows(c, minPerChunk: 16) { c0, c1 in
                        for r in 0..<box.value.count {
                            let dst = gt + Int(box.value[r]) * c, src = pg + r * c
                            for j in c0..<c1 { dst[j] += src[j] }
                        }
                    }
                }
            }
        }
        return out
    }
}
