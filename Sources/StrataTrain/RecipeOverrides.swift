// `--set key.path=value` overrides applied to a recipe tree before decoding.
// Paths are dot-separated keys with list indices as `[0]` or `.0`
// (`data.sources[0].weight=2`); values are parsed as YAML (so `3e-4` is a
// number, `"3e-4"` is text, `[a, b]` is a list). Missing keys and sections are
// created; whether they are known is decided later by the strict decoder.
// Leaves out: deleting keys, appending to lists.

import Foundation
import StrataCore
import Yams

public struct RecipeOverride: Equatable, Sendable {
    public let path: [RecipePathSegment]
    public let value: RecipeTree
    /// The override as the user wrote it, for messages.
    public let text: String

    /// Parses `key.path=value`.
    public init(parsing text: String) throws {
        self.text = text
        let op = "--set \(text)"
        guard let eq = text.firstIndex(of: "=") else {
            throw StrataError.config(op, "expected key.path=value, found no '=' in '\(text)'",
                                     fix: "write it like --set optim.lr=3e-4")
        }
        let keyText = text[..<eq].trimmingCharacters(in: .whitespaces)
        let valueText = String(text[text.index(after: eq)...])
        guard !keyText.isEmpty else {
            throw StrataError.config(op, "the key path before '=' is empty", fix: "write it like --set optim.lr=3e-4")
        }
        path = try RecipeOverride.parsePath(keyText, op: op)
        value = try RecipeOverride.parseValue(valueText, key: keyText, op: op)
    }

    static func parsePath(_ keyText: String, op: String) throws -> [RecipePathSegment] {
        var out = [RecipePathSegment]()
        for part in keyText.split(separator: ".", omittingEmptySubsequences: false) {
            var rest = Substring(part)
            guard !rest.isEmpty else {
                throw StrataError.config(op, "key path '\(keyText)' has an empty part", fix: "separate keys with single dots: optim.lr")
            }
            if let bracket = rest.firstIndex(of: "[") {
                let name = rest[..<bracket]
                if !name.isEmpty { out.append(try key(name, keyText: keyText, op: op)) }
                rest = rest[bracket...]
                while !rest.isEmpty {
                    guard rest.first == "[", let close = rest.firstIndex(of: "]") else {
                        throw StrataError.config(op, "key path '\(keyText)' has an unclosed or stray bracket",
                                                 fix: "write list positions as sources[0]")
                    }
                    let inner = rest[rest.index(after: rest.startIndex)..<close]
                    guard let i = Int(inner), i >= 0 else {
                        throw StrataError.config(op, "key path '\(keyText)': '[\(inner)]' is not a list position",
                                                 fix: "use a number from 0, e.g. sources[0]")
                    }
                    out.append(.index(i))
                    rest = rest[rest.index(after: close)...]
                }
            } else if let i = Int(rest), i >= 0, !out.isEmpty {
                out.append(.index(i))
            } else {
                out.append(try key(rest, keyText: keyText, op: op))
            }
        }
        return out
    }

    private static func key(_ s: Substring, keyText: String, op: String) throws -> RecipePathSegment {
        let ok = s.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == "-" }
        guard ok else {
            throw StrataError.config(op, "key path '\(keyText)': '\(s)' is not a key name",
                                     fix: "keys are letters, digits, '_' and '-', separated by dots")
        }
        return .key(String(s))
    }

    static func parseValue(_ valueText: String, key: String, op: String) throws -> RecipeTree {
        let origin = "--set \(key)"
        if valueText.trimmingCharacters(in: .whitespaces).isEmpty { return .scalar("", origin: origin) }
        do {
            guard let node = try Yams.compose(yaml: valueText) else { return .scalar("", origin: origin) }
            return try RecipeTree.from(node, path: [], file: op, originPrefix: origin)
        } catch let e as StrataError {
            throw e
        } catch {
            throw StrataError.config(op, "the value for '\(key)' is not valid YAML: \(error)",
                                     fix: "quote text with special characters: --set \(key)='\"...\"'")
        }
    }
}

extension RecipeTree {
    /// Applies an override, creating missing sections and keys on the way.
    public mutating func apply(_ o: RecipeOverride) throws {
        try set(o.path[...], to: o.value, done: [], override: o)
    }

    private mutating func set(_ path: ArraySlice<RecipePathSegment>, to value: RecipeTree,
                              done: [RecipePathSegment], override o: RecipeOverride) throws {
        guard let seg = path.first else {
            self = value
            return
        }
        let here = done + [seg]
        switch seg {
        case let .key(k):
            if isNull { kind = .mapping([]) }
            guard case var .mapping(pairs) = kind else {
                throw StrataError.config("--set \(o.text)",
                                         "'\(RecipePathSegment.render(done))' is \(shortDescription), not a section, so it has no key '\(k)'")
            }
            if let i = pairs.firstIndex(where: { $0.key == k }) {
                try pairs[i].value.set(path.dropFirst(), to: value, done: here, override: o)
            } else {
                var child = RecipeTree.null
                child.origin = "--set \(RecipePathSegment.render(here))"
                try child.set(path.dropFirst(), to: value, done: here, override: o)
                pairs.append((k, child))
            }
            kind = .mapping(pairs)
        case let .index(i):
            guard case var .sequence(items) = kind else {
                throw StrataError.config("--set \(o.text)",
                                         "'\(RecipePathSegment.render(done))' is \(shortDescription), not a list, so it has no position [\(i)]")
            }
            guard items.indices.contains(i) else {
                throw StrataError.config("--set \(o.text)",
                                         "'\(RecipePathSegment.render(here))' does not exist: '\(RecipePathSegment.render(done))' has \(items.count) entries",
                                         fix: "positions count from 0")
            }
            try items[i].set(path.dropFirst(), to: value, done: here, override: o)
            kind = .sequence(items)
        }
    }
}
