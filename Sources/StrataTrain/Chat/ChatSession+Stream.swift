// Incremental decoding for streamed replies: token bytes arrive one token at a
// time and a multi-byte UTF-8 character may be split across tokens, so bytes of
// an unfinished character are held back until it completes. The pieces joined
// equal decoding all the bytes at once. Leaves out: normalisation, grapheme
// clusters (a combining mark may arrive in the next piece).

/// Turns a stream of bytes into text pieces that never split a UTF-8 character.
public struct ChatStreamDecoder: Sendable {
    private var pending: [UInt8] = []

    public init() {}

    /// Add bytes; returns the text that is complete now (possibly empty).
    public mutating func add(_ bytes: [UInt8]) -> String {
        pending += bytes
        let cut = Self.completeLength(pending)
        guard cut > 0 else { return "" }
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// The text of the bytes still held back (an unfinished character becomes U+FFFD).
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Length of the prefix of `b` that does not end inside an unfinished multi-byte character.
    static func completeLength(_ b: [UInt8]) -> Int {
        var i = b.count - 1
        var continuation = 0
        while i >= 0 && continuation < 3 && b[i] & 0xC0 == 0x80 { i -= 1; continuation += 1 }
        guard i >= 0 else { return b.count }
        let lead = b[i]
        let need: Int
        switch lead {
        case 0xC2...0xDF: need = 1
        case 0xE0...0xEF: need = 2
        case 0xF0...0xF4: need = 3
        default: return b.count   // ASCII or a byte that starts nothing: nothing to wait for.
        }
        return continuation < need ? i : b.count
    }
}
