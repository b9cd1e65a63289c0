// Loading a recipe: YAML text → Yams node → `--set` overrides → checked against
// the schema and merged over the defaults (encoded from the types) → decoded by
// Yams with the types' synthesised Codable → defaults that depend on other
// fields → value and cross-field rules. Every failure is one StrataError listing
// each problem with its full key path and where it was written (a line of the
// file, or the --set that wrote it). Also writes the resolved recipe as YAML and JSON.
// Leaves out: recipe inheritance/includes.

import Foundation
import StrataCore
import Yams

public enum RecipeLoader {
    /// Loads a recipe file, applying `--set` overrides. `run.name` defaults to the file's base name.
    /// With `stage`, the recipe must carry that stage's section (sft, preference...) and no other stage's.
    public static func load(file url: URL, overrides: [String] = [], stage: Stage? = nil) throws -> Recipe {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw StrataError.io("read recipe \(url.path)", "file does not exist or cannot be read",
                                 fix: "check the path given to --config")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw StrataError.format("read recipe \(url.path)", "file is not UTF-8 text")
        }
        return try load(yaml: text, file: url.path, overrides: overrides,
                        defaultName: url.deletingPathExtension().lastPathComponent, stage: stage)
    }

    /// Loads a recipe from YAML text; `file` names it in messages.
    public static func load(yaml: String, file: String = "<recipe>", overrides: [String] = [],
                            defaultName: String? = nil, stage: Stage? = nil) throws -> Recipe {
        var node = try RecipeYAML.parse(yaml, file: file)
        let sets = try overrides.map { try RecipeOverride(parsing: $0) }
        for o in sets { node = try node.applying(o) }
        let origins = RecipeOrigins(node: node, overrides: sets)
        var issues: [RecipeIssue] = []
        let resolved = RecipeSchema.recipe.resolve(node, at: [], &issues)
        if let stage { issues += stageIssues(node, stage: stage) }
        guard let resolved, issues.isEmpty else {
            let unknown = issues.contains(where: \.isUnknownKey)
            throw error(file: file, issues, origins: origins,
                        fix: unknown ? "fix the spelling or remove the key; docs/recipes.md (or strata recipe keys) lists every key with its default" : nil)
        }
        var recipe = try decode(resolved, file: file, origins: origins)
        recipe.resolveDefaults(defaultName: defaultName)
        let problems = recipe.problems()
        if !problems.isEmpty {
            throw error(file: file, problems.map { RecipeIssue(path: $0.path, message: $0.message) }, origins: origins)
        }
        return recipe
    }

    /// Decodes a checked, merged node with Yams and the types' synthesised Codable. The checks before
    /// leave Yams nothing to refuse; should it refuse anyway, the error still names the key.
    static func decode(_ node: Node, file: String, origins: RecipeOrigins) throws -> Recipe {
        do {
            return try YAMLDecoder().decode(Recipe.self, from: try RecipeYAML.text(node))
        } catch let e as DecodingError {
            var context: DecodingError.Context?
            switch e {
            case let .typeMismatch(_, c), let .valueNotFound(_, c), let .dataCorrupted(c), let .keyNotFound(_, c): context = c
            @unknown default: context = nil
            }
            let path = RecipePathSegment.from(context?.codingPath ?? [])
            let message = "\(path.isEmpty ? "the recipe" : RecipePathSegment.render(path)): \(context?.debugDescription ?? "\(e)")"
            throw error(file: file, [RecipeIssue(path: path, message: message)], origins: origins)
        }
    }

    /// The stage's own section must be there; another stage's must not.
    static func stageIssues(_ node: Node, stage: Stage) -> [RecipeIssue] {
        let wanted = Recipe.stageSections[stage]
        var out: [RecipeIssue] = []
        for section in Set(Recipe.stageSections.values).sorted(by: { $0.rawValue < $1.rawValue }) {
            let key = section.stringValue
            let present = node.node(at: [.key(key)]).map { !$0.isNullScalar } ?? false
            if section == wanted && !present {
                out.append(RecipeIssue(path: [], message: "the recipe has no '\(key)' section, which strata \(stage.rawValue) reads its data from "
                                       + "(add e.g. \(key): {train: FILE.jsonl}; strata recipe keys --stage \(stage.rawValue) lists its keys)"))
            } else if section != wanted && present {
                let readers = Recipe.stageSections.filter { $0.value == section }.map(\.key.rawValue).sorted().joined(separator: " and strata ")
                out.append(RecipeIssue(path: [.key(key)], message: "\(key) is read by strata \(readers), not by strata \(stage.rawValue); "
                                       + "remove the section or run strata \(readers)"))
            }
        }
        return out
    }

    /// One error listing every problem, each followed by where it was written.
    static func error(file: String, _ issues: [RecipeIssue], origins: RecipeOrigins, fix: String? = nil) -> StrataError {
        let lines = issues.map { issue in origins.of(issue.path).map { "\(issue.message) (\($0))" } ?? issue.message }
        return StrataError.config("read recipe \(file)", lines.joined(separator: "; "), fix: fix)
    }
}

/// Where each part of a recipe was written: a line of the file, or the `--set` that wrote it.
struct RecipeOrigins {
    let node: Node
    let overrides: [RecipeOverride]

    func of(_ path: [RecipePathSegment]) -> String? {
        var p = path
        while !p.isEmpty && node.node(at: p) == nil { p.removeLast() }
        guard !p.isEmpty, let here = node.node(at: p) else { return nil }
        // The latest override that wrote this node or a section around it.
        if let o = overrides.last(where: { p.starts(with: $0.path) }) { return o.origin }
        // A section an override created on its way to a key has no line of its own.
        if here.mark == nil, let o = overrides.last(where: { $0.path.starts(with: p) }) { return o.origin }
        return here.mark.map { "line \($0.line)" }
    }
}

extension Recipe {
    /// Fills defaults that depend on other fields: `train.context` from the model, `run.name` from the file.
    public mutating func resolveDefaults(defaultName: String?) {
        if train.context == nil { train.context = model.nPositions }
        if run.name == nil { run.name = defaultName ?? "run" }
    }

    /// The recipe as a YAML node, keys in declaration order.
    func yamlNode() -> Node { RecipeNodeEncoder.encode(self).0 }

    /// The recipe as YAML, with a header saying it is resolved.
    public func resolvedYAML() throws -> String {
        "# Resolved recipe written by strata: defaults filled in, --set overrides applied.\n" + (try RecipeYAML.text(yamlNode()))
    }

    /// The recipe as pretty JSON with sorted keys.
    public func resolvedJSON() throws -> Data { try StrataJSON.encode(self) }

    /// The recipe as a JSON value (for lineage records).
    public func jsonValue() throws -> JSONValue { try JSONValue(encoding: self) }

    /// Writes `recipe.yaml` and `recipe.json` into `directory` (created if missing).
    public func writeResolved(to directory: URL) throws {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(resolvedYAML().utf8).write(to: directory.appendingPathComponent("recipe.yaml"), options: .atomic)
            try resolvedJSON().write(to: directory.appendingPathComponent("recipe.json"), options: .atomic)
        } catch let e as StrataError {
            throw e
        } catch {
            throw StrataError.io("write recipe to \(directory.path)", "\(error.localizedDescription)",
                                 fix: "check that the run directory is writable")
        }
    }
}
