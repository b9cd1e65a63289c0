// A small strict JSON parser for safetensors headers. It exists because
// JSONSerialization silently keeps one of two duplicate keys, and a header with a
// tensor listed twice must be refused. Objects keep their key order, numbers keep
// their text (integers are read exactly, never through Double), nesting is bounded so
// hostile input cannot overflow the stack. Input must already be valid UTF-8.
// Leaves out: writing JSON, streaming, lenient extensions (comments, NaN, trailing commas).

/// One parsed JSON value.
indirect enum JSONValue {
    case object([(key: String, value: JSONValue)])
    case array([JSONValue])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    /// A short name of the value's kind, for error messages.
    var kindName: String {
        switch self {
        case .object: return "an object"
        case .array: return "an array"
        case .string: return "a string"
        case .number: return "a number"
        case .bool: return "a boolean"
        case .null: return "null"
        }
    }

    /// The value as an exact Int when it is an integer literal that fits.
    var exactInt: Int? {
        guard case let .number(text) = self else { return nil }
        guard !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else { return nil }
        return Int(text)
    }
}

/// Why a header failed to parse; `offset` is the byte position inside the header.
enum JSONParseFailure: Error {
    case syntax(String, offset: Int)
    case duplicateKey(String, depth: Int, offset: Int)
    case tooDeep(offset: Int)
}

struct HeaderJSONParser {
    static let maxDepth = 32
    private let bytes: [UInt8]
    private var pos = 0

    private init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Parses one JSON value filling the whole input (surrounding whitespace allowed).
    static func parse(_ bytes: [UInt8]) throws(JSONParseFailure) -> JSONValue {
        var p = HeaderJSONParser(bytes)
        p.skipSpace()
        let value = try p.parseValue(depth: 0)
        p.skipSpace()
        if p.pos < p.bytes.count { throw p.fail("unexpected text after the JSON value") }
        return value
    }

    private func fail(_ msg: String) -> JSONParseFailure { .syntax(msg, offset: pos) }

    private mutating func skipSpace() {
        while pos < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[pos]) { pos += 1 }
    }

    private mutating func parseValue(depth: Int) throws(JSONParseFailure) -> JSONValue {
        guard depth <= Self.maxDepth else { throw .tooDeep(offset: pos) }
        guard pos < bytes.count else { throw fail("unexpected end of JSON") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw fail("unexpected character '\(Unicode.Scalar(bytes[pos]))'")
        }
    }

    private mutating func literal(_ word: String) throws(JSONParseFailure) {
        let w = Array(word.utf8)
        guard pos + w.count <= bytes.count, Array(bytes[pos..<pos + w.count]) == w else {
            throw fail("invalid literal (expected '\(word)')")
        }
        pos += w.count
    }

    private mutating func expect(_ c: UInt8, _ what: String) throws(JSONParseFailure) {
        skipSpace()
        guard pos < bytes.count, bytes[pos] == c else { throw fail("expected \(what)") }
        pos += 1
    }

    /// True (and consumes it) when the next non-space byte is `c`.
    private mutating func take(_ c: UInt8) -> Bool {
        skipSpace()
        if pos < bytes.count, bytes[pos] == c { pos += 1; return true }
        return false
    }

    private mutating func parseObject(depth: Int) throws(JSONParseFailure) -> JSONValue {
        pos += 1
        var members: [(key: String, value: JSONValue)] = []
        var seen = Set<String>()
        if take(UInt8(ascii: "}")) { return .object(members) }
        repeat {
            skipSpace()
            let keyOffset = pos
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let key = try parseString()
            if !seen.insert(key).inserted { throw .duplicateKey(key, depth: depth, offset: keyOffset) }
            try expect(UInt8(ascii: ":"), "':' after key")
            skipSpace()
            members.append((key, try parseValue(depth: depth)))
        } while take(UInt8(ascii: ","))
        try expect(UInt8(ascii: "}"), "',' or '}' in object")
        return .object(members)
    }

    private mutating func parseArray(depth: Int) throws(JSONParseFailure) -> JSONValue {
        pos += 1
        var items: [JSONValue] = []
        if take(UInt8(ascii: "]")) { return .array(items) }
        repeat {
            skipSpace()
            items.append(try parseValue(depth: depth))
        } while take(UInt8(ascii: ","))
        try expect(UInt8(ascii: "]"), "',' or ']' in array")
        return .array(items)
    }

    private mutating func parseNumber() throws(JSONParseFailure) -> String {
        let start = pos
        if bytes[pos] == UInt8(ascii: "-") { pos += 1 }
        let intStart = pos
        let count = digits()
        guard count > 0 else { throw fail("invalid number") }
        if count > 1, bytes[intStart] == UInt8(ascii: "0") { throw fail("number with a leading zero") }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            pos += 1
            guard digits() > 0 else { throw fail("invalid number: no digits after '.'") }
        }
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            pos += 1
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            guard digits() > 0 else { throw fail("invalid number: no digits in exponent") }
        }
        return String(decoding: bytes[start..<pos], as: UTF8.self)
    }

    private mutating func digits() -> Int {
        let start = pos
        while pos < bytes.count, bytes[pos] >= UInt8(ascii: "0"), bytes[pos] <= UInt8(ascii: "9") { pos += 1 }
        return pos - start
    }
}

extension HeaderJSONParser {
    /// \" \\ \/ \b \f \n \r \t mapped to the bytes they stand for.
    static let simpleEscapes: [UInt8: UInt8] = [0x22: 0x22, 0x5C: 0x5C, 0x2F: 0x2F, 0x62: 0x08, 0x66: 0x0C, 0x6E: 0x0A, 0x72: 0x0D, 0x74: 0x09]

    private mutating func parseString() throws(JSONParseFailure) -> String {
        pos += 1
        var out: [UInt8] = []
        while pos < bytes.count {
            let c = bytes[pos]
            pos += 1
            switch c {
            case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"): try parseEscape(into: &out)
            case 0..<0x20: pos -= 1; throw fail("control character inside a string")
            default: out.append(c)
            }
        }
        throw fail("unterminated string")
    }

    private mutating func parseEscape(into out: inout [UInt8]) throws(JSONParseFailure) {
        guard pos < bytes.count else { throw fail("unterminated escape") }
        let c = bytes[pos]
        pos += 1
        if let s = Self.simpleEscapes[c] { out.append(s); return }
        guard c == UInt8(ascii: "u") else { throw fail("invalid escape '\\\(Unicode.Scalar(c))'") }
        var code = try hex4()
        if (0xD800..<0xDC00).contains(code) {
            guard pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") else {
                throw fail("lone high surrogate in \\u escape")
            }
            pos += 2
            let low = try hex4()
            guard (0xDC00..<0xE000).contains(low) else { throw fail("invalid low surrogate in \\u escape") }
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
        }
        guard let scalar = Unicode.Scalar(code) else { throw fail("lone low surrogate in \\u escape") }
        out.append(contentsOf: Array(String(Character(scalar)).utf8))
    }

    private mutating func hex4() throws(JSONParseFailure) -> UInt32 {
        guard pos + 4 <= bytes.count else { throw fail("truncated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            guard let d = Character(Unicode.Scalar(bytes[pos])).hexDigitValue else { throw fail("invalid hex digit in \\u escape") }
            v = v << 4 | UInt32(d)
            pos += 1
        }
        return v
    }
}
