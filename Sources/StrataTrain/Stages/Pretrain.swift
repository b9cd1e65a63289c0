// Pretrain: foundational pretraining from random weights. The recipe names the
// tokenizer (a file, or one trained on the recipe's text), the model family and shape and
// the data mixture; the stage prepares token shards, builds the model and
// trains next-token prediction — or, for model.family roberta, masked-token prediction
// (PretrainMaskedLM.swift). Continued pretraining and annealing
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
            try NextTokenStage.requireModel(try model(start.recipe, tokenizer: origin.tokenizer, seed: 0), origin.model,
                                            checkpoint: origin.checkpoint.url.path)
            return try stageParts(start, model: origin.model, tokenizer: origin.tokenizer)
        }
        var tokenizer = try DataPipeline.tokenizer(for: start.recipe, runDir: start.runDir, log: start.log)
        if start.recipe.model.family.isEncoder { tokenizer = try MaskedLMStage.prepareTokenizer(tokenizer) }
        let model = try model(start.recipe, tokenizer: tokenizer, seed: UInt64(start.recipe.train.seed))
        NextTokenStage.describe(model, from: nil, log: start.log)
        return try stageParts(start, model: model, tokenizer: tokenizer)
    }

    /// Next-token parts for a decoder, masked-LM parts for the encoder.
    static func stageParts(_ start: StageStart, model: any CausalLM, tokenizer: BPETokenizer) throws -> StageParts {
        if let encoder = model as? Roberta { return try MaskedLMStage.parts(start, model: encoder, tokenizer: tokenizer) }
        return try NextTokenStage.parts(start, model: model, tokenizer: tokenizer)
    }

    /// A freshly initialised model of the family and shape the recipe's model section describes.
    public static func model(_ recipe: Recipe, tokenizer: BPETokenizer, seed: UInt64) throws -> any CausalLM {
        switch recipe.model.family {
        case .gpt2: return GPT2(try gpt2Config(recipe, tokenizer: tokenizer), seed: seed)
        case .llama: return Llama(try llamaConfig(recipe, tokenizer: tokenizer), seed: seed)
        case .roberta: return Roberta(try MaskedLMStage.config(recipe, tokenizer: tokenizer), seed: seed)
        }
    }

    /// The Llama configuration a recipe describes (model.family: llama), with the tokenizer's vocabulary and end-of-text id.
    public static func llamaConfig(_ recipe: Recipe, tokenizer: BPETokenizer) throws -> LlamaConfig {
        let m = recipe.model
        try checkFamilyKeys(m, objective: recipe.train.objective)
        var cfg = m.llamaConfig(vocab: m.vocabSize.resolved(tokenizerSize: tokenizer.vocabSize), bos: tokenizer.eosID,
                                eos: tokenizer.eosID)
        try requireVocabulary(cfg.vocabSize, tokenizer)
        cfg.architectures = [ModelFamily.llama.causalLMArchitecture]
        try cfg.validate(source: "recipe model section")
        return cfg
    }

    /// The model keys' rules that depend on the family (and the objective it trains), in the recipe's own key names.
    static func checkFamilyKeys(_ m: ModelConfig, objective: TrainObjective? = nil) throws {
        func bad(_ key: String, _ why: String, _ fix: String) -> StrataError { .config("recipe", "model.\(key) \(why)", fix: fix) }
        switch (m.family.isEncoder, objective) {
        case (true, .causalLM?):
            throw StrataError.config("recipe", "train.objective is causal_lm, but model.family roberta is a bidirectional encoder",
                                     fix: "set train.objective: masked_lm (or remove it), or pick model.family gpt2 or llama")
        case (false, .maskedLM?):
            throw StrataError.config("recipe", "train.objective is masked_lm, but model.family \(m.family.rawValue) is a causal decoder",
                                     fix: "set model.family: roberta for masked-LM pretraining, or train.objective: causal_lm")
        default: break
        }
        switch m.family {
        case .gpt2:
            if let kv = m.nKVHead { throw bad("n_kv_head", "(\(kv)) applies to model.family llama, but the family is gpt2", "remove n_kv_head or set model.family: llama") }
        case .llama:
            guard m.nHead > 0, m.nEmbd % m.nHead == 0 else {
                throw bad("n_embd", "(\(m.nEmbd)) must be a multiple of n_head (\(m.nHead))", "pick n_embd = n_head · head size")
            }
            if (m.nEmbd / m.nHead) % 2 != 0 {
                throw bad("n_embd", "/ n_head gives a head size of \(m.nEmbd / m.nHead); rotary embeddings need an even head size", "pick an even head size")
            }
            if let kv = m.nKVHead, kv <= 0 || m.nHead % kv != 0 {
                throw bad("n_kv_head", "(\(kv)) must divide n_head (\(m.nHead)): each key/value head serves a whole group of query heads",
                          "use a divisor of n_head, e.g. \((1...m.nHead).filter { m.nHead % $0 == 0 }.map(String.init).joined(separator: ", "))")
            }
            if !(m.ropeTheta > 0 && m.ropeTheta.isFinite) { throw bad("rope_theta", "must be positive, got \(m.ropeTheta)", "use 10000 (Llama 2) or 500000 (Llama 3)") }
        case .roberta:
            if let kv = m.nKVHead { throw bad("n_kv_head", "(\(kv)) applies to model.family llama, but the family is roberta", "remove n_kv_head") }
            if m.ropeTheta != ModelConfig().ropeTheta { throw bad("rope_theta", "applies to model.family llama, but the family is roberta", "remove rope_theta") }
            if m.dropout != 0 { throw bad("dropout", "is \(m.dropout); the roberta encoder trains without dropout", "set model.dropout: 0") }
        }
    }

    static func requireVocabulary(_ size: Int, _ tokenizer: BPETokenizer) throws {
        if size < tokenizer.vocabSize {
            throw StrataError.config("recipe", "model.vocab_size \(size) is smaller than the tokenizer's \(tokenizer.vocabSize) ids",
                                     fix: "use vocab_size: from_tokenizer")
        }
    }

    /// The GPT-2 configuration a recipe describes, with the tokenizer's vocabulary and end-of-text id.
    public static func gpt2Config(_ recipe: Recipe, tokenizer: BPETokenizer) throws -> GPT2Config {
        let m = recipe.model
        var cfg = GPT2Config(vocabSize: m.vocabSize.resolved(tokenizerSize: tokenizer.vocabSize), nPositions: m.nPositions,
                             nEmbd: m.nEmbd, nLayer: m.nLayer, nHead: m.nHead, bosTokenId: tokenizer.eosID, eosTokenId: tokenizer.eosID)
        cfg.residPdrop = Float(m.dropout); cfg.embdPdrop = Float(m.dropout); cfg.attnPdrop = 0; cfg.nInner = m.nInner
        try checkFamilyKeys(m, objective: recipe.train.objective)
        try requireVocabulary(cfg.vocabSize, tokenizer)
        try cfg.validate(source: "recipe model section")
        return cfg
    }
}

