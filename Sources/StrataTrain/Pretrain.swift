// Pretrain: foundational pretraining from random weights. Reads a recipe, trains
// or loads the tokenizer, prepares the data, builds a GPT-2 and runs the shared
// training loop; or resumes a run directory from its latest valid checkpoint,
// refusing a recipe or shape that differs from what the run was started with.
// Leaves out: growing a model mid-run.

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataCheckpoint
import StrataTokenizer

public enum Pretrain {
    public struct Config {
        /// Recipe file (YAML). Required for a new run; optional on resume, where it must match the saved recipe.
        public var recipeFile: String?
        /// `--set key.path=value` overrides applied to the recipe.
        public var overrides: [String] = []
        /// A run directory to resume (from its latest valid checkpoint).
        public var resume: String?
        public var log: (String) -> Void = { Console.line($0) }
        public var interrupt: InterruptFlag?
        /// Test hooks: corrupt chosen steps, or fail checkpoint writes at a point.
        public var inject: ((Int) -> TrainingRun.Injection?)?
        public var fault: FaultPoint?
        /// Print the progress line.
        public var showProgress = true
        public init(recipeFile: String? = nil, overrides: [String] = [], resume: String? = nil) {
            self.recipeFile = recipeFile; self.overrides = overrides; self.resume = resume
        }
    }

    public static func run(_ config: Config) throws -> TrainingRun.Outcome {
        let setup = try config.resume != nil ? resumeSetup(config) : freshSetup(config)
        return try TrainingRun(setup).run()
    }

    static func freshSetup(_ config: Config) throws -> TrainingRun.Setup {
        guard let file = config.recipeFile else {
            throw StrataError.config("pretrain", "no recipe given", fix: "pass --config recipe.yaml (or --resume runs/NAME)")
        }
        let recipe = try RecipeLoader.load(file: URL(fileURLWithPath: file), overrides: config.overrides)
        return try StageStart.setup(recipe: recipe, stage: "pretrain", from: nil, config: config)
    }

    /// A run directory being resumed: its saved recipe (checked against a given one) and latest valid checkpoint.
    struct Resumed {
        var runDir: URL
        var recipe: Recipe
        var checkpoint: Checkpoint
        var loaded: TrainingCheckpoint.Loaded
        var state: TrainerState
    }

    /// `stages`: the stages this command resumes; a run of another stage is refused naming the right command.
    static func openResume(_ config: Config, stages: [Stage]) throws -> Resumed {
        let runDir = URL(fileURLWithPath: config.resume!).standardizedFileURL
        let saved = try RecipeLoader.load(file: runDir.appendingPathComponent("recipe.yaml"))
        if let file = config.recipeFile {
            let given = try RecipeLoader.load(file: URL(fileURLWithPath: file), overrides: config.overrides)
            try RecipeDiff.requireEqual(saved: saved, given: given, runDir: runDir)
        } else if !config.overrides.isEmpty {
            throw StrataError.config("resume", "--set cannot change a run being resumed", fix: "start a new run, or continue from a checkpoint")
        }
        let store = try CheckpointStore(root: runDir.appendingPathComponent("checkpoints"), config: .init(keepLast: saved.train.keepLast))
        guard let ckpt = store.latestValid(onSkip: { name, err in config.log("skipping checkpoint \(name): \(err)") }) else {
            throw StrataError.io("resume \(runDir.path)", "no valid checkpoint in \(runDir.path)/checkpoints")
        }
        let loaded = try TrainingCheckpoint.load(ckpt)
        guard let state = loaded.state else { throw StrataError.format("resume", "\(ckpt.url.path) has no trainer_state.json") }
        guard stages.map(\.rawValue).contains(state.stage) else {
            throw StrataError.config("resume \(runDir.path)", "this is a \(state.stage) run",
                                     fix: "resume it with strata \(state.stage) --resume \(runDir.path)")
        }
        return Resumed(runDir: runDir, recipe: saved, checkpoint: ckpt, loaded: loaded, state: state)
    }

    static func resumeSetup(_ config: Config) throws -> TrainingRun.Setup {
        let r = try openResume(config, stages: [.pretrain, .continue, .anneal])
        let saved = r.recipe, loaded = r.loaded, state = r.state, ckpt = r.checkpoint, runDir = r.runDir
        let expected = try gpt2Config(saved, tokenizer: loaded.tokenizer)
        try RecipeDiff.requireModel(expected, loaded.model.config, checkpoint: ckpt.url.path)
        let sources = try DataPipeline.prepare(saved, tokenizer: loaded.tokenizer, runDir: runDir, log: config.log)
        let loader = try DataPipeline.loader(saved, sources: sources, state: state.loader)
        var parentLineage = loaded.lineage
        let head = parentLineage.entries.popLast()
        config.log("resuming \(runDir.lastPathComponent) from \(ckpt.name) (step \(state.step) of \(state.totalSteps))")
        var s = try setup(recipe: saved, runDir: runDir, model: loaded.model, tokenizer: loaded.tokenizer, sources: sources,
                          objective: NextTokenObjective(model: loaded.model, batches: MixtureBatches(loader)), state: state, parentLineage: parentLineage,
                          parent: head?.parent ?? .randomInit, config: config)
        try TrainingCheckpoint.restoreOptimizer(s.optimizer, from: ckpt)
        s.state.events.append(TrainingEvent(step: state.step, kind: .resume, detail: "resumed from \(ckpt.name)"))
        return s
    }

