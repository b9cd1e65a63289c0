// Element conversions between stored dtypes and Float32: BF16 and F16 widen
// exactly (F16 subnormals, infinities and NaN payloads included), F64 and integers
// round to nearest, and Float32 narrows to BF16 with round-to-nearest-even. Loads are
// unaligned and little-endian, since safetensors data need not be aligned.
// Leaves out: F8 formats, writing F16, SIMD intrinsics (the loops auto-vectorize).

import StrataCore

enum FloatConversion {
    /// IEEE half → single, exact for every input.
    @inline(__always)
    static func f16ToF32(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = UInt32(h >> 10) & 0x1F
        let mant = UInt32(h & 0x03FF)
        if exp == 0 {
            // Zero or subnormal: mant × 2^-24, exact in Float32.
            let magnitude = Float(mant) * Float(sign: .plus, exponent: -24, significand: 1)
            return sign != 0 ? -magnitude : magnitude
        }
        if exp == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mant << 13)) }
        return Float(bitPattern: sign | ((exp + 112) << 23) | (mant << 13))
    }

    /// bfloat16 → single: the top half of a Float32.
    @inline(__always)
    static func bf16ToF32(_ b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }

    /// single → bfloat16, round to nearest even; NaN stays a (quiet) NaN.
    @inline(__always)
    static func f32ToBF16(_ f: Float) -> UInt16 {
        let bits = f.bitPattern
        if f.isNaN { return UInt16(bits >> 16) | 0x0040 }
        let rounding = 0x7FFF + ((bits >> 16) & 1)
        return UInt16((bits &+ rounding) >> 16)
    }

    /// Converts `src` (stored as `dtype`, little-endian) into `dst`. Sizes were validated.
    static func toFloat32(_ dtype: DType, _ src: UnsafeRawBufferPointer, into dst: UnsafeMutableBufferPointer<Float>) {
        let n = dst.count
        guard n > 0, let s = src.baseAddress, let d = dst.baseAddress else { return }
        let sBox = UnsafeSendableBox(s), dBox = UnsafeSendableBox(d)
        Parallel.rows(n, minPerChunk: 1 << 18) { start, end in
            convertRange(dtype, sBox.value, dBox.value, start, end)
        }
    }

    private static func convertRange(_ dtype: DType, _ s: UnsafeRawPointer, _ d: UnsafeMutablePointer<Float>, _ lo: Int, _ hi: Int) {
        switch dtype {
        case .f32:
            #if _endian(little)
            UnsafeMutableRawPointer(d + lo).copyMemory(from: s + lo * 4, byteCount: (hi - lo) * 4)
            #else
            for i in lo..<hi { d[i] = Float(bitPattern: UInt32(littleEndian: s.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))) }
            #endif
        case .bf16:
            for i in lo..<hi { d[i] = bf16ToF32(UInt16(littleEndian: s.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) }
        case .f16:
            for i in lo..<hi { d[i] = f16ToF32(UInt16(littleEndian: s.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))) }
        case .f64:
            for i in lo..<hi { d[i] = Float(Double(bitPattern: UInt64(littleEndian: s.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))) }
        case .i64:
            for i in lo..<hi { d[i] = Float(Int64(littleEndian: s.loadUnaligned(fromByteOffset: i * 8, as: Int64.self))) }
        case .i32:
            for i in lo..<hi { d[i] = Float(Int32(littleEndian: s.loadUnaligned(fromByteOffset: i * 4, as: Int32.self))) }
        }
    }

    /// Float32 values → BF16 bytes (little-endian) into `dst`, which holds 2 × count bytes.
    static func toBF16(_ src: UnsafeBufferPointer<Float>, into dst: UnsafeMutableRawBufferPointer) {
        for (i, f) in src.enumerated() {
            dst.storeBytes(of: f32ToBF16(f).littleEndian, toByteOffset: i * 2, as: UInt16.self)
        }
    }
}
