// A strict Decoder over a RecipeTree. Numbers, booleans and text follow YAML's
// plain-scalar rules (quoted scalars are always text), wrong types fail with the
// full key path and what was seen, and every key a type asks about (or declares,
// when its CodingKeys are CaseIterable) is recorded so that keys nobody asked
// about can be reported as unknown afterwards.
// Leaves out: superDecoder (recipes never use class inheritance).

import Foundation

/// Keys each mapping was asked about during one decode (path string → key names).
final class RecipeKeyLog {
    var asked: [String: Set<String>] = [:]

    func record(_ path: [CodingKey], _ key: String) {
        asked[RecipePathSegment.render(RecipePathSegment.from(path)), default: []].insert(key)
    }
}

struct RecipeTreeDecoder: Decoder {
    let node: RecipeTree
    let codingPath: [CodingKey]
    let log: RecipeKeyLog
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func mismatch(_ expected: String) -> DecodingError {
        .typeMismatch(Any.self, .init(codingPath: codingPath,
                                      debugDescription: "expected \(expected), got \(node.shortDescription)"))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case let .mapping(pairs) = node.kind else { throw mismatch("a section (key: value lines)") }
        // Keys that are CaseIterable are all known up front, so unknown keys can be
        // reported even when decoding stops early at a type error.
        if let all = Key.self as? any CaseIterable.Type {
            for case let key as CodingKey in all.allCases as any Collection { log.record(codingPath, key.stringValue) }
        }
        return KeyedDecodingContainer(RecipeKeyedContainer<Key>(decoder: self, pairs: pairs))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case let .sequence(items) = node.kind else { throw mismatch("a list") }
        return RecipeUnkeyedContainer(decoder: self, items: items)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer { RecipeSingleValue(decoder: self) }

    func child(_ node: RecipeTree, _ key: CodingKey) -> RecipeTreeDecoder {
        RecipeTreeDecoder(node: node, codingPath: codingPath + [key], log: log)
    }
}

/// A coding key for list indices and dictionary keys.
struct RecipeIndexKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue; intValue = nil }
    init(intValue: Int) { self.stringValue = "[\(intValue)]"; self.intValue = intValue }
}

// MARK: - Scalars

struct RecipeSingleValue: SingleValueDecodingContainer {
    let decoder: RecipeTreeDecoder
    var codingPath: [CodingKey] { decoder.codingPath }

    private func plain(_ expected: String) throws -> String {
        guard case let .scalar(s, quoted) = decoder.node.kind, !quoted, !decoder.node.isNull else {
            throw decoder.mismatch(expected)
        }
        return s
    }

    func decodeNil() -> Bool { decoder.node.isNull }

    func decode(_ type: Bool.Type) throws -> Bool {
        switch try plain("true or false") {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: throw decoder.mismatch("true or false")
        }
    }

    func decode(_ type: String.Type) throws -> String {
        guard case let .scalar(s, _) = decoder.node.kind, !decoder.node.isNull else { throw decoder.mismatch("text") }
        return s
    }

    func decode(_ type: Double.Type) throws -> Double {
        guard let d = RecipeScalar.double(try plain("a number")) else { throw decoder.mismatch("a number") }
        guard d.isFinite else { throw decoder.mismatch("a finite number") }
        return d
    }

    func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }

    func integer<T: FixedWidthInteger>(_ type: T.Type) throws -> T {
        guard let i = RecipeScalar.int(try plain("an integer")) else { throw decoder.mismatch("an integer") }
        guard let v = T(exactly: i) else { throw decoder.mismatch("an integer in \(T.min)...\(T.max)") }
        return v
    }

    func decode(_ type: Int.Type) throws -> Int { try integer(type) }
    func decode(_ type: Int8.Type) throws -> Int8 { try integer(type) }
    func decode(_ type: Int16.Type) throws -> Int16 { try integer(type) }
    func decode(_ type: Int32.Type) throws -> Int32 { try integer(type) }
    func decode(_ type: Int64.Type) throws -> Int64 { try integer(type) }
    func decode(_ type: UInt.Type) throws -> UInt { try integer(type) }
    func decode(_ type: UInt8.Type) throws -> UInt8 { try integer(type) }
    func decode(_ type: UInt16.Type) throws -> UInt16 { try integer(type) }
    func decode(_ type: UInt32.Type) throws -> UInt32 { try integer(type) }
    func decode(_ type: UInt64.Type) throws -> UInt64 { try integer(type) }

    func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: decoder) }
}

// MARK: - Mappings

struct RecipeKeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: RecipeTreeDecoder
    let pairs: [(key: String, value: RecipeTree)]
    var codingPath: [CodingKey] { decoder.codingPath }
    var allKeys: [Key] { pairs.compactMap { Key(stringValue: $0.key) } }

    func contains(_ key: Key) -> Bool {
        decoder.log.record(codingPath, key.stringValue)
        return pairs.contains { $0.key == key.stringValue }
    }

    private func value(_ key: Key) throws -> RecipeTree {
        decoder.log.record(codingPath, key.stringValue)
        guard let v = pairs.first(where: { $0.key == key.stringValue })?.value else {
            let path = RecipePathSegment.render(RecipePathSegment.from(codingPath + [key]))
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing required key '\(path)'"))
        }
        return v
    }

    func decodeNil(forKey key: Key) throws -> Bool { try value(key).isNull }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        let v = try value(key)
        return try T(from: decoder.child(v, key))
    }

    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try generic(type, key) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try generic(type, key) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try generic(type, key) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try generic(type, key) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try generic(type, key) }
    func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try generic(type, key) }
    func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try generic(type, key) }
    func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try generic(type, key) }
    func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try generic(type, key) }
    func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try generic(type, key) }
    func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try generic(type, key) }
    func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try generic(type, key) }
    func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try generic(type, key) }
    func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try generic(type, key) }

    private func generic<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T {
        try decode(type, forKey: key)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
        -> KeyedDecodingContainer<NestedKey> {
        try decoder.child(try value(key), key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
        try decoder.child(try value(key), key).unkeyedContainer()
    }

    func superDecoder() throws -> Decoder { decoder }
    func superDecoder(forKey key: Key) throws -> Decoder { decoder.child(try value(key), key) }
}

// MARK: - Lists

struct RecipeUnkeyedContainer: UnkeyedDecodingContainer {
    let decoder: RecipeTreeDecoder
    let items: [RecipeTree]
    var currentIndex = 0
    var codingPath: [CodingKey] { decoder.codingPath }
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    init(decoder: RecipeTreeDecoder, items: [RecipeTree]) {
        self.decoder = decoder
        self.items = items
    }

    private mutating func nextDecoder() throws -> RecipeTreeDecoder {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath, debugDescription: "list ended early"))
        }
        defer { currentIndex += 1 }
        return decoder.child(items[currentIndex], RecipeIndexKey(intValue: currentIndex))
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, items[currentIndex].isNull else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try T(from: try nextDecoder()) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws
        -> KeyedDecodingContainer<NestedKey> {
        try nextDecoder().container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer { try nextDecoder().unkeyedContainer() }
    mutating func superDecoder() throws -> Decoder { try nextDecoder() }
}
