// YAMLNode: a small ordered YAML document (maps keep insertion order) and its
// writer, for model-card front matter. Strings are always double-quoted with
// escapes, numbers are written so YAML 1.1 readers (PyYAML, which
// huggingface_hub uses) read floats as floats ("1.0e-05", never "1e-05").
// Leaves out: reading YAML (Yams does that for recipes), anchors, block scalars.

import Foundation

public indirect enum YAMLNode: Equatable, Sendable {
    case string(String)
    case number(Double)
    case int(Int)
    case bool(Bool)
    case list([YAMLNode])
    case map([(String, YAMLNode)])

    public static func == (a: YAMLNode, b: YAMLNode) -> Bool { a.json == b.json }

    /// The same document as JSON (order dropped), to compare with what a YAML reader returns.
    public var json: JSONValue {
        switch self {
        case let .string(s): return .string(s)
        case let .number(d): return .number(d)
        case let .int(i): return .number(Double(i))
        case let .bool(b): return .bool(b)
        case let .list(items): return .array(items.map(\.json))
        case let .map(pairs): return .object(Dictionary(pairs.map { ($0.0, $0.1.json) }, uniquingKeysWith: { _, b in b }))
        }
    }

    /// Block-style YAML text of a top-level map (or any node), ending in a newline.
    public func text() -> String { lines(indent: 0).joined(separator: "\n") + "\n" }

    private func lines(indent: Int) -> [String] {
        let pad = String(repeating: " ", count: indent)
        switch self {
        case let .map(pairs):
            return pairs.flatMap { key, value -> [String] in
                if let s = value.scalar { return ["\(pad)\(YAMLNode.key(key)): \(s)"] }
                if value.isEmptyCollection { return ["\(pad)\(YAMLNode.key(key)): \(value.isList ? "[]" : "{}")"] }
                return ["\(pad)\(YAMLNode.key(key)):"] + value.lines(indent: value.isList ? indent : indent + 2)
            }
        case let .list(items):
            return items.flatMap { item -> [String] in
                if let s = item.scalar { return ["\(pad)- \(s)"] }
                var inner = item.lines(indent: indent + 2)
                if !inner.isEmpty { inner[0] = pad + "- " + inner[0].dropFirst(indent + 2) }
                return inner
            }
        default:
            return [pad + (scalar ?? "")]
        }
    }

    private var isList: Bool { if case .list = self { return true } else { return false } }
    private var isEmptyCollection: Bool {
        switch self {
        case let .list(items): return items.isEmpty
        case let .map(pairs): return pairs.isEmpty
        default: return false
        }
    }

    private var scalar: String? {
        switch self {
        case let .string(s): return YAMLNode.quote(s)
        case let .number(d): return YAMLNode.float(d)
        case let .int(i): return String(i)
        case let .bool(b): return b ? "true" : "false"
        default: return nil
        }
    }

    /// A float YAML 1.1 resolves as a float: a dot before any exponent, a signed exponent. Non-finite → .nan/.inf.
    static func float(_ d: Double) -> String {
        if d.isNaN { return ".nan" }
        if d.isInfinite { return d > 0 ? ".inf" : "-.inf" }
        var s = "\(d)"
        if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }) {
            var mantissa = String(s[..<e]), exponent = String(s[s.index(after: e)...])
            if !mantissa.contains(".") { mantissa += ".0" }
            if !exponent.hasPrefix("-") && !exponent.hasPrefix("+") { exponent = "+" + exponent }
            s = mantissa + "e" + exponent
        } else if !s.contains(".") {
            s += ".0"
        }
        return s
    }

    /// A map key: plain when it is a simple identifier ("model-index"), else quoted.
    static func key(_ k: String) -> String {
        let simple = k.first.map { $0.isASCII && ($0.isLetter || $0 == "_") } ?? false
            && k.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
        return simple ? k : quote(k)
    }

    /// A double-quoted YAML string.
    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if u.value < 0x20 || u.value == 0x7F || (0x80...0x9F).contains(u.value) || u.value == 0xFEFF
                    || u.value == 0x2028 || u.value == 0x2029 {
                    out += String(format: "\\u%04X", u.value)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
