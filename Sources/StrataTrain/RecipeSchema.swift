// RecipeSchema: what the recipe types say about their YAML keys, learnt by
// encoding values through the types' own (synthesised) Encodable: every key in
// declaration order with its help line, its shape (integer, number, choice,
// section, list...), its default as a YAML node, and whether it is optional or
// required. The loader merges user YAML over these defaults and checks keys and
// values against the shapes; `strata recipe keys` and docs/recipes.md print it.
// The same encoder writes a resolved recipe as a YAML node. (Yams 5's own
// YAMLEncoder returns only text, leaves nil optionals out, and writes doubles
// with 15 digits as `6e-4`, which is lossy and a string to PyYAML.)
// Leaves out: reading YAML (RecipeYAML.swift), range rules (Recipe+Validation.swift).

import Foundation
import Yams

/// A recipe section: a Codable struct whose defaults are its property initial values.
/// Adding a section is one struct conforming to this plus one property where it lives.
protocol RecipeSection: Codable {
    init()
    /// Keys the user must write (they have no default). Empty for most sections.
    static var requiredKeys: Set<String> { get }
}

extension RecipeSection {
    static var requiredKeys: Set<String> { [] }
}

/// A section's coding keys (the YAML names), each with one line of help for the key reference.
protocol RecipeKey: CodingKey, CaseIterable {
    var help: String { get }
}

/// A closed set of words in a recipe (schedule names, interpolation...).
public protocol RecipeChoice: RawRepresentable, CaseIterable, Codable, Sendable where RawValue == String {}

/// A value with its own YAML shape that is not a section, list or plain scalar (vocab_size).
protocol RecipeLeaf {
    static var recipeShape: RecipeShape { get }
}

/// What a recipe value looks like in YAML.
indirect enum RecipeShape {
    case integer, number, bool, text
    /// One of these words.
    case choice([String])
    /// An integer, or one of these words (the first is how it is written back).
    case integerOr([String])
    case section(RecipeSchema)
    case list(RecipeShape)

    /// How an error message says what was expected.
    var expected: String {
        switch self {
        case .integer: return "an integer"
        case .number: return "a number"
        case .bool: return "true or false"
        case .text: return "text"
        case let .choice(words): return "one of \(words.joined(separator: ", "))"
        case let .integerOr(words): return "an integer or \(words[0])"
        case .section: return "a section (key: value lines)"
        case .list: return "a list"
        }
    }

    /// How the key reference names the type.
    var typeName: String {
        switch self {
        case .integer: return "integer"
        case .number: return "number"
        case .bool: return "true/false"
        case .text: return "text"
        case let .choice(words): return "one of " + words.joined(separator: ", ")
        case let .integerOr(words): return "integer or \(words[0])"
        case .section: return "section"
        case let .list(of): return "list of \(of.typeName)"
        }
    }

    /// The shape of values of a Swift type used in a recipe.
    static func of(_ type: Any.Type) -> RecipeShape {
        switch type {
        case is Int.Type: return .integer
        case is Double.Type: return .number
        case is Bool.Type: return .bool
        case is String.Type: return .text
        case let leaf as RecipeLeaf.Type: return leaf.recipeShape
        case let choice as any RecipeChoice.Type: return .choice(words(choice))
        case let section as any RecipeSection.Type: return .section(RecipeSchema(defaultsOf: section))
        case let list as RecipeList.Type: return .list(of(list.elementType))
        default:
            // Only reachable by adding a recipe field of a new kind of type; RecipeSchemaTests walks every field.
            preconditionFailure("recipe field type \(type) has no RecipeShape; make it a RecipeSection, RecipeChoice or RecipeLeaf")
        }
    }

    private static func words<C: RecipeChoice>(_ type: C.Type) -> [String] { type.allCases.map(\.rawValue) }
}

/// Arrays tell the schema their element type even when empty.
protocol RecipeList { static var elementType: Any.Type { get } }
extension Array: RecipeList { static var elementType: Any.Type { Element.self } }

/// One key of a section.
struct RecipeField {
    var key: String
    var help: String
    var shape: RecipeShape
    /// The default as YAML; nil for a key that is absent by default (optional) or required.
    var defaultValue: Node?
    var isOptional: Bool
    var isRequired: Bool
    /// The Swift type of the value (the wrapped type for optionals).
    var swiftType: Any.Type
}

