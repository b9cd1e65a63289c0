// Pretrain: foundational pretraining from random weights. The recipe names the
// tokenizer (a file, or one trained on the recipe's text), the GPT-2 shape and
// the data mixture; the stage prepares token shards, builds the model and
// trains next-token prediction. Continued pretraining and annealing
// (Continue.swift) are the same objective started from a checkpoint, so the
// parts of a next-token stage are built here once, under a shared name.
// Leaves out: growing a model mid-run.

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataCheckpoint
import StrataTokenizer

public enum Pretrain: TrainingStage {
    public static let kind = Stage.pretrain
    public static let startsFromCheckpoint = false

    public static func run(_ options: RunOptions) throws -> TrainingRun.Outcome { try StageRunner.run(Pretrain.self, options) }

    public static func parts(_ start: StageStart) throws -> StageParts {
        if let origin = start.origin {   // resuming: the run's own checkpoint, checked against the recipe's shape
            try NextTokenStage.requireModel(try gpt2Config(start.recipe, tokenizer: origin.tokenizer), origin.model.config,
                                            checkpoint: origin.checkpoint.url.path)
            return try NextTokenStage.parts(start, model: origin.model, tokenizer: origin.tokenizer)
        }
        let tokenizer = try DataPipeline.tokenizer(for: start.recipe, runDir: start.runDir, log: start.log)
        let model = GPT2(try gpt2Config(start.recipe, tokenizer: tokenizer), seed: UInt64(start.recipe.train.seed))
        NextTokenStage.describe(model, from: nil, log: start.log)
        return try NextTokenStage.parts(start, model: model, tokenizer: tokenizer)
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

/// What the next-token stages (pretrain, continue, anneal) share: the model summary line and their parts —
/// shards prepared from the recipe's sources, the mixture loader, per-source validation.
enum NextTokenStage {
    static func parts(_ start: StageStart, model: GPT2, tokenizer: BPETokenizer) throws -> StageParts {
        let recipe = start.recipe
        let sources = try DataPipeline.prepare(recipe, tokenizer: tokenizer, runDir: start.runDir, log: start.log)
        let loader = try DataPipeline.loader(recipe, sources: sources, state: start.loaderState)
        return StageParts(recipe: recipe, model: model, tokenizer: tokenizer,
                          objective: NextTokenObjective(model: model, batches: MixtureBatches(loader)), data: sources.map(\.record),
                          validation: .sources(model, sources, batch: recipe.train.batchSize, context: recipe.context,
                                               batches: recipe.train.evalBatches),
                          content: .languageModel(model))
    }

    static func describe(_ model: GPT2, from checkpoint: String?, log: (String) -> Void) {
        let c = model.config
        log("model: \(c.nLayer) layers, \(c.nHead) heads, d=\(c.nEmbd), vocab \(c.vocabSize), "
            + String(format: "%.2fM parameters", Double(c.parameterCount) / 1e6)
            + (checkpoint.map { " (from \($0))" } ?? " (random init)"))
    }

    /// A resumed model must have the shape its recipe describes.
    static func requireModel(_ expected: GPT2Config, _ found: GPT2Config, checkpoint: String) throws {
        let fields: [(String, Int, Int)] = [("n_layer", expected.nLayer, found.nLayer), ("n_head", expected.nHead, found.nHead),
                                            ("n_embd", expected.nEmbd, found.nEmbd), ("n_positions", expected.nPositions, found.nPositions),
                                            ("vocab_size", expected.vocabSize, found.vocabSize)]
        for (name, e, f) in fields where e != f {
            throw StrataError.config("resume from \(checkpoint)", "model field '\(name)' is \(f) in the checkpoint but \(e) in the recipe")
        }
    }

    /// A stage started from a checkpoint uses its parent's tokenizer; a recipe naming a different one is an error.
    static func inheritTokenizer(_ recipe: Recipe, _ loaded: TrainingCheckpoint.Loaded, stage: Stage) throws -> BPETokenizer {
        if let path = recipe.tokenizer.path {
            let other = try BPETokenizer(contentsOf: URL(fileURLWithPath: path))
            if other.hash != loaded.tokenizer.hash {
                throw StrataError.config("\(stage.rawValue) recipe", "tokenizer.path \(path) differs from the checkpoint's tokenizer",
                                         fix: "remove tokenizer.path to use the checkpoint's tokenizer (extending a vocabulary is not supported while continuing)")
            }
        }
        if recipe.tokenizer.train != nil {
            throw StrataError.config("\(stage.rawValue) recipe", "tokenizer.train would train a new tokenizer, but a continued stage keeps its parent's",
                                     fix: "remove the tokenizer section")
        }
        return loaded.tokenizer
    }
}
