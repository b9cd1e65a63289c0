// Checking a recipe's YAML node against the schema and merging the defaults
// under it, in one walk: unknown keys (with a did-you-mean), values of the wrong
// shape, booleans other than true/false, integers written as 8e15, non-finite
// numbers and missing required keys are each recorded with their key path;
// what passes is rewritten canonically so Yams' decoder reads it exactly.
// A null value means "not set": the default stands.
// Leaves out: range and cross-field rules (Recipe+Validation.swift).

import Foundation
import Yams

/// One thing wrong with a recipe's YAML, at a key path.
struct RecipeIssue {
    var path: [RecipePathSegment]
    var message: String
    var isUnknownKey = false
}

extension RecipeShape {
    /// `node` checked against this shape and written canonically, with defaults merged under every
    /// section; nil where there was a problem (recorded in `issues`).
    func resolve(_ node: Node, at path: [RecipePathSegment], _ issues: inout [RecipeIssue]) -> Node? {
        switch self {
        case let .section(schema):
            return schema.resolve(node, at: path, &issues)
        case let .list(element):
            guard case let .sequence(items) = node else { return mismatch(node, path, &issues) }
            let out = items.enumerated().map { element.resolve($1, at: path + [.index($0)], &issues) }
            return out.contains { $0 == nil } ? nil : .sequence(Node.Sequence(out.compactMap { $0 }, .implicit, .block))
        default:
            guard let canonical = scalar(node) else { return mismatch(node, path, &issues) }
            return canonical
        }
    }

    /// The canonical scalar for a leaf value, or nil when it is not one of this shape.
    private func scalar(_ node: Node) -> Node? {
        guard case let .scalar(s) = node, !node.isNullScalar else { return nil }
        let plain: String? = node.isQuoted ? nil : s.string
        switch self {
        case .integer:
            return plain.flatMap(RecipeScalar.int).map { Node("\($0)", .implicit, .plain) }
        case .number:
            guard let d = plain.flatMap(RecipeScalar.double), d.isFinite else { return nil }
            return RecipeNodeEncoder.number("\(d)")
        case .bool:
            switch plain {
            case "true", "True", "TRUE": return Node("true", .implicit, .plain)
            case "false", "False", "FALSE": return Node("false", .implicit, .plain)
            default: return nil
            }
        case .text:
            return RecipeNodeEncoder.text(s.string)
        case let .choice(words):
            return words.contains(s.string) ? RecipeNodeEncoder.text(s.string) : nil
        case let .integerOr(words):
            if let i = plain.flatMap(RecipeScalar.int) { return Node("\(i)", .implicit, .plain) }
            return words.contains(s.string) ? RecipeNodeEncoder.text(words[0]) : nil
        case .section, .list:
            return nil
        }
    }

    fileprivate func mismatch(_ node: Node, _ path: [RecipePathSegment], _ issues: inout [RecipeIssue]) -> Node? {
        var expected = self.expected
        if case .number = self, let d = node.scalar.flatMap({ RecipeScalar.double($0.string) }), !d.isFinite, !node.isQuoted {
            expected = "a finite number"
        }
        let at = path.isEmpty ? "the recipe" : RecipePathSegment.render(path)
        issues.append(RecipeIssue(path: path, message: "\(at): expected \(expected), got \(node.shortDescription)"))
        return nil
    }
}

extension RecipeSchema {
    /// The user's section merged over this section's defaults, keys in declaration order.
    func resolve(_ node: Node, at path: [RecipePathSegment], _ issues: inout [RecipeIssue]) -> Node? {
        guard let pairs = node.pairs else { return RecipeShape.section(self).mismatch(node, path, &issues) }
        var given: [String: Node] = [:]
        var ok = true
        for (key, value) in pairs {
            let at = path + [.key(key)]
            guard let field = self[key] else {
                issues.append(RecipeIssue(path: at, message: unknownKeyMessage(key, at: path), isUnknownKey: true))
                continue
            }
            if value.isNullScalar { continue }
            if field.isOptional, case .text = field.shape, value.isQuoted, let s = value.scalar?.string, RecipeScalar.nullWords.contains(s) {
                // Yams reads these as "no value" for an optional key; say so rather than drop the key silently.
                issues.append(RecipeIssue(path: at, message: "\(RecipePathSegment.render(at)) must not be empty" + (s.isEmpty ? "" : " or \"\(s)\"")))
                ok = false
                continue
            }
            guard let v = field.shape.resolve(value, at: at, &issues) else { ok = false; continue }
            given[key] = v
        }
        var out: [(key: String, value: Node)] = []
        for field in fields {
            if let v = given[field.key] {
                out.append((field.key, v))
            } else if let d = field.defaultValue {
                out.append((field.key, d))
            } else if field.isRequired {
                let at = path + [.key(field.key)]
                issues.append(RecipeIssue(path: at, message: "missing required key '\(RecipePathSegment.render(at))'"))
                ok = false
            }
        }
        return ok ? .section(out, mark: node.mark) : nil
    }

    private func unknownKeyMessage(_ key: String, at path: [RecipePathSegment]) -> String {
        let known = Set(fields.map(\.key))
        var msg = "unknown key '\(RecipePathSegment.render(path + [.key(key)]))'"
        if let s = RecipeKeyCheck.suggestion(for: key, among: known) {
            msg += " (did you mean '\(RecipePathSegment.render(path + [.key(s)]))'?)"
        } else {
            msg += " (known keys here: \(known.sorted().joined(separator: ", ")))"
        }
        return msg
    }
}
