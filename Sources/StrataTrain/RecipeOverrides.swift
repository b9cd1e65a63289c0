// `--set key.path=value` overrides applied to a recipe's YAML node before the
// defaults are merged under it.
// Paths are dot-separated keys with list indices as `[0]` or `.0`
// (`data.sources[0].weight=2`); values are parsed as YAML (so `3e-4` is a
// number, `"3e-4"` is text, `[a, b]` is a list). Missing keys and sections are
// created; whether they are known is decided later against the recipe schema.
// Leaves out: deleting keys, appending to lists.

import Foundation
import StrataCore
import Yams

struct RecipeOverride {
    let path: [RecipePathSegment]
    let value: Node
    /// The override as the user wrote it, for messages.
    let text: String

    /// Parses `key.path=value`.
    init(parsing text: String) throws {
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

    static func parseValue(_ valueText: String, key: String, op: String) throws -> Node {
        let node: Node?
        do {
            node = try Yams.compose(yaml: valueText)
        } catch {
            throw StrataError.config(op, "the value for '\(key)' is not valid YAML: \(error)",
                                     fix: "quote text with special characters: --set \(key)='\"...\"'")
        }
        guard let node else { return Node("", .implicit, .plain) }
        return try RecipeYAML.checked(node, file: op)
    }

    /// Where a node it wrote came from, for messages.
    var origin: String { "--set \(RecipePathSegment.render(path))" }
}

extension Node {
    /// This node with an override applied, creating missing sections and keys on the way.
    func applying(_ o: RecipeOverride) throws -> Node {
        try setting(o.path[...], to: o.value, done: [], override: o)
    }

    private func setting(_ path: ArraySlice<RecipePathSegment>, to value: Node, done: [RecipePathSegment],
                         override o: RecipeOverride) throws -> Node {
        guard let seg = path.first else { return value }
        let here = done + [seg]
        switch seg {
        case let .key(k):
            guard var pairs = isNullScalar ? [] : self.pairs else {
                throw StrataError.config("--set \(o.text)",
                                         "'\(RecipePathSegment.render(done))' is \(shortDescription), not a section, so it has no key '\(k)'")
            }
            if let i = pairs.firstIndex(where: { $0.key == k }) {
                pairs[i].value = try pairs[i].value.setting(path.dropFirst(), to: value, done: here, override: o)
            } else {
                let created = Node("", .implicit, .plain)
                pairs.append((k, try created.setting(path.dropFirst(), to: value, done: here, override: o)))
            }
            return .section(pairs, mark: isNullScalar ? nil : mark)
        case let .index(i):
            guard case var .sequence(items) = self else {
                throw StrataError.config("--set \(o.text)",
                                         "'\(RecipePathSegment.render(done))' is \(shortDescription), not a list, so it has no position [\(i)]")
            }
            guard i < items.count else {
                throw StrataError.config("--set \(o.text)",
                                         "'\(RecipePathSegment.render(here))' does not exist: '\(RecipePathSegment.render(done))' has \(items.count) entries",
                                         fix: "positions count from 0")
            }
            items[i] = try items[i].setting(path.dropFirst(), to: value, done: here, override: o)
            return .sequence(items)
        }
    }
}
