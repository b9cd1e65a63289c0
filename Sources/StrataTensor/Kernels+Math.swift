// Vector math for Strata's own kernels: a fast exp (Cody–Waite range reduction
// plus a degree-6 polynomial, ~1–2 ulp over the float range) written so LLVM
// vectorises the loops that call it, and SIMD16 reductions (sum, dot, max),
// which the compiler cannot vectorise by itself without reassociation.
// Leaves out: denormal results of exp (flushed to the smallest normal range).

import Foundation

public enum VMath {
    public typealias V = SIMD16<Float>

    /// exp(x) for x in roughly [-87, 88]; inputs outside are clamped.
    @inline(__always)
    public static func exp(_ x: Float) -> Float {
        let xc = Swift.min(Swift.max(x, -87.3), 88.7)
        let n = (xc * 1.442_695_04).rounded(.toNearestOrEven)
        let r = xc - n * 0.693_145_751_953_125 - n * 1.428_606_765_330_187_0e-6
        var p: Float = 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        let bits = UInt32(bitPattern: Int32(n) &+ 127) << 23
        return p * Float(bitPattern: bits)
    }

    /// tanh through exp: 1 − 2/(1 + e^{2u}); exact at ±∞ and accurate to ~1e-7 absolute.
    @inline(__always)
    public static func tanh(_ u: Float) -> Float {
        1 - 2 / (1 + exp(2 * u))
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }

    public static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V(repeating: 0), i = 0
        while i + 16 <= n { acc += load(p + i); i += 16 }
        var s = acc.sum()
        while i < n { s += p[i]; i += 1 }
        return s
    }

    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V(repeating: 0), i = 0
        while i + 16 <= n { acc += load(a + i) * load(b + i); i += 16 }
        var s = acc.sum()
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }

    public static func max(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V(repeating: -.infinity), i = 0
        while i + 16 <= n { acc = pointwiseMax(acc, load(p + i)); i += 16 }
        var m = acc.max()
        while i < n { m = Swift.max(m, p[i]); i += 1 }
        return m
    }

    /// Sum of squares (for norms).
    public static func sumSquares(_ p: UnsafePointer<Float>, _ n: Int) -> Float { dot(p, p, n) }

    /// Sum of squared deviations from `mean`, accumulated in SIMD lanes.
    public static func sumSquaredDeviations(_ p: UnsafePointer<Float>, _ n: Int, mean: Float) -> Float {
        var acc = V(repeating: 0), i = 0
        let m = V(repeating: mean)
        while i + 16 <= n { let d = load(p + i) - m; acc += d * d; i += 16 }
        var s = acc.sum()
        while i < n { let d = p[i] - mean; s += d * d; i += 1 }
        return s
    }
}
