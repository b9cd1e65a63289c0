// Where a resumed run picks up: its saved recipe (checked against a recipe given
// again on the command line, and against the hash the run started with, so a
// hand-edited recipe.yaml is refused, naming the keys that changed, unless the
// user accepts it explicitly), its latest valid checkpoint (skipped ones are
// named), and the trainer state — refusing a run of another stage with the
// command that resumes it. Written once for every stage. The ranks after rank 0 of a
// data-parallel run open it read-only: no lock, no checks rank 0 made already.
// Leaves out: the world size (StageRunner.recordWorldSize compares it).

import Foundation
import StrataCore
import StrataModel
import StrataCheckpoint

struct ResumePoint {
    var runDir: URL
    var recipe: Recipe
    var checkpoint: Checkpoint
    var loaded: TrainingCheckpoint.Loaded
    var state: TrainerState
    /// Events the opening itself produced (an accepted recipe edit).
    var events: [TrainingEvent] = []
    /// The run directory's lock, taken before anything in it is read.
    var lock: RunLock?
    /// Set when the run already reached its last step and no extension was asked for: what to tell the user.
    var finishedNotice: String?

    static func open(_ options: RunOptions, stage: Stage) throws -> ResumePoint {
        let runDir = URL(fileURLWithPath: options.resume!).standardizedFileURL
        guard FileManager.default.fileExists(atPath: runDir.appendingPathComponent("recipe.yaml").path) else {
            throw StrataError.io("resume \(runDir.path)", "no recipe.yaml there: not a run directory",
                                 fix: "pass the directory a stage wrote (run.dir/run.name, e.g. runs/pretrain-tiny)")
        }
        let lock = options.readOnly ? nil : try RunLock.acquire(runDirectory: runDir, command: "strata \(stage.rawValue) --resume")
        if let dead = lock?.recovered { options.log("took over the lock of \(runDir.path) left by \(dead), which is no longer running") }
        let saved = try RecipeLoader.load(file: runDir.appendingPathComponent("recipe.yaml"))
        var longer: Recipe?
        if let file = options.recipeFile {
            let given = try RecipeLoader.load(file: URL(fileURLWithPath: file), overrides: options.overrides)
            if let path = RecipeDiff.firstDifference(try saved.jsonValue(), try given.jsonValue(), path: "") {
                throw StrataError.config("resume \(runDir.path)", "the recipe differs from the one the run started with at '\(path)'",
                                         fix: "resume without --config, or start a new run for a different recipe")
            }
        } else if !options.overrides.isEmpty {
            longer = try extended(saved, overrides: options.overrides, runDir: runDir, stage: stage)
        }
        let store = try CheckpointStore(root: runDir.appendingPathComponent("checkpoints"), config: .init(keepLast: saved.train.keepLast))
        guard let ckpt = store.latestValid(onSkip: { name, err in options.log("skipping checkpoint \(name): \(err)") }) else {
            throw StrataError.io("resume \(runDir.path)", "no valid checkpoint in \(runDir.path)/checkpoints")
        }
        let loaded = try TrainingCheckpoint.load(ckpt)
        guard let state = loaded.state else { throw StrataError.format("resume", "\(ckpt.url.path) has no trainer_state.json") }
        guard state.stage == stage.rawValue else {
            throw StrataError.config("resume \(runDir.path)", "this is a \(state.stage) run",
                                     fix: "resume it with strata \(state.stage) --resume \(runDir.path)")
        }
        _ = try RecipeLoader.load(file: runDir.appendingPathComponent("recipe.yaml"), stage: stage)   // its sections, now the stage is right
        var point = ResumePoint(runDir: runDir, recipe: saved, checkpoint: ckpt, loaded: loaded, state: state, lock: lock)
        if !options.readOnly { try point.checkRecipeUnchanged(accept: options.acceptEditedRecipe) }
        if let longer {
            try point.extend(to: longer, write: !options.readOnly)
        } else if state.step >= state.totalSteps {
            point.finishedNotice = "\(runDir.lastPathComponent) is finished (step \(state.step) of \(state.totalSteps)); its final checkpoint is "
                + "\(ckpt.url.path). Train it further with --resume \(runDir.path) --set train.steps=N (N > \(state.step); recorded "
                + "in lineage), or start the next stage --from \(ckpt.url.path)."
        }
        return point
    }

