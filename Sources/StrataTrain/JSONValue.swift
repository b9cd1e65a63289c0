// JSONValue: any JSON document as a Codable enum, for payloads whose shape is
// not fixed (a resolved recipe inside a lineage record, evaluation results).
// Numbers are Doubles (integers up to 2^53 are exact).
// Leaves out: streaming, number formats beyond Double.

import Foundation
import StrataCore

public enum JSONValue: Codable, Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let d = try? c.decode(Double.self) {
            self = .number(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case let .bool(b): try c.encode(b)
        case let .number(d):
            if d == d.rounded() && abs(d) < 9.0e15 { try c.encode(Int64(d)) } else { try c.encode(d) }
        case let .string(s): try c.encode(s)
        case let .array(a): try c.encode(a)
        case let .object(o): try c.encode(o)
        }
    }

    /// Any Encodable value as a JSON value.
    public init<T: Encodable>(encoding value: T) throws {
        let data = try StrataJSON.encode(value, pretty: false)
        self = try StrataJSON.decode(JSONValue.self, from: data, file: "<\(T.self) as JSON>")
    }

    /// Decodes a Decodable value from this JSON value.
    public func decode<T: Decodable>(as type: T.Type) throws -> T {
        try StrataJSON.decode(type, from: try StrataJSON.encode(self, pretty: false), file: "<JSON value>")
    }

    /// The member `key` of an object, else nil.
    public subscript(key: String) -> JSONValue? {
        if case let .object(o) = self { return o[key] }
        return nil
    }

    /// Follows a dot-separated path of object keys ("optim.lr").
    public func value(at path: String) -> JSONValue? {
        var current: JSONValue? = self
        for part in path.split(separator: ".") { current = current?[String(part)] }
        return current
    }

    public var doubleValue: Double? { if case let .number(d) = self { return d } else { return nil } }
    public var intValue: Int? {
        if case let .number(d) = self, d == d.rounded(), abs(d) < 9.0e15 { return Int(d) }
        return nil
    }
    public var stringValue: String? { if case let .string(s) = self { return s } else { return nil } }
    public var boolValue: Bool? { if case let .bool(b) = self { return b } else { return nil } }
    public var arrayValue: [JSONValue]? { if case let .array(a) = self { return a } else { return nil } }
}
