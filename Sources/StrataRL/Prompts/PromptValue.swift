// PromptValue: the value of an extra column of a prompt record (`answer`,
// `kind`, an id, nested metadata), kept as typed JSON so reward functions can
// read it and writing a record back gives the same JSON. Built from the objects
// JSONSerialization returns. Leaves out: integer/float distinction beyond what
// a Double holds exactly (ids above 2^53 should be strings).

import Foundation

public indirect enum PromptValue: Codable, Equatable, Sendable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case null
    case array([PromptValue])
    case object([String: PromptValue])

    /// The value of a parsed JSON fragment (as returned by JSONSerialization).
    public init(json value: Any) {
        switch value {
        case let s as String: self = .string(s)
        case is NSNull: self = .null
        case let a as [Any]: self = .array(a.map { PromptValue(json: $0) })
        case let d as [String: Any]: self = .object(d.mapValues { PromptValue(json: $0) })
        default:
            // Numbers and booleans both arrive as NSNumber; their JSON text tells them apart.
            let text = (try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed]))
                .map { String(decoding: $0, as: UTF8.self) } ?? ""
            if text == "true" || text == "false" { self = .bool(text == "true") }
            else if let d = Double(text) { self = .number(d) }
            else { self = .string("\(value)") }
        }
    }

    /// The value as text for comparing with a reply: strings as they are, integral numbers without a
    /// decimal point, booleans as true/false; nil for null, lists and objects.
    public var text: String? {
        switch self {
        case .string(let s): return s
        case .number(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d)
        case .bool(let b): return b ? "true" : "false"
        case .null, .array, .object: return nil
        }
    }

    /// A short description for error messages ("a number", "a list"...).
    public var typeName: String {
        switch self {
        case .string: return "a string"
        case .number: return "a number"
        case .bool: return "a boolean"
        case .null: return "null"
        case .array: return "a list"
        case .object: return "an object"
        }
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([PromptValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: PromptValue].self)) }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let s): try c.encode(s)
        case .number(let d): if let i = Int64(exactly: d) { try c.encode(i) } else { try c.encode(d) }
        case .bool(let b): try c.encode(b)
        case .null: try c.encodeNil()
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}
