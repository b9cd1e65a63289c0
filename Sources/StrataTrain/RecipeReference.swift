// The recipe key reference, generated from the recipe types' schema: one table
// per top-level section with every key path, its type, its default and its help
// line. `strata recipe keys [--stage S]` prints it; docs/recipes.md is this text
// for all stages, kept in sync by RecipeReferenceTests.
// Leaves out: range rules (they are in the messages of Recipe+Validation.swift).

import Foundation
import StrataCore
import Yams

public enum RecipeReference {
    /// Stages whose recipes have no stage section of their own.
    static let plainStages: [Stage] = [.pretrain, .continue, .anneal]

    /// Every stage name `--stage` accepts.
    public static var stages: [Stage] {
        plainStages + Recipe.stageSections.keys.sorted { $0.rawValue < $1.rawValue }
    }

    /// The key reference as Markdown: all sections, or those a `stage` reads.
    public static func markdown(stage: Stage? = nil) throws -> String {
        if let stage, !stages.contains(stage) {
            let names = stages.map(\.rawValue)
            let near = RecipeKeyCheck.suggestion(for: stage.rawValue, among: Set(names)).map { " (did you mean \($0)?)" } ?? ""
            throw StrataError.config("recipe keys --stage \(stage.rawValue)", "unknown stage\(near)",
                                     fix: "use one of \(names.joined(separator: ", "))")
        }
        let stageKeys = Set(Recipe.stageSections.values.map(\.stringValue))
        let wanted = stage.flatMap { Recipe.stageSections[$0]?.stringValue }
        var out = header(stage: stage)
        for field in RecipeSchema.recipe.fields {
            if stage != nil, stageKeys.contains(field.key), field.key != wanted { continue }
            out += "\n## \(field.key)\n\n\(field.help)"
            if stageKeys.contains(field.key) {
                let readers = Recipe.stageSections.filter { $0.value.stringValue == field.key }.map(\.key.rawValue).sorted()
                out += " Only in recipes for \(readers.map { "`strata \($0)`" }.joined(separator: " and "))."
            }
            out += "\n\n| key | type | default | meaning |\n| --- | --- | --- | --- |\n"
            out += rows(field.shape, path: field.key).joined(separator: "\n") + "\n"
        }
        return out
    }

    private static func header(stage: Stage?) -> String {
        """
        # Recipe keys\(stage.map { " for `strata \($0.rawValue)`" } ?? "")

        Generated from the recipe types (Sources/StrataTrain/Recipe*.swift) by `strata recipe keys`; \
        docs/recipes.md is kept in sync by a test. Every key may be left out (its default applies) \
        except those marked required, and any key can be set from the command line with `--set key.path=value` \
        (list positions as `data.sources[0].weight`). A key written as null means "not set".

        """
    }

    /// One table row per key below a section (or list of sections) at `path`.
    private static func rows(_ shape: RecipeShape, path: String) -> [String] {
        switch shape {
        case let .section(schema):
            return schema.fields.flatMap { field -> [String] in
                let p = "\(path).\(field.key)"
                let row = "| `\(p)` | \(typeName(field)) | \(defaultText(field)) | \(field.help) |"
                switch field.shape {
                case .section, .list(.section): return [row] + rows(field.shape, path: p)
                default: return [row]
                }
            }
        case let .list(element):
            return rows(element, path: path + "[]")
        default:
            return []
        }
    }

    private static func typeName(_ field: RecipeField) -> String {
        let base: String
        switch field.shape {
        case .list(.section): base = "list of sections"
        default: base = field.shape.typeName
        }
        return field.isRequired ? "\(base), required" : base
    }

    private static func defaultText(_ field: RecipeField) -> String {
        guard let node = field.defaultValue else { return field.isRequired ? "—" : "not set" }
        if case .mapping = node { return "(section)" }
        return "`\(flowText(node))`"
    }

    /// A default as one line of YAML flow text.
    static func flowText(_ node: Node) -> String {
        switch node {
        case let .scalar(s): return node.isQuoted ? "\"\(s.string)\"" : s.string
        case let .sequence(items): return "[" + items.map(flowText).joined(separator: ", ") + "]"
        case .mapping: return "{...}"
        }
    }
}
