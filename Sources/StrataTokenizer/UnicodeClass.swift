// Character classes for the pre-tokenizer scanner: letter (\p{L}), number (\p{N}),
// whitespace (the Unicode White_Space property, which is what \s means in the
// regex engines Hugging Face and tiktoken use) and other. ASCII and the BMP come
// from tables; other planes ask the scalar's properties. Also a UTF-8 decoder that
// classifies malformed bytes as one-byte "other" characters instead of failing.
// Leaves out: grapheme clusters, normalisation.

enum CharClass {
    static let other: UInt8 = 0
    static let letter: UInt8 = 1
    static let number: UInt8 = 2
    static let space: UInt8 = 3

    /// Classes of U+0000...U+FFFF, built once on first use.
    static let bmp: [UInt8] = {
        var table = [UInt8](repeating: other, count: 0x10000)
        for v in 0..<0x10000 {
            if let s = Unicode.Scalar(UInt32(v)) { table[v] = classify(s) }
        }
        return table
    }()

    static func classify(_ s: Unicode.Scalar) -> UInt8 {
        let p = s.properties
        if p.isWhitespace { return space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return number
        default:
            return other
        }
    }

    /// Class and encoded length of the character at p[i] (i < n). Malformed UTF-8
    /// (bad lead, missing continuation, overlong, surrogate, > U+10FFFF) reads as
    /// one "other" byte, so arbitrary bytes scan deterministically.
    @inline(__always)
    static func at(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int, _ table: UnsafePointer<UInt8>) -> (UInt8, Int) {
        let b0 = p[i]
        if b0 < 0x80 { return (table[Int(b0)], 1) }
        return multiByte(p, i, n, table)
    }

    @inline(__always)
    private static func cont(_ p: UnsafePointer<UInt8>, _ j: Int, _ n: Int) -> UInt32? {
        guard j < n else { return nil }
        let b = p[j]
        return b & 0xC0 == 0x80 ? UInt32(b & 0x3F) : nil
    }

    static func multiByte(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int, _ table: UnsafePointer<UInt8>) -> (UInt8, Int) {
        let b0 = UInt32(p[i])
        if b0 >= 0xC2 && b0 <= 0xDF {
            guard let c1 = cont(p, i + 1, n) else { return (other, 1) }
            return (table[Int((b0 & 0x1F) << 6 | c1)], 2)
        }
        if b0 >= 0xE0 && b0 <= 0xEF {
            guard let c1 = cont(p, i + 1, n), let c2 = cont(p, i + 2, n) else { return (other, 1) }
            let v = (b0 & 0x0F) << 12 | c1 << 6 | c2
            if v < 0x800 || (v >= 0xD800 && v <= 0xDFFF) { return (other, 1) }
            return (table[Int(v)], 3)
        }
        if b0 >= 0xF0 && b0 <= 0xF4 {
            guard let c1 = cont(p, i + 1, n), let c2 = cont(p, i + 2, n), let c3 = cont(p, i + 3, n) else { return (other, 1) }
            let v = (b0 & 0x07) << 18 | c1 << 12 | c2 << 6 | c3
            guard v >= 0x10000, v <= 0x10FFFF, let s = Unicode.Scalar(v) else { return (other, 1) }
            return (classify(s), 4)
        }
        return (other, 1)
    }
}
