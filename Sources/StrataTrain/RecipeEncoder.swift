// An Encoder that turns Encodable values into a RecipeTree in the order the
// type encodes its keys (so a written recipe reads in declaration order), with
// numbers in their shortest round-trip form and text quoted only when YAML
// would otherwise read it as a number, boolean or null.
// Leaves out: superEncoder (recipes never use class inheritance), nil entries
// (absent optionals are simply left out of the tree).

import Foundation

/// Builds a tree while containers are alive; converted to a RecipeTree at the end.
final class RecipeTreeBuilder {
    enum Content { case unset, scalar(String, quoted: Bool), mapping([(String, RecipeTreeBuilder)]), sequence([RecipeTreeBuilder]) }
    var content: Content = .unset

    var tree: RecipeTree {
        switch content {
        case .unset: return .null
        case let .scalar(s, q): return .scalar(s, quoted: q)
        case let .mapping(pairs): return RecipeTree(.mapping(pairs.map { (key: $0.0, value: $0.1.tree) }))
        case let .sequence(items): return RecipeTree(.sequence(items.map(\.tree)))
        }
    }

    func appendPair(_ key: String) -> RecipeTreeBuilder {
        let child = RecipeTreeBuilder()
        if case var .mapping(pairs) = content {
            pairs.removeAll { $0.0 == key }
            pairs.append((key, child))
            content = .mapping(pairs)
        } else {
            content = .mapping([(key, child)])
        }
        return child
    }

    func appendItem() -> RecipeTreeBuilder {
        let child = RecipeTreeBuilder()
        if case var .sequence(items) = content {
            items.append(child)
            content = .sequence(items)
        } else {
            content = .sequence([child])
        }
        return child
    }
}

enum RecipeTreeEncoding {
    /// Encodes a value into a tree.
    static func tree<T: Encodable>(_ value: T) throws -> RecipeTree {
        let root = RecipeTreeBuilder()
        try value.encode(to: RecipeTreeEncoder(builder: root, codingPath: []))
        return root.tree
    }

    /// Text as a scalar, quoted when a plain scalar would read as something else.
    static func text(_ s: String) -> RecipeTree.Kind {
        let misread = RecipeTree.nullWords.contains(s) || RecipeScalar.double(s) != nil
            || ["true", "false", "True", "False", "TRUE", "FALSE", "yes", "no", "on", "off"].contains(s)
            || s != s.trimmingCharacters(in: .whitespaces)
        return .scalar(s, quoted: misread)
    }

    /// Shortest round-trip text, with a dot in the mantissa ("6.0e-05", not "6e-05")
    /// so YAML 1.1 readers such as PyYAML also see a number.
    static func number(_ d: Double) -> String {
        let s = "\(d)"
        guard let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }), !s[..<e].contains(".") else { return s }
        return s[..<e] + ".0" + s[e...]
    }
}

struct RecipeTreeEncoder: Encoder {
    let builder: RecipeTreeBuilder
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .mapping = builder.content {} else { builder.content = .mapping([]) }
        return KeyedEncodingContainer(RecipeKeyedEncoder<Key>(builder: builder, codingPath: codingPath))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        if case .sequence = builder.content {} else { builder.content = .sequence([]) }
        return RecipeUnkeyedEncoder(builder: builder, codingPath: codingPath)
    }

    func singleValueContainer() -> SingleValueEncodingContainer { RecipeSingleEncoder(builder: builder, codingPath: codingPath) }
}

struct RecipeSingleEncoder: SingleValueEncodingContainer {
    let builder: RecipeTreeBuilder
    let codingPath: [CodingKey]

    func encodeNil() { builder.content = .scalar("null", quoted: false) }
    func encode(_ value: Bool) { builder.content = .scalar(value ? "true" : "false", quoted: false) }
    func encode(_ value: String) {
        if case let .scalar(s, q) = RecipeTreeEncoding.text(value) { builder.content = .scalar(s, quoted: q) }
    }
    func encode(_ value: Double) { builder.content = .scalar(RecipeTreeEncoding.number(value), quoted: false) }
    func encode(_ value: Float) { builder.content = .scalar(RecipeTreeEncoding.number(Double(value)), quoted: false) }
    func encode(_ value: Int) { builder.content = .scalar("\(value)", quoted: false) }
    func encode(_ value: Int8) { builder.content = .scalar("\(value)", quoted: false) }
    func encode(_ value: Int16) { builder.content = .scalar("\(value)", quoted: false) }
    func encode(_ value: Int32) { builder.content = .scalar("\(value)", quoted: false) }
    func encode(_ value: Int64) { builder.content = .scalar("\(value)", quoted: false) }
    func encode(_ value: UInt) { builder.content = .scalar("\(value)", quoted: false) }
    func encode(_ value: UInt8) { builder.content = .scalar("\(value)", quoted: false) }
    func encode(_ value: UInt16) { builder.content = .scalar("\(value)", quoted: false) }
    func encode(_ value: UInt32) { builder.content = .scalar("\(value)", quoted: false) }
    func encode(_ value: UInt64) { builder.content = .scalar("\(value)", quoted: false) }
    func encode<T: Encodable>(_ value: T) throws {
        try value.encode(to: RecipeTreeEncoder(builder: builder, codingPath: codingPath))
    }
}

struct RecipeKeyedEncoder<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let builder: RecipeTreeBuilder
    let codingPath: [CodingKey]

    func encodeNil(forKey key: Key) {}

    func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        let child = builder.appendPair(key.stringValue)
        try value.encode(to: RecipeTreeEncoder(builder: child, codingPath: codingPath + [key]))
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
        -> KeyedEncodingContainer<NestedKey> {
        RecipeTreeEncoder(builder: builder.appendPair(key.stringValue), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
        RecipeTreeEncoder(builder: builder.appendPair(key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
    }

    func superEncoder() -> Encoder { RecipeTreeEncoder(builder: builder, codingPath: codingPath) }
    func superEncoder(forKey key: Key) -> Encoder {
        RecipeTreeEncoder(builder: builder.appendPair(key.stringValue), codingPath: codingPath + [key])
    }
}

struct RecipeUnkeyedEncoder: UnkeyedEncodingContainer {
    let builder: RecipeTreeBuilder
    let codingPath: [CodingKey]
    var count: Int {
        if case let .sequence(items) = builder.content { return items.count }
        return 0
    }

    mutating func encodeNil() { builder.appendItem().content = .scalar("null", quoted: false) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let key = RecipeIndexKey(intValue: count)
        try value.encode(to: RecipeTreeEncoder(builder: builder.appendItem(), codingPath: codingPath + [key]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let key = RecipeIndexKey(intValue: count)
        return RecipeTreeEncoder(builder: builder.appendItem(), codingPath: codingPath + [key]).container(keyedBy: keyType)
    }

    mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
        let key = RecipeIndexKey(intValue: count)
        return RecipeTreeEncoder(builder: builder.appendItem(), codingPath: codingPath + [key]).unkeyedContainer()
    }

    mutating func superEncoder() -> Encoder {
        let key = RecipeIndexKey(intValue: count)
        return RecipeTreeEncoder(builder: builder.appendItem(), codingPath: codingPath + [key])
    }
}
