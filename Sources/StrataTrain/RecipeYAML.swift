// Recipe YAML as Yams nodes: parsing a file (duplicate keys and YAML aliases are
// refused, naming the line), key paths (`data.sources[0].weight`), finding the
// node at a path and saying where it was written, and describing a node for an
// error message. Plain-scalar rules (what counts as a number or null) live here.
// Leaves out: tags, multi-document files, merge keys (`<<`, refused as aliases).

import Foundation
import StrataCore
import Yams

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

/// Plain-scalar interpretation shared by the checks and error messages.
enum RecipeScalar {
    static let nullWords: Set<String> = ["", "~", "null", "Null", "NULL"]

    /// A finite or non-finite number written in plain YAML style; underscores between digits are allowed.
    static func double(_ s: String) -> Double? {
        let t = s.replacingOccurrences(of: "_", with: "")
        guard !t.isEmpty, t.first != "_", let first = t.unicodeScalars.first,
              CharacterSet(charactersIn: "+-.0123456789").contains(first) else { return nil }
        return Double(t)
    }

    /// An integer, also written as an integral number (`8e15`, `1_000`).
    static func int(_ s: String) -> Int? {
        let t = s.replacingOccurrences(of: "_", with: "")
        if let i = Int(t) { return i }
        if let d = double(s), d.isFinite, d == d.rounded(), abs(d) < 9.0e15 { return Int(d) }
        return nil
    }
}

extension Node {
    /// A scalar written in quotes or as a block: always text.
    var isQuoted: Bool {
        guard case let .scalar(s) = self else { return false }
        return s.style != .plain && s.style != .any
    }

    /// The YAML null forms: an empty plain scalar, `~`, `null`.
    var isNullScalar: Bool {
        guard case let .scalar(s) = self else { return false }
        return !isQuoted && RecipeScalar.nullWords.contains(s.string)
    }

    /// A mapping's pairs with text keys, in order.
    var pairs: [(key: String, value: Node)]? {
        guard case let .mapping(m) = self else { return nil }
        return m.map { (key: $0.key.string ?? "", value: $0.value) }
    }

    /// A mapping node from text keys, keeping `mark` for messages.
    static func section(_ pairs: [(key: String, value: Node)], mark: Mark? = nil) -> Node {
        .mapping(Node.Mapping(pairs.map { (Node($0.key, .implicit, .plain), $0.value) }, .implicit, .block, mark))
    }

    /// Follows a path of mapping keys and list indices.
    func node(at path: some Collection<RecipePathSegment>) -> Node? {
        var current = self
        for seg in path {
            switch (seg, current) {
            case let (.key(k), .mapping):
                guard let next = current.pairs?.first(where: { $0.key == k })?.value else { return nil }
                current = next
            case let (.index(i), .sequence(items)):
                guard i >= 0, i < items.count else { return nil }
                current = items[i]
            default:
                return nil
            }
        }
        return current
    }

    /// A short description for error messages: `"fast"`, `3.5`, `a list`, `a section`, `nothing`.
    var shortDescription: String {
        switch self {
        case .mapping: return "a section (key: value lines)"
        case .sequence: return "a list"
        case let .scalar(s):
            if isNullScalar { return "nothing (null)" }
            let text = s.string
            if !isQuoted && (RecipeScalar.double(text) != nil || text == "true" || text == "false") { return text }
            let shown = text.count > 60 ? String(text.prefix(57)) + "..." : text
            return "\"\(shown)\"" + (isQuoted && RecipeScalar.double(text) != nil ? " (quoted text; remove the quotes)" : "")
        }
    }
}

enum RecipeYAML {
    /// Parses YAML text into a node; an empty document is an empty section.
    static func parse(_ yaml: String, file: String) throws -> Node {
        let node: Node?
        do {
            node = try Yams.compose(yaml: yaml)
        } catch {
            throw StrataError.format("read recipe \(file)", "not valid YAML: \(error)",
                                     fix: "check indentation and quoting near the position shown")
        }
        guard let node, !node.isNullScalar else { return .section([]) }
        return try checked(node, file: file)
    }

    /// The node, once it is known to have no duplicate keys, non-word keys or aliases.
    static func checked(_ node: Node, file: String) throws -> Node {
        var seen = Set<String>()
        try checkStructure(node, path: [], line: nil, file: file, seen: &seen)
        return node
    }

    /// Refuses duplicate keys, keys that are not words, and aliases. Yams expands an alias into the
    /// anchored node itself, so an alias shows up as a second visit to a node already seen (same kind,
    /// line and column); stopping there keeps a nested-alias "bomb" from being expanded at all.
    /// `line` is where the node is referred to: its key's line, or its list's.
    private static func checkStructure(_ node: Node, path: [RecipePathSegment], line: Int?, file: String, seen: inout Set<String>) throws {
        if let mark = node.mark, !node.isNullScalar {
            let kind = node.pairs != nil ? "m" : node.sequence != nil ? "s" : "v"
            guard seen.insert("\(kind)\(mark.line):\(mark.column)").inserted else {
                let at = (path.isEmpty ? "the recipe" : RecipePathSegment.render(path)) + (line.map { " (line \($0))" } ?? "")
                throw StrataError.config("read recipe \(file)", "\(at) is a YAML alias (*name) of the value at line \(mark.line)",
                                         fix: "write the value out; recipes do not allow anchors (&name) and aliases (*name)")
            }
        }
        switch node {
        case .scalar:
            return
        case let .sequence(items):
            for (i, item) in items.enumerated() {
                try checkStructure(item, path: path + [.index(i)], line: node.mark?.line, file: file, seen: &seen)
            }
        case let .mapping(m):
            var lines: [String: Int] = [:]
            for (k, v) in m {
                guard case let .scalar(ks) = k else {
                    throw StrataError.config("read recipe \(file)", "\(RecipePathSegment.render(path)): keys must be plain words, got \(k.shortDescription)"
                                             + (k.mark.map { " (line \($0.line))" } ?? ""))
                }
                let line = ks.mark?.line ?? 0
                if let first = lines[ks.string] {
                    throw StrataError.config("read recipe \(file)",
                                             "duplicate key '\(RecipePathSegment.render(path + [.key(ks.string)]))' (line \(first) and line \(line))",
                                             fix: "keep one of them")
                }
                lines[ks.string] = line
                try checkStructure(k, path: path, line: line, file: file, seen: &seen)
                try checkStructure(v, path: path + [.key(ks.string)], line: line, file: file, seen: &seen)
            }
        }
    }

    /// The node as block-style YAML text.
    static func text(_ node: Node) throws -> String {
        do {
            return try Yams.serialize(node: node, indent: 2, width: -1, allowUnicode: true)
        } catch {
            throw StrataError.format("write recipe YAML", "\(error)")
        }
    }
}