    /// The saved recipe with more steps: `--set train.steps=N` is the one change a resumed run accepts.
    static func extended(_ saved: Recipe, overrides: [String], runDir: URL, stage: Stage) throws -> Recipe {
        let allowed = ["train.steps"]
        if let other = overrides.first(where: { o in !allowed.contains { o.hasPrefix($0 + "=") } }) {
            throw StrataError.config("resume \(runDir.path)", "--set \(other) would change a run being resumed",
                                     fix: "only --set train.steps=N (to train a finished run further) is accepted on resume; "
                                        + "start a new run, or continue from a checkpoint, for other changes")
        }
        return try RecipeLoader.load(file: runDir.appendingPathComponent("recipe.yaml"), overrides: overrides, stage: stage)
    }

    /// Train past the run's planned steps: the new total must be beyond the current step; the run's recipe files are
    /// rewritten and the change is recorded (the LR schedule is recomputed over the new total).
    mutating func extend(to longer: Recipe, write: Bool = true) throws {
        let steps = longer.totalSteps
        guard steps > state.step else {
            throw StrataError.config("resume \(runDir.path)", "train.steps \(steps) is not beyond the run's step \(state.step)",
                                     fix: "pass --set train.steps=N with N > \(state.step)")
        }
        if write { try longer.writeResolved(to: runDir) }
        events.append(TrainingEvent(step: state.step, kind: .extended,
                                    detail: "train.steps \(state.totalSteps) → \(steps) on resume (LR schedule recomputed over \(steps) steps)"))
        state.totalSteps = steps
        state.recipeSHA256 = SHA256.hex(try longer.resolvedJSON())
        recipe = longer
    }

    /// The saved recipe must hash to what the run started with; an edit is refused, naming the changed keys
    /// (against recipe.json, the run's JSON copy), unless accepted — then it is recorded as an event.
    mutating func checkRecipeUnchanged(accept: Bool) throws {
        let hash = SHA256.hex(try recipe.resolvedJSON())
        guard hash != state.recipeSHA256 else { return }
        let changed = editedKeys()
        let what = changed.isEmpty ? "recipe.yaml no longer matches the recipe the run started with"
                                   : "recipe.yaml was edited since the run started: " + changed.joined(separator: ", ")
        guard accept else {
            throw StrataError.config("resume \(runDir.path)", what,
                                     fix: "restore recipe.yaml, start a new run (or continue from a checkpoint) for a different recipe, "
                                        + "or pass --accept-edited-recipe to resume with the edit (recorded in lineage)")
        }
        events.append(TrainingEvent(step: state.step, kind: .recipeEdited, detail: what))
        state.recipeSHA256 = hash
    }

    /// Keys whose values differ between recipe.yaml and the run's recipe.json (written beside it at the start).
    func editedKeys() -> [String] {
        let url = runDir.appendingPathComponent("recipe.json")
        guard let data = try? Data(contentsOf: url), let original = try? StrataJSON.decode(JSONValue.self, from: data, file: url.path),
              let now = try? recipe.jsonValue() else { return [] }
        return RecipeDiff.differences(original, now, path: "")
    }
}

/// Comparing two recipes (as JSON trees) key by key.
enum RecipeDiff {
    static func firstDifference(_ a: JSONValue, _ b: JSONValue, path: String) -> String? {
        differences(a, b, path: path, limit: 1).first
    }

    /// Key paths whose values differ, in key order (at most `limit`).
    static func differences(_ a: JSONValue, _ b: JSONValue, path: String, limit: Int = 20) -> [String] {
        switch (a, b) {
        case let (.object(x), .object(y)):
            var out: [String] = []
            for key in Set(x.keys).union(y.keys).sorted() where out.count < limit {
                let sub = path.isEmpty ? key : path + "." + key
                guard let u = x[key], let v = y[key] else { out.append(sub); continue }
                out += differences(u, v, path: sub, limit: limit - out.count)
            }
            return out
        default:
            return a == b ? [] : [path.isEmpty ? "<root>" : path]
        }
    }
}
