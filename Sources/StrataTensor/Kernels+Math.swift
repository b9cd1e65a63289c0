// Vector math for Strata's own kernels: a fast exp (Cody–Waite range reduction
// plus a degree-6 polynomial, ~1–2 ulp over the float range) written so LLVM
// vectorises the loops that call it, and SIMD16 reductions (sum, dot, max),
// which the compiler cannot vectorise by itself without reassociation.
// Leaves out: denormal results of exp (flushed to the smallest normal range).

import Foundation

public enum VMath {
    public typealias V = SIMD16<Float>

    /// exp(x) for x in roughly [-87, 88]; inputs outside are clamped. Adding 1.5·2²³ rounds x·log₂e to
    /// an integer n held in the low mantissa bits, which then become the exponent of 2ⁿ.
    @inline(__always)
    public static func exp(_ x: Float) -> Float {
        var xc = x < -87.3 ? -87.3 : x
        xc = xc > 88.7 ? 88.7 : xc
        let t = xc * 1.442_695_04 + 12_582_912
        let n = t - 12_582_912
        let r = xc - n * 0.693_145_751_953_125 - n * 1.428_606_765_330_187_0e-6
        var p: Float = 1.0 / 720.0
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        return p * Float(bitPattern: (t.bitPattern &- 0x4B40_0000 &+ 127) &<< 23)
    }

    /// The same exp on 16 lanes (for loops that also reduce, which LLVM will not vectorise by itself).
    @inline(__always)
    public static func exp(_ x: V) -> V {
        let magic = V(repeating: 12_582_912)
        let xc = pointwiseMin(pointwiseMax(x, V(repeating: -87.3)), V(repeating: 88.7))
        let t = xc * 1.442_695_04 + magic
        let n = t - magic
        let r = xc - n * 0.693_145_751_953_125 - n * 1.428_606_765_330_187_0e-6
        var p = V(repeating: 1.0 / 720.0)
        p = p * r + 1.0 / 120.0
        p = p * r + 1.0 / 24.0
        p = p * r + 1.0 / 6.0
        p = p * r + 0.5
        p = p * r + 1.0
        p = p * r + 1.0
        let bits = unsafeBitCast(t, to: SIMD16<UInt32>.self) &- 0x4B40_0000 &+ 127
        return p * unsafeBitCast(bits &<< 23, to: V.self)
    }

    /// Σ exp(p[i] − shift) over n elements.
    public static func sumExp(_ p: UnsafePointer<Float>, _ n: Int, shift: Float) -> Float {
        var acc = V(repeating: 0), i = 0
        let s = V(repeating: shift)
        while i + 16 <= n { acc += exp(load(p + i) - s); i += 16 }
        var total = acc.sum()
        while i < n { total += exp(p[i] - shift); i += 1 }
        return total
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

    /// The largest of n elements (NaNs are skipped; −∞ when n = 0 or all are NaN). A masked blend, not
    /// `pointwiseMax`, in the loop, and the lanes reduced one by one: Swift's `pointwiseMax` and `.max()` on
    /// SIMD16 compile to per-lane code, 5× slower over attention rows of up to 128 and 16× over LM-head rows of 1,026
    /// (release build, -target-cpu native; docs/benchmarks.md). The result is the same maximum.
    public static func max(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = V(repeating: -.infinity), i = 0
        while i + 16 <= n { let x = load(p + i); acc.replace(with: x, where: x .> acc); i += 16 }
        var m = -Float.infinity
        for lane in 0..<V.scalarCount where acc[lane] > m { m = acc[lane] }
        while i < n { if p[i] > m { m = p[i] }; i += 1 }
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
