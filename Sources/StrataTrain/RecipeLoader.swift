// Loading a recipe: YAML text → tree → `--set` overrides → strict decode
// (unknown keys, wrong types) → defaults resolved → value and cross-field rules.
// Every failure is one StrataError listing each problem with its full key path
// and where it was written. Also writes the resolved recipe as YAML and JSON.
// Leaves out: recipe inheritance/includes.

import Foundation
import StrataCore

public enum RecipeLoader {
    /// Loads a recipe file, applying `--set` overrides. `run.name` defaults to the file's base name.
    public static func load(file url: URL, overrides: [String] = []) throws -> Recipe {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw StrataError.io("read recipe \(url.path)", "file does not exist or cannot be read",
                                 fix: "check the path given to --config")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw StrataError.format("read recipe \(url.path)", "file is not UTF-8 text")
        }
        return try load(yaml: text, file: url.path, overrides: overrides,
                        defaultName: url.deletingPathExtension().lastPathComponent)
    }

    /// Loads a recipe from YAML text; `file` names it in messages.
    public static func load(yaml: String, file: String = "<recipe>", overrides: [String] = [],
                            defaultName: String? = nil) throws -> Recipe {
        var tree = try RecipeTree.parse(yaml: yaml, file: file)
        if tree.isNull { tree = .emptyMapping(origin: tree.origin) }
        for text in overrides {
            try tree.apply(try RecipeOverride(parsing: text))
        }
        var recipe = try decode(Recipe.self, from: tree, file: file)
        recipe.resolveDefaults(defaultName: defaultName)
        let problems = recipe.problems()
        if !problems.isEmpty {
            throw error(file: file, problems.map { ($0.path, $0.message) }, tree: tree)
        }
        return recipe
    }

    /// Strictly decodes any recipe-like type from a tree: unknown keys and wrong types are errors.
    public static func decode<T: Decodable>(_ type: T.Type, from tree: RecipeTree, file: String) throws -> T {
        let log = RecipeKeyLog()
        let value: T
        do {
            value = try T(from: RecipeTreeDecoder(node: tree, codingPath: [], log: log))
        } catch let e as DecodingError {
            throw error(file: file, [describe(e)] + RecipeKeyCheck.unknownKeys(in: tree, log: log), tree: tree)
        }
        let unknown = RecipeKeyCheck.unknownKeys(in: tree, log: log)
        if !unknown.isEmpty {
            throw error(file: file, unknown, tree: tree,
                        fix: "fix the spelling or remove the key; recipes/pretrain-nano.yaml lists every key with its default")
        }
        return value
    }

    static func describe(_ e: DecodingError) -> (path: [RecipePathSegment], message: String) {
        func at(_ p: [CodingKey], _ msg: String) -> ([RecipePathSegment], String) {
            let path = RecipePathSegment.from(p)
            return (path, "\(path.isEmpty ? "the recipe" : RecipePathSegment.render(path)): \(msg)")
        }
        switch e {
        case let .typeMismatch(_, ctx), let .dataCorrupted(ctx):
            return at(ctx.codingPath, ctx.debugDescription)
        case let .valueNotFound(_, ctx):
            return at(ctx.codingPath, "has no value")
        case let .keyNotFound(key, ctx):
            let path = RecipePathSegment.from(ctx.codingPath + [key])
            return (path, "missing required key '\(RecipePathSegment.render(path))'")
        @unknown default:
            return ([], "\(e)")
        }
    }

    /// One error listing every problem, each followed by where it was written.
    static func error(file: String, _ problems: [(path: [RecipePathSegment], message: String)], tree: RecipeTree,
                      fix: String? = nil) -> StrataError {
        let lines = problems.map { problem -> String in
            var path = problem.path
            while !path.isEmpty && tree.node(at: path) == nil { path.removeLast() }
            guard let origin = tree.node(at: path)?.origin, !path.isEmpty else { return problem.message }
            return "\(problem.message) (\(origin))"
        }
        return StrataError.config("read recipe \(file)", lines.joined(separator: "; "), fix: fix)
    }
}

extension Recipe {
    /// Fills defaults that depend on other fields: `train.context` from the model, `run.name` from the file.
    public mutating func resolveDefaults(defaultName: String?) {
        if train.context == nil { train.context = model.nPositions }
        if run.name == nil { run.name = defaultName ?? "run" }
    }

    /// The recipe as a tree, keys in declaration order.
    public func tree() throws -> RecipeTree { try RecipeTreeEncoding.tree(self) }

    /// The recipe as YAML, with a header saying it is resolved.
    public func resolvedYAML() throws -> String {
        "# Resolved recipe written by strata: defaults filled in, --set overrides applied.\n" + (try tree().yamlText())
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
