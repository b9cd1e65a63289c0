// RecipeTree: an ordered YAML document tree (scalars keep whether they were
// quoted, every node keeps where it came from: a line of the file or --set), the
// form a recipe takes between parsing, overriding, decoding and writing back.
// Conversion from and to Yams nodes lives here too.
// Leaves out: anchors/tags beyond what Yams resolves, multi-document files.

import Foundation
import StrataCore
import Yams

public struct RecipeTree: Equatable, Sendable {
    public enum Kind: Equatable, Sendable {
        /// A scalar's text; `quoted` is true for quoted or block scalars, which are always text.
        case scalar(String, quoted: Bool)
        case mapping([(key: String, value: RecipeTree)])
        case sequence([RecipeTree])

        public static func == (a: Kind, b: Kind) -> Bool {
            switch (a, b) {
            case let (.scalar(x, qx), .scalar(y, qy)): return x == y && qx == qy
            case let (.sequence(x), .sequence(y)): return x == y
            case let (.mapping(x), .mapping(y)):
                return x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
            default: return false
            }
        }
    }

    public var kind: Kind
    /// Where the node came from, e.g. "line 12" or "--set optim.lr=1e-3"; nil when built in code.
    public var origin: String?

    public init(_ kind: Kind, origin: String? = nil) {
        self.kind = kind
        self.origin = origin
    }

    public static func scalar(_ s: String, quoted: Bool = false, origin: String? = nil) -> RecipeTree {
        RecipeTree(.scalar(s, quoted: quoted), origin: origin)
    }
    public static let null = RecipeTree(.scalar("", quoted: false))
    public static func emptyMapping(origin: String? = nil) -> RecipeTree { RecipeTree(.mapping([]), origin: origin) }

    /// True for the YAML null forms: an empty plain scalar, `~`, `null`.
    public var isNull: Bool {
        if case let .scalar(s, false) = kind { return RecipeTree.nullWords.contains(s) }
        return false
    }
    static let nullWords: Set<String> = ["", "~", "null", "Null", "NULL"]

    /// The value at `key` when this node is a mapping.
    public subscript(key: String) -> RecipeTree? {
        if case let .mapping(pairs) = kind { return pairs.first { $0.key == key }?.value }
        return nil
    }

    /// Follows a path of mapping keys and list indices ("data.sources[0].weight").
    public func node(at path: [RecipePathSegment]) -> RecipeTree? {
        var current = self
        for seg in path {
            switch (seg, current.kind) {
            case let (.key(k), .mapping):
                guard let next = current[k] else { return nil }
                current = next
            case let (.index(i), .sequence(items)):
                guard items.indices.contains(i) else { return nil }
                current = items[i]
            default:
                return nil
            }
        }
        return current
    }

    /// A short description for error messages: `"fast"`, `3.5`, `a list`, `a section`, `nothing`.
    var shortDescription: String {
        switch kind {
        case .mapping: return "a section (key: value lines)"
        case .sequence: return "a list"
        case let .scalar(s, quoted):
            if !quoted && isNull { return "nothing (null)" }
            if !quoted && (RecipeScalar.double(s) != nil || s == "true" || s == "false") { return s }
            let shown = s.count > 60 ? String(s.prefix(57)) + "..." : s
            return "\"\(shown)\"" + (quoted && RecipeScalar.double(s) != nil ? " (quoted text; remove the quotes)" : "")
        }
    }
}

/// One step of a key path: a mapping key or a list index.
public enum RecipePathSegment: Equatable, Sendable, CustomStringConvertible {
    case key(String)
    case index(Int)

    public var description: String {
        switch self {
        case let .key(k): return k
        case let .index(i): return "[\(i)]"
        }
    }

    /// Renders a path as `data.sources[0].weight`.
    public static func render(_ path: [RecipePathSegment]) -> String {
        var out = ""
        for seg in path {
            switch seg {
            case let .key(k): out += out.isEmpty ? k : "." + k
            case let .index(i): out += "[\(i)]"
            }
        }
        return out
    }

