// StageStart: setting up a new run of a next-token stage, from random weights
// (pretrain) or from a checkpoint (continue, anneal). A run from a checkpoint
// keeps its tokenizer and model shape, optionally its optimizer moments, and
// records the checkpoint (id and content hash) as its lineage parent.
// Leaves out: extending the tokenizer while continuing (refused with an error).

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataCheckpoint
import StrataTokenizer

enum StageStart {
    /// Where a stage starts: a loaded checkpoint, and whether its AdamW moments carry over.
    struct Origin {
        var loaded: TrainingCheckpoint.Loaded
        var optimizerState: Bool
    }

    static func setup(recipe: Recipe, stage: String, from origin: Origin?, config: Pretrain.Config) throws -> TrainingRun.Setup {
        let runDir = recipe.runDirectory
        try refuseExisting(runDir, stage: stage)
        if recipe.sft != nil {
            throw StrataError.config("\(stage) recipe", "has an 'sft' section", fix: "run SFT recipes with strata sft --from CHECKPOINT --config FILE")
        }
        if recipe.preference != nil {
            throw StrataError.config("\(stage) recipe", "has a 'preference' section",
                                     fix: "run preference recipes with strata reward or strata dpo --from CHECKPOINT --config FILE")
        }
        try recipe.writeResolved(to: runDir)
        let tokenizer: BPETokenizer
        let model: GPT2
        if let origin {
            tokenizer = try inheritTokenizer(recipe, origin.loaded, stage: stage)
            model = origin.loaded.model
            try requireFits(recipe, model.config, checkpoint: origin.loaded.checkpoint.url.path)
        } else {
            tokenizer = try DataPipeline.tokenizer(for: recipe, runDir: runDir, log: config.log)
            model = GPT2(try Pretrain.gpt2Config(recipe, tokenizer: tokenizer), seed: UInt64(recipe.train.seed))
        }
        let c = model.config
        config.log("model: \(c.nLayer) layers, \(c.nHead) heads, d=\(c.nEmbd), vocab \(c.vocabSize), "
                   + String(format: "%.2fM parameters", Double(c.parameterCount) / 1e6)
                   + (origin.map { " (from \($0.loaded.checkpoint.url.path))" } ?? " (random init)"))
        let sources = try DataPipeline.prepare(recipe, tokenizer: tokenizer, runDir: runDir, log: config.log)
        let loader = try DataPipeline.loader(recipe, sources: sources)
        let state = TrainerState(stage: stage, step: 0, totalSteps: recipe.totalSteps, tokensSeen: 0, optimizerStep: 0,
                                 loader: loader.state, spikeGuard: SpikeGuard(config: recipe.spikeGuard), lastLR: 0,
                                 wallSeconds: 0, flops: 0, events: [], validation: [:],
                                 recipeSHA256: SHA256.hex(try recipe.resolvedJSON()), parentCheckpoint: origin?.loaded.id)
        let parent: ParentRef = origin.map { .checkpoint(id: $0.loaded.id, sha256: $0.loaded.contentHash) } ?? .randomInit
        var s = try Pretrain.setup(recipe: recipe, runDir: runDir, model: model, tokenizer: tokenizer, sources: sources, objective: NextTokenObjective(model: model, batches: MixtureBatches(loader)),
                                   state: state, parentLineage: origin?.loaded.lineage ?? Lineage(), parent: parent, config: config)
        if let origin, origin.optimizerState {
            try TrainingCheckpoint.restoreOptimizer(s.optimizer, from: origin.loaded.checkpoint)
            s.state.optimizerStep = s.optimizer.step
        }
        return s
    }

    /// A new run must not overwrite a run directory that already holds checkpoints.
    static func refuseExisting(_ runDir: URL, stage: String) throws {
        let ckptRoot = runDir.appendingPathComponent("checkpoints")
        if FileManager.default.fileExists(atPath: ckptRoot.path), (try? CheckpointStore(root: ckptRoot))?.latestValid() != nil {
            throw StrataError.config(stage, "run directory \(runDir.path) already holds checkpoints",
                                     fix: "resume it with --resume \(runDir.path), or pick another run.name (--set run.name=...)")
        }
    }

    /// A continued stage uses its parent's tokenizer; a recipe naming a different one is an error.
    static func inheritTokenizer(_ recipe: Recipe, _ loaded: TrainingCheckpoint.Loaded, stage: String) throws -> BPETokenizer {
        if let path = recipe.tokenizer.path {
            let other = try BPETokenizer(contentsOf: URL(fileURLWithPath: path))
            if other.hash != loaded.tokenizer.hash {
                throw StrataError.config("\(stage) recipe", "tokenizer.path \(path) differs from the checkpoint's tokenizer",
                                         fix: "remove tokenizer.path to use the checkpoint's tokenizer (extending a vocabulary is not supported while continuing)")
            }
        }
        if recipe.tokenizer.train != nil {
            throw StrataError.config("\(stage) recipe", "tokenizer.train would train a new tokenizer, but a continued stage keeps its parent's",
                                     fix: "remove the tokenizer section")
        }
        return loaded.tokenizer
    }

    /// The recipe's context must fit the checkpoint's positions.
    static func requireFits(_ recipe: Recipe, _ cfg: GPT2Config, checkpoint: String) throws {
        if recipe.context > cfg.nPositions {
            throw StrataError.config("recipe", "train.context \(recipe.context) exceeds the checkpoint's n_positions \(cfg.nPositions) (\(checkpoint))")
        }
    }
}

/// Continued pretraining: a checkpoint's weights trained further on new sources (usually mixed with replay).
public enum Continue {
    public struct Config {
        /// The checkpoint (or run directory) to start from.
        public var from: String?
        /// Also load its AdamW moments (default: fresh optimizer state, as most continued runs do).
        public var optimizerState = false
        public var base = Pretrain.Config()
        public init(from: String? = nil, recipeFile: String? = nil, overrides: [String] = [], resume: String? = nil) {
            self.from = from
            base = Pretrain.Config(recipeFile: recipeFile, overrides: overrides, resume: resume)
        }
    }

    public static func run(_ config: Config, stage: String = "continue", extraOverrides: [String] = []) throws -> TrainingRun.Outcome {
        if config.base.resume != nil { return try TrainingRun(Pretrain.resumeSetup(config.base)).run() }
        guard let from = config.from, let file = config.base.recipeFile else {
            throw StrataError.config(stage, "needs --from CHECKPOINT and --config recipe.yaml (or --resume runs/NAME)")
        }
        let recipe = try RecipeLoader.load(file: URL(fileURLWithPath: file), overrides: config.base.overrides + extraOverrides)
        let loaded = try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(from))
        let setup = try StageStart.setup(recipe: recipe, stage: stage, from: .init(loaded: loaded, optimizerState: config.optimizerState),
                                         config: config.base)
        return try TrainingRun(setup).run()
    }
}

/// Annealing: the LR decays from `optim.lr` to `optim.min_lr` over the run (shape `optim.decay_shape`)
/// while the data mixture follows the recipe's weight schedules toward high-quality sources.
public enum Anneal {
    public static func run(_ config: Continue.Config) throws -> TrainingRun.Outcome {
        try Continue.run(config, stage: "anneal", extraOverrides: ["optim.schedule=anneal", "optim.warmup_steps=0"])
    }
}
