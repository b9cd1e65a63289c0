// Parallel loop shapes shared by the ops: flat spans with a repeat period (for
// broadcast adds), row loops, column-split reductions. Each splits work over the
// cores through Parallel.rows and keeps inner loops simple enough to vectorise.
// Leaves out: anything op-specific (see the Ops+*.swift files).

import StrataCore

enum Kernels {
    /// Elements per chunk below which a loop stays on one thread.
    static let grain = 16_384

    /// Visit 0..<count in parallel spans; `body(i, j, len)` gets the flat start i, the
    /// position j = i mod period, and a length that never crosses a period boundary.
    @inline(__always)
    static func spans(_ count: Int, period: Int, _ body: (Int, Int, Int) -> Void) {
        Parallel.rows(count, minPerChunk: grain) { s, e in
            var i = s, j = s % period
            while i < e {
                let len = min(e - i, period - j)
                body(i, j, len)
                i += len; j = 0
            }
        }
    }

    /// dst += src over n elements, or dst = src with `store` (dst fresh: `Tensor.gradBufferForFullWrite`).
    static func accumulate(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafeMutablePointer<Float>, _ n: Int, store: Bool = false) {
        if store {
            spans(n, period: n) { i, _, len in (dst + i).update(from: src + i, count: len) }
        } else {
            spans(n, period: n) { i, _, len in for k in i..<(i + len) { dst[k] += src[k] } }
        }
    }

    /// dst[j] += Σ_r src[r·period + j]: the gradient of a repeated (broadcast) operand.
    /// Parallel over column ranges so threads never write the same element.
    static func sumRepeats(_ src: UnsafeMutablePointer<Float>, count: Int, into dst: UnsafeMutablePointer<Float>, period: Int) {
        let reps = count / period
        Parallel.rows(period, minPerChunk: max(1, grain / max(reps, 1))) { c0, c1 in
            for r in 0..<reps {
                let row = src + r * period
                for j in c0..<c1 { dst[j] += row[j] }
            }
        }
    }

    static func parallelSum(_ p: UnsafeMutablePointer<Float>, _ n: Int) -> Float {
        var partial = [Float](repeating: 0, count: Parallel.workers)
        partial.withUnsafeMutableBufferPointer { buf in
            let box = UnsafeSendableBox(buf)
            Parallel.rows(Parallel.workers) { w0, w1 in
                for w in w0..<w1 {
                    let s = n * w / Parallel.workers, e = n * (w + 1) / Parallel.workers
                    box.value[w] = VMath.sum(p + s, e - s)
                }
            }
        }
        return partial.reduce(0, +)
    }
}