    static func setup(recipe: Recipe, runDir: URL, model: GPT2, tokenizer: BPETokenizer, sources: [PreparedSource], objective: StepObjective,
                      trainable: [Tensor]? = nil, state: TrainerState, parentLineage: Lineage, parent: ParentRef,
                      config: Config) throws -> TrainingRun.Setup {
        let o = recipe.optim, trainable = trainable ?? model.parameters
        let optimizer = AdamW(trainable, config: .init(lr: Float(o.lr), beta1: Float(o.beta1), beta2: Float(o.beta2),
                                                              eps: Float(o.eps), weightDecay: Float(o.weightDecay)))
        let store = try CheckpointStore(root: runDir.appendingPathComponent("checkpoints"),
                                        config: .init(keepLast: recipe.train.keepLast, fault: config.fault))
        var s = TrainingRun.Setup(recipe: recipe, runDir: runDir, stage: Stage(rawValue: state.stage), model: model, optimizer: optimizer,
                                  tokenizer: tokenizer, sources: sources, objective: objective, trainable: trainable,
                                  state: state, schedule: LRSchedule(recipe: recipe),
                                  parentLineage: parentLineage, parent: parent, store: store)
        s.log = config.log; s.interrupt = config.interrupt; s.inject = config.inject; s.showProgress = config.showProgress
        return s
    }

    /// The GPT-2 configuration a recipe describes, with the tokenizer's vocabulary and end-of-text id.
    public static func gpt2Config(_ recipe: Recipe, tokenizer: BPETokenizer) throws -> GPT2Config {
        let m = recipe.model
        var cfg = GPT2Config(vocabSize: m.vocabSize.resolved(tokenizerSize: tokenizer.vocabSize), nPositions: m.nPositions,
                             nEmbd: m.nEmbd, nLayer: m.nLayer, nHead: m.nHead, bosTokenId: tokenizer.eosID, eosTokenId: tokenizer.eosID)
        cfg.residPdrop = Float(m.dropout); cfg.embdPdrop = Float(m.dropout); cfg.attnPdrop = 0
        if cfg.vocabSize < tokenizer.vocabSize {
            throw StrataError.config("recipe", "model.vocab_size \(cfg.vocabSize) is smaller than the tokenizer's \(tokenizer.vocabSize) ids",
                                     fix: "use vocab_size: from_tokenizer")
        }
        try cfg.validate(source: "recipe model section")
        return cfg
    }
}

/// Comparing a saved recipe with one given on resume, and a model's config with the recipe's.
enum RecipeDiff {
    static func requireEqual(saved: Recipe, given: Recipe, runDir: URL) throws {
        let a = try saved.jsonValue(), b = try given.jsonValue()
        if let path = firstDifference(a, b, path: "") {
            throw StrataError.config("resume \(runDir.path)", "the recipe differs from the one the run started with at '\(path)'",
                                     fix: "resume without --config, or start a new run for a different recipe")
        }
    }

    static func firstDifference(_ a: JSONValue, _ b: JSONValue, path: String) -> String? {
        switch (a, b) {
        case let (.object(x), .object(y)):
            for key in Set(x.keys).union(y.keys).sorted() {
                let sub = path.isEmpty ? key : path + "." + key
                guard let u = x[key], let v = y[key] else { return sub }
                if let d = firstDifference(u, v, path: sub) { return d }
            }
            return nil
        default:
            return a == b ? nil : (path.isEmpty ? "<root>" : path)
        }
    }

    static func requireModel(_ expected: GPT2Config, _ found: GPT2Config, checkpoint: String) throws {
        let fields: [(String, Int, Int)] = [("n_layer", expected.nLayer, found.nLayer), ("n_head", expected.nHead, found.nHead),
                                            ("n_embd", expected.nEmbd, found.nEmbd), ("n_positions", expected.nPositions, found.nPositions),
                                            ("vocab_size", expected.vocabSize, found.vocabSize)]
        for (name, e, f) in fields where e != f {
            throw StrataError.config("resume from \(checkpoint)", "model field '\(name)' is \(f) in the checkpoint but \(e) in the recipe")
        }
    }
}
