// Pre-tokenisation by a hand-written scanner over UTF-8 that reproduces the split
// of GPT-2's regex (and, as an option, the GPT-4/cl100k-style regex used by
// Llama 3) without a regex engine: at each position it tries the alternatives in
// the regex's order and returns where the leftmost match ends.
// Leaves out: arbitrary user regexes (only the two known patterns are accepted).

/// Which pre-tokenisation regex the scanner reproduces.
public enum PreTokenizerPattern: String, Sendable, CaseIterable, Codable {
    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
    case cl100k
    /// No splitting: the whole text is one piece (ByteLevel with use_regex false).
    case none

    /// The regex as Hugging Face tokenizer.json files spell it.
    public var regex: String? {
        switch self {
        case .gpt2: return #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
        case .cl100k:
            return #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
        case .none: return nil
        }
    }

    /// Regex spellings accepted in a tokenizer.json Split pre-tokenizer, with the
    /// pattern each is equivalent to (tiktoken's possessive r50k form included).
    static let knownRegexes: [String: PreTokenizerPattern] = [
        PreTokenizerPattern.gpt2.regex!: .gpt2,
        #"'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#: .gpt2,
        #"'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"#: .gpt2,
        PreTokenizerPattern.cl100k.regex!: .cl100k,
    ]
}

/// Splits text into pre-tokens (the pieces BPE merges never cross).
public struct PreTokenizer: Sendable {
    public let pattern: PreTokenizerPattern

    public init(_ pattern: PreTokenizerPattern) { self.pattern = pattern }

    /// The pieces of `text`, in order; joined they give `text` back.
    public func split(_ text: String) -> [String] {
        var t = text
        return t.withUTF8 { buf in
            var out = [String]()
            guard let base = buf.baseAddress else { return out }
            forEachPiece(base, buf.count) { s, e in
                out.append(String(decoding: UnsafeBufferPointer(start: base + s, count: e - s), as: UTF8.self))
            }
            return out
        }
    }

    /// Calls `body(start, end)` for each piece of p[0..<n].
    @inline(__always)
    public func forEachPiece(_ p: UnsafePointer<UInt8>, _ n: Int, _ body: (Int, Int) -> Void) {
        CharClass.bmp.withUnsafeBufferPointer { tb in
            let table = tb.baseAddress!
            var i = 0
            while i < n {
                let e = next(p, i, n, table)
                body(i, e)
                i = e
            }
        }
    }

    /// End of the piece that starts at i (i < n).
    @inline(__always)
    func next(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int, _ table: UnsafePointer<UInt8>) -> Int {
        switch pattern {
        case .gpt2: return PieceScan.gpt2(p, i, n, table)
        case .cl100k: return PieceScan.cl100k(p, i, n, table)
        case .none: return n
        }
    }
}

/// The two scanners. Each mirrors its regex's alternatives in order.
enum PieceScan {
    static let apostrophe: UInt8 = 0x27
    static let blank: UInt8 = 0x20
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A

    /// End of the run of characters of class `c` starting at j.
    @inline(__always)
    static func run(_ p: UnsafePointer<UInt8>, _ j0: Int, _ n: Int, _ c: UInt8, _ table: UnsafePointer<UInt8>) -> Int {
        var j = j0
        while j < n {
            let (cj, lj) = CharClass.at(p, j, n, table)
            if cj != c { break }
            j += lj
        }
        return j
    }

    static func gpt2(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int, _ table: UnsafePointer<UInt8>) -> Int {
        let b = p[i]
        if b == apostrophe && i + 1 < n {
            let c1 = p[i + 1]
            if c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64 { return i + 2 }   // s t m d
            if i + 2 < n {
                let c2 = p[i + 2]
                if (c1 == 0x72 && c2 == 0x65) || (c1 == 0x76 && c2 == 0x65) || (c1 == 0x6C && c2 == 0x6C) { return i + 3 }  // re ve ll
            }
        }
        var (c, len) = CharClass.at(p, i, n, table)
        var start = i
        if b == blank && i + 1 < n {
            let (c1, len1) = CharClass.at(p, i + 1, n, table)
            if c1 != CharClass.space { c = c1; len = len1; start = i + 1 }
        }
        if c != CharClass.space { return run(p, start + len, n, c, table) }
        return whitespace(p, i, n, table, crlf: false)
    }

    static func cl100k(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int, _ table: UnsafePointer<UInt8>) -> Int {
        let b = p[i]
        if b == apostrophe, let e = contractionCaseless(p, i, n) { return e }
        let (c, len) = CharClass.at(p, i, n, table)
        if c == CharClass.letter { return run(p, i + len, n, c, table) }
        if c != CharClass.number && b != cr && b != lf && i + len < n {
            let (c1, len1) = CharClass.at(p, i + len, n, table)
            if c1 == CharClass.letter { return run(p, i + len + len1, n, c1, table) }
        }
        if c == CharClass.number {
            var j = i + len, k = 1
            while k < 3 && j < n {
                let (cj, lj) = CharClass.at(p, j, n, table)
                if cj != CharClass.number { break }
                j += lj; k += 1
            }
            return j
        }
        var start = i, len0 = len
        if b == blank && i + 1 < n {
            let (c1, len1) = CharClass.at(p, i + 1, n, table)
            if c1 == CharClass.other { start = i + 1; len0 = len1 }
        }
        if start != i || c == CharClass.other {
            var j = run(p, start + len0, n, CharClass.other, table)
            while j < n && (p[j] == cr || p[j] == lf) { j += 1 }
            return j
        }
        return whitespace(p, i, n, table, crlf: true)
    }

    /// `'s 't 're 've 'm 'll 'd` in any case (and ſ, which folds to s).
    @inline(__always)
    static func contractionCaseless(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int) -> Int? {
        guard i + 1 < n else { return nil }
        let c1 = p[i + 1] | 0x20
        if c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64 { return i + 2 }
        if p[i + 1] == 0xC5 && i + 2 < n && p[i + 2] == 0xBF { return i + 3 }
        guard i + 2 < n else { return nil }
        let c2 = p[i + 2] | 0x20
        if (c1 == 0x72 && c2 == 0x65) || (c1 == 0x76 && c2 == 0x65) || (c1 == 0x6C && c2 == 0x6C) { return i + 3 }
        return nil
    }

    /// A whitespace run starting at i. With `crlf`, `\s*[\r\n]+` comes first (ends
    /// after the run's last CR/LF); then `\s+(?!\S)` (the run less its last
    /// character when a non-space follows) and `\s+`.
    @inline(__always)
    static func whitespace(_ p: UnsafePointer<UInt8>, _ i: Int, _ n: Int, _ table: UnsafePointer<UInt8>, crlf: Bool) -> Int {
        var j = i, lastLen = 0, count = 0, afterCRLF = -1
        while j < n {
            let (cj, lj) = CharClass.at(p, j, n, table)
            if cj != CharClass.space { break }
            if p[j] == cr || p[j] == lf { afterCRLF = j + 1 }
            j += lj; lastLen = lj; count += 1
        }
        if crlf && afterCRLF > 0 { return afterCRLF }
        if j == n || count == 1 { return j }
        return j - lastLen
    }
}