    /// The path of a Codable coding path.
    static func from(_ codingPath: [CodingKey]) -> [RecipePathSegment] {
        codingPath.map { key in key.intValue.map { .index($0) } ?? .key(key.stringValue) }
    }
}

/// Plain-scalar interpretation shared by the decoder and error messages.
enum RecipeScalar {
    /// A finite or non-finite number written in plain YAML style; underscores between digits are allowed.
    static func double(_ s: String) -> Double? {
        let t = s.replacingOccurrences(of: "_", with: "")
        guard !t.isEmpty, t.first != "_", let first = t.unicodeScalars.first,
              CharacterSet(charactersIn: "+-.0123456789").contains(first) else { return nil }
        return Double(t)
    }

    static func int(_ s: String) -> Int? {
        let t = s.replacingOccurrences(of: "_", with: "")
        if let i = Int(t) { return i }
        if let d = double(s), d.isFinite, d == d.rounded(), abs(d) < 9.0e15 { return Int(d) }
        return nil
    }
}

// MARK: - Yams conversion

extension RecipeTree {
    /// Parses YAML text into a tree; an empty document is an empty mapping.
    public static func parse(yaml: String, file: String) throws -> RecipeTree {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch let e as YamlError {
            throw StrataError.format("read recipe \(file)", "not valid YAML: \(e)", fix: "check indentation and quoting near the position shown")
        } catch {
            throw StrataError.format("read recipe \(file)", "not valid YAML: \(error)")
        }
        guard let node else { return .emptyMapping(origin: "line 1") }
        return try from(node, path: [], file: file, originPrefix: nil)
    }

    static func from(_ node: Node, path: [RecipePathSegment], file: String, originPrefix: String?) throws -> RecipeTree {
        func origin(_ mark: Mark?) -> String? {
            if let originPrefix { return originPrefix }
            return mark.map { "line \($0.line)" }
        }
        switch node {
        case let .scalar(s):
            return .scalar(s.string, quoted: s.style != .plain && s.style != .any, origin: origin(s.mark))
        case let .sequence(seq):
            var items = [RecipeTree]()
            for (i, child) in seq.enumerated() {
                items.append(try from(child, path: path + [.index(i)], file: file, originPrefix: originPrefix))
            }
            return RecipeTree(.sequence(items), origin: origin(seq.mark))
        case let .mapping(map):
            var pairs = [(key: String, value: RecipeTree)]()
            for (k, v) in map {
                guard case let .scalar(ks) = k else {
                    throw StrataError.config("read recipe \(file)",
                                             "\(RecipePathSegment.render(path)): keys must be plain words, got \(k.mapping != nil ? "a section" : "a list")")
                }
                let key = ks.string
                if let prev = pairs.first(where: { $0.key == key }) {
                    let where1 = prev.value.origin ?? "?", where2 = origin(ks.mark) ?? "?"
                    throw StrataError.config("read recipe \(file)",
                                             "duplicate key '\(RecipePathSegment.render(path + [.key(key)]))' (\(where1) and \(where2))",
                                             fix: "keep one of them")
                }
                pairs.append((key, try from(v, path: path + [.key(key)], file: file, originPrefix: originPrefix)))
            }
            return RecipeTree(.mapping(pairs), origin: origin(map.mark))
        }
    }

    /// The tree as a Yams node, for writing YAML.
    func yamsNode() -> Node {
        switch kind {
        case let .scalar(s, quoted):
            return Node(s, quoted ? Tag(.str) : .implicit, quoted ? .doubleQuoted : .plain)
        case let .sequence(items):
            return Node(items.map { $0.yamsNode() }, .implicit, .block)
        case let .mapping(pairs):
            return Node(pairs.map { (Node($0.key), $0.value.yamsNode()) }, .implicit, .block)
        }
    }

    /// The tree written as block-style YAML.
    public func yamlText() throws -> String {
        do {
            return try Yams.serialize(node: yamsNode(), indent: 2, width: -1, allowUnicode: true)
        } catch {
            throw StrataError.format("write recipe YAML", "\(error)")
        }
    }
}
