// bfloat16 conversions for the CPU's bf16 matrix products. bf16 is the upper
// half of an IEEE float32 (sign, 8-bit exponent, 7-bit mantissa): widening is a
// 16-bit shift; narrowing rounds the dropped low half to nearest, ties to even,
// the same rounding as torch's `.to(torch.bfloat16)` and oneDNN's reorder:
//   bits' = bits + 0x7FFF + ((bits >> 16) & 1);  bf16 = bits' >> 16
// Values that round past the largest finite bf16 become ±Inf (IEEE overflow);
// ±Inf stay ±Inf; NaN stays NaN (its mantissa is kept non-zero by setting the
// quiet bit, so a NaN whose payload lives only in the low half cannot turn into Inf).
// Bulk conversion is a plain integer loop the compiler vectorises, split over the
// cores; `BF16Buffer` is the 64-byte aligned storage operands are converted into
// (large ones in OperandArena.swift's mapping, outside glibc's heap).
// Leaves out: bf16 tensors on the tape (activations stay fp32 and are converted
// per product), fp16, stochastic rounding.

import Foundation
import StrataCore

public enum BF16 {
    /// Float32 → bf16 bits, round to nearest even; NaN stays a (quiet) NaN.
    @inline(__always)
    public static func bits(_ f: Float) -> UInt16 {
        let b = f.bitPattern
        if b & 0x7FFF_FFFF > 0x7F80_0000 { return UInt16(truncatingIfNeeded: b >> 16) | 0x0040 }
        return UInt16(truncatingIfNeeded: (b &+ 0x7FFF &+ ((b >> 16) & 1)) >> 16)
    }

    /// bf16 bits → Float32 (exact).
    @inline(__always)
    public static func float(_ h: UInt16) -> Float { Float(bitPattern: UInt32(h) << 16) }

    /// The value Float32 `f` takes after a round trip through bf16.
    @inline(__always)
    public static func rounded(_ f: Float) -> Float { float(bits(f)) }

    /// dst[i] = bits(src[i]) for i < count, split over the cores.
    public static func narrow(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<UInt16>, count: Int) {
        Parallel.rows(count, minPerChunk: 65_536) { s, e in narrowSpan(src + s, dst + s, e - s) }
    }

    /// dst[i] = float(src[i]) for i < count.
    public static func widen(_ src: UnsafePointer<UInt16>, into dst: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.rows(count, minPerChunk: 65_536) { s, e in widenSpan(src + s, dst + s, e - s) }
    }

    /// One thread's span of `widen`.
    @inline(__always)
    static func widenSpan(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
        dst.withMemoryRebound(to: UInt32.self, capacity: n) { d in
            for i in 0..<n { d[i] = UInt32(src[i]) << 16 }
        }
    }

    /// One thread's span: branch-free so the loop vectorises (the NaN case is a select).
    @inline(__always)
    static func narrowSpan(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, _ n: Int) {
        src.withMemoryRebound(to: UInt32.self, capacity: n) { s in
            for i in 0..<n {
                let b = s[i]
                let rounded = (b &+ 0x7FFF &+ ((b >> 16) & 1)) >> 16
                let quietNaN = (b >> 16) | 0x0040
                dst[i] = UInt16(truncatingIfNeeded: b & 0x7FFF_FFFF > 0x7F80_0000 ? quietNaN : rounded)
            }
        }
    }
}

/// A 64-byte aligned buffer of bf16 values (raw bits), freed with the object. Buffers of
/// `arenaMinimumBytes` and more come from `OperandArena.shared`, outside glibc's heap, so short-lived
/// operand copies leave no holes between the step's fp32 tensors; smaller ones from the heap.
public final class BF16Buffer: @unchecked Sendable {
    public let ptr: UnsafeMutablePointer<UInt16>
    public let count: Int
    /// Bytes allocated (at least 2); from the arena when `arenaMinimumBytes` or more.
    private let bytes: Int

    public static let arenaMinimumBytes = 64 << 10

    public init(count: Int) {
        self.count = count
        bytes = max(count, 1) * MemoryLayout<UInt16>.stride
        let raw: UnsafeMutableRawPointer
        if bytes >= Self.arenaMinimumBytes {
            raw = OperandArena.shared.allocate(bytes)
        } else {
            var p: UnsafeMutableRawPointer?
            guard posix_memalign(&p, 64, bytes) == 0, let p else {
                fatalError("BF16Buffer: could not allocate \(bytes) bytes for \(count) bf16 values")
            }
            raw = p
        }
        ptr = raw.bindMemory(to: UInt16.self, capacity: max(count, 1))
    }

    /// A buffer holding `src` narrowed to bf16.
    public convenience init(narrowing src: UnsafePointer<Float>, count: Int) {
        self.init(count: count)
        BF16.narrow(src, into: ptr, count: count)
    }

    deinit {
        if bytes >= Self.arenaMinimumBytes {
            OperandArena.shared.deallocate(UnsafeMutableRawPointer(ptr), bytes: bytes)
        } else {
            free(ptr)
        }
    }
}