/// What the next-token stages (pretrain, continue, anneal) share: the model summary line and their parts —
/// shards prepared from the recipe's sources, the mixture loader, per-source validation.
enum NextTokenStage {
    static func parts(_ start: StageStart, model: any CausalLM, tokenizer: BPETokenizer) throws -> StageParts {
        let recipe = start.recipe
        let sources = try DataPipeline.prepare(recipe, tokenizer: tokenizer, runDir: start.runDir, log: start.log)
        let loader = try DataPipeline.loader(recipe, sources: sources, state: start.loaderState)
        return StageParts(recipe: recipe, model: model, tokenizer: tokenizer,
                          objective: NextTokenObjective(model: model, batches: MixtureBatches(loader)), data: sources.map(\.record),
                          validation: .sources(model, sources, batch: recipe.train.batchSize, context: recipe.context,
                                               batches: recipe.train.evalBatches),
                          content: .languageModel(model))
    }

    static func describe(_ model: any CausalLM, from checkpoint: String?, log: (String) -> Void) {
        log("model: \(model.shapeSummary), "
            + String(format: "%.2fM parameters", Double(model.parameterCount) / 1e6)
            + (checkpoint.map { " (from \($0))" } ?? " (random init)"))
    }

    /// A resumed model must have the family and shape its recipe describes.
    static func requireModel(_ expected: any CausalLM, _ found: any CausalLM, checkpoint: String) throws {
        if expected.family != found.family {
            throw StrataError.config("resume from \(checkpoint)", "model.family is \(found.family.rawValue) in the checkpoint but \(expected.family.rawValue) in the recipe")
        }
        for (e, f) in zip(expected.shapeFields, found.shapeFields) where e.value != f.value {
            throw StrataError.config("resume from \(checkpoint)", "model field '\(e.name)' is \(f.value) in the checkpoint but \(e.value) in the recipe")
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
