// Elementwise and reduction ops: add (with repeat-broadcast of the second
// operand), mul, scale, sum, mean, reshape, GELU (tanh form), dropout.
// Every kernel loops over raw pointers in parallel chunks; no per-element closures.
// Leaves out: general numpy broadcasting.

import StrataCore

extension Tape {
    /// out = a + b, where b's elements repeat over a (b.count divides a.count): e.g. [B,T,C] + [T,C].
    public func add(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(b.count > 0 && a.count % b.count == 0, "add: \(b.shape) does not repeat evenly over \(a.shape)")
        let out = Tensor(uninitialized: a.shape)
        let bc = b.count, pa = a.ptr, pb = b.ptr, po = out.ptr
        Kernels.spans(a.count, period: bc) { i, j, len in
            for k in 0..<len { po[i + k] = pa[i + k] + pb[j + k] }
        }
        if tracks(a, b, out: out) {
            record {
                guard let g = out.grad else { return }
                if a.requiresGrad { let (ga, fresh) = a.gradBufferForFullWrite(); Kernels.accumulate(ga.ptr, g.ptr, a.count, store: fresh) }
                if b.requiresGrad, bc == a.count {   // a residual add: b's gradient is g, as a's
                    let (gb, fresh) = b.gradBufferForFullWrite(); Kernels.accumulate(gb.ptr, g.ptr, bc, store: fresh)
                } else if b.requiresGrad {
                    Kernels.sumRepeats(g.ptr, count: a.count, into: b.gradBuffer().ptr, period: bc)
                }
            }
        }
        return out
    }

    /// out = a ⊙ b (same shapes).
    public func mul(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape, "mul: shapes \(a.shape) and \(b.shape) differ")
        let out = Tensor(uninitialized: a.shape)
        let pa = a.ptr, pb = b.ptr, po = out.ptr
        Kernels.spans(a.count, period: a.count) { i, _, len in for k in i..<(i + len) { po[k] = pa[k] * pb[k] } }
        if tracks(a, b, out: out) {
            record {
                guard let g = out.grad else { return }
                let pg = g.ptr
                if a.requiresGrad { let ga = a.gradBuffer().ptr; Kernels.spans(a.count, period: a.count) { i, _, len in for k in i..<(i + len) { ga[k] += pg[k] * pb[k] } } }
                if b.requiresGrad { let gb = b.gradBuffer().ptr; Kernels.spans(a.count, period: a.count) { i, _, len in for k in i..<(i + len) { gb[k] += pg[k] * pa[k] } } }
            }
        }
        return out
    }

    /// out = s · a.
    public func scale(_ a: Tensor, _ s: Float) -> Tensor {
        let out = Tensor(uninitialized: a.shape)
        let pa = a.ptr, po = out.ptr
        Kernels.spans(a.count, period: a.count) { i, _, len in for k in i..<(i + len) { po[k] = pa[k] * s } }
        if tracks(a, out: out) {
            record {
                guard let g = out.grad else { return }
                let ga = a.gradBuffer().ptr, pg = g.ptr
                Kernels.spans(a.count, period: a.count) { i, _, len in for k in i..<(i + len) { ga[k] += pg[k] * s } }
            }
        }
        return out
    }

    /// Sum of all elements → [1].
    public func sum(_ a: Tensor) -> Tensor {
        let out = Tensor(uninitialized: [1])
        out.ptr[0] = Kernels.parallelSum(a.ptr, a.count)
        if tracks(a, out: out) {
            record {
                guard let g = out.grad else { return }
                let v = g.ptr[0], ga = a.gradBuffer().ptr
                Kernels.spans(a.count, period: a.count) { i, _, len in for k in i..<(i + len) { ga[k] += v } }
            }
        }
        return out
    }

    /// Mean of all elements → [1].
    public func mean(_ a: Tensor) -> Tensor { scale(sum(a), 1 / Float(max(a.count, 1))) }

    /// A view with a new shape whose gradient flows back to `a` (shares a's gradient storage).
    public func reshape(_ a: Tensor, _ shape: [Int]) -> Tensor {
        let out = a.reshaped(shape)
        out.requiresGrad = false
        if tracks(a, out: out) { out.grad = a.gradBuffer().reshaped(shape) }
        return out
    }

    /// GELU, tanh approximation (as GPT-2): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
    public func gelu(_ x: Tensor) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        let px = x.ptr, po = out.ptr
        Kernels.spans(x.count, period: x.count) { i, _, len in
            for k in i..<(i + len) {
                let v = px[k]
                let u = 0.797_884_56 * (v + 0.044715 * v * v * v)
                po[k] = 0.5 * v * (1 + VMath.tanh(u))
            }
        }
        if tracks(x, out: out) {
            record {
                guard let g = out.grad else { return }
                let (gxt, fresh) = x.gradBufferForFullWrite()
                let gx = gxt.ptr, pg = g.ptr
                Kernels.spans(x.count, period: x.count) { i, _, len in
                    if fresh {
                        for k in i..<(i + len) { gx[k] = pg[k] * Kernels.geluDerivative(px[k]) }
                    } else {
                        for k in i..<(i + len) { gx[k] += pg[k] * Kernels.geluDerivative(px[k]) }
                    }
                }
            }
        }
        return out
    }

    /// Inverted dropout: zero each element with probability p, scale survivors by 1/(1−p).
    /// The identity when p == 0 or the tape is not training.
    public func dropout(_ x: Tensor, p: Float) -> Tensor {
        guard training, p > 0 else { return x }
        precondition(p < 1, "dropout: p must be < 1, got \(p)")
        let mask = Tensor(uninitialized: x.shape)
        let keep = 1 / (1 - p), pm = mask.ptr
        for k in 0..<x.count { pm[k] = rng.uniform() < p ? 0 : keep }
        return applyMask(x, mask)
    }

    private func applyMask(_ x: Tensor, _ mask: Tensor) -> Tensor {
        let out = Tensor(uninitialized: x.shape)
        let px = x.ptr, pm = mask.ptr, po = out.ptr
        Kernels.spans(x.count, period: x.count) { i, _, len in for k in i..<(i + len) { po[k] = px[k] * pm[k] } }
        if tracks(x, out: out) {
            record {
                guard let g = out.grad else { return }
                let gx = x.gradBuffer().ptr, pg = g.ptr, pm = mask.ptr  // the closure keeps `mask` alive
                Kernels.spans(x.count, period: x.count) { i, _, len in for k in i..<(i + len) { gx[k] += pg[k] * pm[k] } }
            }
        }
        return out
    }
}

extension Kernels {
    /// d/dx of the tanh-form GELU: 0.5·(1 + tanh u) + 0.5·x·(1 − tanh² u)·du/dx, u = √(2/π)·(x + 0.044715·x³).
    @inline(__always)
    static func geluDerivative(_ v: Float) -> Float {
        let u = 0.797_884_56 * (v + 0.044715 * v * v * v)
        let t = VMath.tanh(u)
        let du = 0.797_884_56 * (1 + 3 * 0.044715 * v * v)
        return 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * du
    }
}
