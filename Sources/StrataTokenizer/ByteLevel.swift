// GPT-2's byte-level alphabet: every byte 0...255 gets a printable Unicode
// scalar (printable Latin-1 bytes map to themselves, the rest to U+0100...U+0143),
// so BPE vocabularies can be stored as JSON strings. Tables for both directions.
// Leaves out: any other byte-to-text scheme (e.g. SentencePiece byte fallback).

enum ByteLevel {
    /// Byte → scalar value of its byte-level character.
    static let byteToScalar: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            if isPrintable(b) {
                table[b] = UInt32(b)
            } else {
                table[b] = next
                next += 1
            }
        }
        return table
    }()

    /// Scalar value (< 324) → byte, or -1 where the scalar is not in the alphabet.
    static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 324)
        for b in 0..<256 { table[Int(byteToScalar[b])] = Int16(b) }
        return table
    }()

    /// The 256 bytes ordered by the scalar value of their character: the order in
    /// which GPT-2 and Hugging Face's trainer number the initial alphabet.
    static let alphabetOrder: [UInt8] = (0..<256).map { UInt8($0) }.sorted { byteToScalar[Int($0)] < byteToScalar[Int($1)] }

    private static func isPrintable(_ b: Int) -> Bool {
        (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
    }

    /// The byte-level string of raw bytes.
    static func string<S: Sequence>(forBytes bytes: S) -> String where S.Element == UInt8 {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(Unicode.Scalar(byteToScalar[Int(b)])!) }
        return String(s)
    }

    /// The raw bytes of a byte-level token string, or nil when some character is
    /// outside the alphabet (such tokens decode as their own UTF-8, as in HF).
    static func bytes(forToken token: String) -> [UInt8]? {
        var out = [UInt8]()
        out.reserveCapacity(token.unicodeScalars.count)
        for s in token.unicodeScalars {
            let v = Int(s.value)
            guard v < scalarToByte.count, scalarToByte[v] >= 0 else { return nil }
            out.append(UInt8(scalarToByte[v]))
        }
        return out
    }
}
