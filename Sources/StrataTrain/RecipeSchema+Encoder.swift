// The containers of RecipeNodeEncoder: a keyed container that records every key
// a type encodes (optional ones too, with their Swift type, even when nil), and
// plain containers for lists and scalars.
// Leaves out: superEncoder beyond what the protocol demands (recipe types are
// structs and never use it).

import Foundation
import Yams

extension RecipeNodeEncoder {
    struct Keyed<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let box: Box
        let codingPath: [CodingKey]

        /// Records the key (with its type's shape and default) and writes the value when present.
        private func add<T: Encodable>(_ key: Key, _ value: T?, optional: Bool) throws {
            var node: Node?
            if let value {
                let child = box.pair(key.stringValue)
                try value.encode(to: Writer(box: child, codingPath: codingPath + [key]))
                node = child.node
            }
            box.fields.append(RecipeField(key: key.stringValue, help: (key as? any RecipeKey)?.help ?? "",
                                          shape: RecipeShape.of(T.self), defaultValue: node,
                                          isOptional: optional, isRequired: false, swiftType: T.self))
        }

        mutating func encodeNil(forKey key: Key) {}
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try add(key, value, optional: false) }
        mutating func encodeIfPresent<T: Encodable>(_ value: T?, forKey key: Key) throws { try add(key, value, optional: true) }

        mutating func encode(_ value: Bool, forKey key: Key) throws { try add(key, value, optional: false) }
        mutating func encode(_ value: String, forKey key: Key) throws { try add(key, value, optional: false) }
        mutating func encode(_ value: Double, forKey key: Key) throws { try add(key, value, optional: false) }
        mutating func encode(_ value: Float, forKey key: Key) throws { try add(key, value, optional: false) }
        mutating func encode(_ value: Int, forKey key: Key) throws { try add(key, value, optional: false) }
        mutating func encode(_ value: Int8, forKey key: Key) throws { try add(key, value, optional: false) }
        mutating func encode(_ value: Int16, forKey key: Key) throws { try add(key, value, optional: false) }
        mutating func encode(_ value: Int32, forKey key: Key) throws { try add(key, value, optional: false) }
        mutating func encode(_ value: Int64, forKey key: Key) throws { try add(key, value, optional: false) }
        mutating func encode(_ value: UInt, forKey key: Key) throws { try add(key, value, optional: false) }
        mutating func encode(_ value: UInt8, forKey key: Key) throws { try add(key, value, optional: false) }
        mutating func encode(_ value: UInt16, forKey key: Key) throws { try add(key, value, optional: false) }
        mutating func encode(_ value: UInt32, forKey key: Key) throws { try add(key, value, optional: false) }
        mutating func encode(_ value: UInt64, forKey key: Key) throws { try add(key, value, optional: false) }

        // Optional scalars: the default implementations skip nil without telling the container, so the
        // key would be missing from the schema.
        mutating func encodeIfPresent(_ value: Bool?, forKey key: Key) throws { try add(key, value, optional: true) }
        mutating func encodeIfPresent(_ value: String?, forKey key: Key) throws { try add(key, value, optional: true) }
        mutating func encodeIfPresent(_ value: Double?, forKey key: Key) throws { try add(key, value, optional: true) }
        mutating func encodeIfPresent(_ value: Float?, forKey key: Key) throws { try add(key, value, optional: true) }
        mutating func encodeIfPresent(_ value: Int?, forKey key: Key) throws { try add(key, value, optional: true) }
        mutating func encodeIfPresent(_ value: Int64?, forKey key: Key) throws { try add(key, value, optional: true) }
        mutating func encodeIfPresent(_ value: UInt64?, forKey key: Key) throws { try add(key, value, optional: true) }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
            -> KeyedEncodingContainer<NestedKey> {
            Writer(box: box.pair(key.stringValue), codingPath: codingPath + [key]).container(keyedBy: keyType)
        }

        mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
            Writer(box: box.pair(key.stringValue), codingPath: codingPath + [key]).unkeyedContainer()
        }

        mutating func superEncoder() -> Encoder { Writer(box: box, codingPath: codingPath) }
        mutating func superEncoder(forKey key: Key) -> Encoder { Writer(box: box.pair(key.stringValue), codingPath: codingPath + [key]) }
    }

    struct Unkeyed: UnkeyedEncodingContainer {
        let box: Box
        let codingPath: [CodingKey]
        var count: Int {
            if case let .items(i) = box.content { return i.count }
            return 0
        }

        private func next() -> Writer { Writer(box: box.item(), codingPath: codingPath) }

        mutating func encodeNil() throws {
            var single = next().singleValueContainer()
            try single.encodeNil()
        }
        mutating func encode<T: Encodable>(_ value: T) throws { try value.encode(to: next()) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            next().container(keyedBy: keyType)
        }
        mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer { next().unkeyedContainer() }
        mutating func superEncoder() -> Encoder { next() }
    }

    struct Single: SingleValueEncodingContainer {
        let box: Box
        let codingPath: [CodingKey]

        private func put(_ node: Node) { box.content = .scalar(node) }

        mutating func encodeNil() throws { put(Node("null", .implicit, .plain)) }
        mutating func encode(_ value: Bool) throws { put(Node(value ? "true" : "false", .implicit, .plain)) }
        mutating func encode(_ value: String) throws { put(RecipeNodeEncoder.text(value)) }
        mutating func encode(_ value: Double) throws { put(RecipeNodeEncoder.number("\(value)")) }
        mutating func encode(_ value: Float) throws { put(RecipeNodeEncoder.number("\(value)")) }
        mutating func encode(_ value: Int) throws { put(Node("\(value)", .implicit, .plain)) }
        mutating func encode(_ value: Int8) throws { put(Node("\(value)", .implicit, .plain)) }
        mutating func encode(_ value: Int16) throws { put(Node("\(value)", .implicit, .plain)) }
        mutating func encode(_ value: Int32) throws { put(Node("\(value)", .implicit, .plain)) }
        mutating func encode(_ value: Int64) throws { put(Node("\(value)", .implicit, .plain)) }
        mutating func encode(_ value: UInt) throws { put(Node("\(value)", .implicit, .plain)) }
        mutating func encode(_ value: UInt8) throws { put(Node("\(value)", .implicit, .plain)) }
        mutating func encode(_ value: UInt16) throws { put(Node("\(value)", .implicit, .plain)) }
        mutating func encode(_ value: UInt32) throws { put(Node("\(value)", .implicit, .plain)) }
        mutating func encode(_ value: UInt64) throws { put(Node("\(value)", .implicit, .plain)) }
        mutating func encode<T: Encodable>(_ value: T) throws { try value.encode(to: Writer(box: box, codingPath: codingPath)) }
    }
}
