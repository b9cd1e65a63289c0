// Finds added tokens (special markers like <|endoftext|>) in raw text, leftmost
// then longest, as Hugging Face's added vocabulary does. Special tokens only match
// when the caller allows them; non-special added tokens always match.
// Leaves out: lstrip/rstrip/single_word matching rules (rejected on load).

struct AddedTokenMatcher: Sendable {
    struct Entry: Sendable {
        let bytes: [UInt8]
        let id: Int
        let special: Bool
    }

    /// Longest first, so the first hit at a position is the longest one.
    let entries: [Entry]
    private let firstAny: [Bool]
    private let firstAlways: [Bool]
    let hasAlways: Bool

    init(_ tokens: [BPETokenizer.AddedToken]) {
        entries = tokens.map { Entry(bytes: Array($0.content.utf8), id: $0.id, special: $0.special) }
            .filter { !$0.bytes.isEmpty }
            .sorted { $0.bytes.count != $1.bytes.count ? $0.bytes.count > $1.bytes.count : $0.id < $1.id }
        var any = [Bool](repeating: false, count: 256), always = any
        for e in entries {
            any[Int(e.bytes[0])] = true
            if !e.special { always[Int(e.bytes[0])] = true }
        }
        firstAny = any
        firstAlways = always
        hasAlways = entries.contains { !$0.special }
    }

    var isEmpty: Bool { entries.isEmpty }

    /// Whether encoding with `allowSpecial` needs to search for added tokens at all.
    func active(allowSpecial: Bool) -> Bool { allowSpecial ? !entries.isEmpty : hasAlways }

    /// The leftmost-longest match in p[from..<n]: (start, end, id).
    func nextMatch(_ p: UnsafePointer<UInt8>, _ n: Int, from: Int, allowSpecial: Bool) -> (Int, Int, Int)? {
        let first = allowSpecial ? firstAny : firstAlways
        var i = from
        while i < n {
            if first[Int(p[i])] {
                for e in entries where (allowSpecial || !e.special) && e.bytes.count <= n - i {
                    if matches(e.bytes, p + i) { return (i, i + e.bytes.count, e.id) }
                }
            }
            i += 1
        }
        return nil
    }

    @inline(__always)
    private func matches(_ bytes: [UInt8], _ q: UnsafePointer<UInt8>) -> Bool {
        for k in 0..<bytes.count where bytes[k] != q[k] { return false }
        return true
    }
}