/// The keys of one section, in declaration order.
struct RecipeSchema {
    var fields: [RecipeField]

    subscript(key: String) -> RecipeField? { fields.first { $0.key == key } }

    /// The keys of a section type, with the type's defaults.
    init(defaultsOf type: any RecipeSection.Type) {
        let (_, fields) = RecipeNodeEncoder.encode(type.init())
        let required = type.requiredKeys
        self.fields = fields.map { f in
            var f = f
            if required.contains(f.key) { f.isRequired = true; f.defaultValue = nil }
            return f
        }
    }

    /// Every key of a recipe, with its defaults.
    static var recipe: RecipeSchema { RecipeSchema(defaultsOf: Recipe.self) }
}

// MARK: - Encoding values as YAML nodes

/// Encodes a value into a Yams node (keys in the order the type encodes them, numbers in shortest
/// round-trip form, text quoted only where YAML would read it as something else) and records each key.
enum RecipeNodeEncoder {
    static func encode<T: Encodable>(_ value: T) -> (Node, [RecipeField]) {
        let box = Box()
        do {
            try value.encode(to: Writer(box: box))
        } catch {
            // The recipe types' encoders never throw (they write scalars, sections and lists only).
            preconditionFailure("encoding \(T.self) as YAML failed: \(error)")
        }
        return (box.node, box.fields)
    }

    /// Text as a scalar, quoted when a plain scalar would read as something else to Yams (numbers in any
    /// base, .inf, booleans including yes/no/on/off, null, timestamps, sexagesimal) or lose its spaces.
    static func text(_ s: String) -> Node {
        let plain = Node(s, .implicit, .plain)
        let misread = Resolver.default.resolveTag(of: plain) != .str || RecipeScalar.double(s) != nil
            || ["y", "Y", "n", "N"].contains(s) || s != s.trimmingCharacters(in: .whitespaces)
        return misread ? Node(s, Tag(.str), .doubleQuoted) : plain
    }

    /// Shortest round-trip text, with a dot in the mantissa ("6.0e-05", not "6e-05")
    /// so YAML 1.1 readers such as PyYAML also see a number.
    static func number(_ text: String) -> Node {
        var s = text
        if let e = s.firstIndex(where: { $0 == "e" || $0 == "E" }), !s[..<e].contains(".") {
            s = s[..<e] + ".0" + s[e...]
        }
        return Node(s, .implicit, .plain)
    }

    final class Box {
        enum Content { case empty, scalar(Node), pairs([(String, Box)]), items([Box]) }
        var content = Content.empty
        var fields: [RecipeField] = []

        var node: Node {
            switch content {
            case .empty: return Node("null", .implicit, .plain)
            case let .scalar(n): return n
            case let .pairs(p): return Node(p.map { (Node($0.0, .implicit, .plain), $0.1.node) }, .implicit, .block)
            case let .items(i): return Node(i.map(\.node), .implicit, .block)
            }
        }

        func pair(_ key: String) -> Box {
            let child = Box()
            if case var .pairs(p) = content {
                p.removeAll { $0.0 == key }
                p.append((key, child))
                content = .pairs(p)
            } else {
                content = .pairs([(key, child)])
            }
            return child
        }

        func item() -> Box {
            let child = Box()
            if case var .items(i) = content {
                i.append(child)
                content = .items(i)
            } else {
                content = .items([child])
            }
            return child
        }
    }

    struct Writer: Encoder {
        let box: Box
        var codingPath: [CodingKey] = []
        var userInfo: [CodingUserInfoKey: Any] { [:] }

        func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
            if case .pairs = box.content {} else { box.content = .pairs([]) }
            return KeyedEncodingContainer(Keyed<Key>(box: box, codingPath: codingPath))
        }

        func unkeyedContainer() -> UnkeyedEncodingContainer {
            if case .items = box.content {} else { box.content = .items([]) }
            return Unkeyed(box: box, codingPath: codingPath)
        }

        func singleValueContainer() -> SingleValueEncodingContainer { Single(box: box, codingPath: codingPath) }
    }
}
