// A seedable random generator owned by Strata, so the same seed gives the same
// numbers on every machine and Swift version (the standard library's generator
// makes no such promise). xoshiro256** seeded through splitmix64.
// Leaves out: cryptographic quality (not needed), jump-ahead.

public struct StrataRNG: RandomNumberGenerator, Codable, Equatable, Sendable {
    public private(set) var s0: UInt64
    public private(set) var s1: UInt64
    public private(set) var s2: UInt64
    public private(set) var s3: UInt64
    /// Cached second normal from Box–Muller, so normal() is reproducible across save/restore.
    private var spareNormal: Float?

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitmix(); s1 = splitmix(); s2 = splitmix(); s3 = splitmix()
        spareNormal = nil
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = (s3 << 45) | (s3 >> 19)
        return result
    }

    /// Uniform in [0, 1) with 24 bits of precision (exactly representable as Float).
    @inline(__always)
    public mutating func uniform() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [0, 1) with 53 bits of precision.
    @inline(__always)
    public mutating func uniformDouble() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform integer in 0..<n without modulo bias (Lemire's method).
    public mutating func int(below n: Int) -> Int {
        precondition(n > 0, "StrataRNG.int(below:) needs n > 0")
        let bound = UInt64(n)
        var m = next().multipliedFullWidth(by: bound)
        if m.low < bound {
            let threshold = (0 &- bound) % bound
            while m.low < threshold { m = next().multipliedFullWidth(by: bound) }
        }
        return Int(m.high)
    }

    /// Standard normal via Box–Muller (computed in Double for cross-platform stability).
    public mutating func normal() -> Float {
        if let s = spareNormal { spareNormal = nil; return s }
        var u1 = uniformDouble()
        while u1 <= 1e-300 { u1 = uniformDouble() }
        let u2 = uniformDouble()
        let r = (-2.0 * _log(u1)).squareRoot()
        let a = 2.0 * Double.pi * u2
        spareNormal = Float(r * _sin(a))
        return Float(r * _cos(a))
    }

    /// A Fisher–Yates shuffle driven by this generator.
    public mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = int(below: i + 1)
            if i != j { a.swapAt(i, j) }
        }
    }
}

#if canImport(Glibc)
import Glibc
@inline(__always) private func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) private func _sin(_ x: Double) -> Double { Glibc.sin(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
import Darwin
@inline(__always) private func _log(_ x: Double) -> Double { Darwin.log(x) }
@inline(__always) private func _sin(_ x: Double) -> Double { Darwin.sin(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Darwin.cos(x) }
#endif
