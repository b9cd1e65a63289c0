// SFT: supervised fine-tuning of a checkpoint on chat data. The chat template's
// special tokens are added to the tokenizer when missing (embedding rows grown,
// new rows at the mean embedding); conversations are rendered with loss on the
// assistant's tokens only, packed into rows without attention across samples (or
// padded), and trained in the shared loop — same run directory, checkpoint trail,
// resume, spike guard and lineage (stage "sft", data hash, template) as the other
// stages. Every checkpoint also carries tokenizer_config.json with the template,
// and, with LoRA, the adapter in PEFT's files plus merged weights in model.safetensors.
// Instruction accuracy on held-out world tasks is measured before and after.
// Leaves out: multiple templates beyond ChatML, training the new token rows under LoRA.

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataCheckpoint
import StrataTokenizer
import StrataEval

public enum SFT {
    public struct Config {
        /// The checkpoint (or run directory) to fine-tune.
        public var from: String?
        public var base = Pretrain.Config()
        public init(from: String? = nil, recipeFile: String? = nil, overrides: [String] = [], resume: String? = nil) {
            self.from = from
            base = Pretrain.Config(recipeFile: recipeFile, overrides: overrides, resume: resume)
        }
    }

    public static func run(_ config: Config) throws -> TrainingRun.Outcome {
        let setup = try config.base.resume != nil ? resumeSetup(config.base) : freshSetup(config)
        return try TrainingRun(setup).run()
    }

    /// What an SFT run needs beyond the shared setup.
    struct Parts {
        var recipe: Recipe
        var sft: SFTConfig
        var runDir: URL
        var model: GPT2
        var tokenizer: BPETokenizer
        var template: ChatTemplate
        var data: SFTData
        var loader: SFTLoader
        var trainable: [Tensor]
    }

    static func freshSetup(_ config: Config) throws -> TrainingRun.Setup {
        let log = config.base.log
        guard let from = config.from, let file = config.base.recipeFile else {
            throw StrataError.config("sft", "needs --from CHECKPOINT and --config recipe.yaml (or --resume runs/NAME)")
        }
        var recipe = try RecipeLoader.load(file: URL(fileURLWithPath: file), overrides: config.base.overrides)
        let sft = try requireSection(recipe, file: file)
        try StageStart.refuseExisting(recipe.runDirectory, stage: "sft")
        let loaded = try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(from))
        let parentTokenizer = try StageStart.inheritTokenizer(recipe, loaded, stage: "sft")
        try StageStart.requireFits(recipe, loaded.model.config, checkpoint: loaded.checkpoint.url.path)
        let template = try ChatTemplate.named(sft.template)
        let (model, tokenizer, added) = try ChatSession.addingChatTokens(model: loaded.model, tokenizer: parentTokenizer, template: template)
        var events: [TrainingEvent] = []
        if added {
            let detail = "added \(template.specialTokens.joined(separator: " ")) to the tokenizer; vocabulary "
                + "\(loaded.model.config.vocabSize) → \(model.config.vocabSize) (new rows = mean embedding)"
            events.append(TrainingEvent(step: 0, kind: "vocabulary", detail: detail))
            log(detail)
        }
        let c = model.config
        log("model: \(c.nLayer) layers, \(c.nHead) heads, d=\(c.nEmbd), vocab \(c.vocabSize), "
            + String(format: "%.2fM parameters (from %@)", Double(c.parameterCount) / 1e6, loaded.checkpoint.url.path))
        var parts = try makeParts(recipe: recipe, sft: sft, model: model, tokenizer: tokenizer, template: template, loaderState: nil, log: log)
        let (resolved, epochEvent) = recipe.resolvingEpochs(sft.epochs, items: parts.loader.rowsPerEpoch, section: "sft", log: log)
        recipe = try resolved.checked(file: file)
        parts.recipe = recipe
        try recipe.writeResolved(to: recipe.runDirectory)
        if let epochEvent { events.append(epochEvent) }
        if parts.data.droppedTooLong > 0 {
            events.append(TrainingEvent(step: 0, kind: "data", detail: "\(parts.data.droppedTooLong) conversations longer than "
                                        + "\(recipe.context) tokens dropped"))
        }
        if parts.data.skippedLines > 0 {
            events.append(TrainingEvent(step: 0, kind: "data", detail: "\(parts.data.skippedLines) bad lines skipped"))
        }
        var state = TrainerState(stage: "sft", step: 0, totalSteps: recipe.totalSteps, tokensSeen: 0, optimizerStep: 0,
                                 loader: parts.loader.state, spikeGuard: SpikeGuard(config: recipe.spikeGuard), lastLR: 0,
                                 wallSeconds: 0, flops: 0, events: events, validation: [:],
                                 recipeSHA256: SHA256.hex(try recipe.resolvedJSON()), parentCheckpoint: loaded.id)
        if let eval = sft.eval {
            state.evaluations = PreferenceStage.before(try evaluate(eval, model: model, tokenizer: tokenizer, template: template,
                                                                    log: log, label: "before SFT"))
        }
        return try assemble(parts, state: state, parentLineage: loaded.lineage,
                            parent: .checkpoint(id: loaded.id, sha256: loaded.contentHash), config: config.base)
    }

    static func resumeSetup(_ config: Pretrain.Config) throws -> TrainingRun.Setup {
        let r = try Pretrain.openResume(config, stages: [.sft])
        let sft = try requireSection(r.recipe, file: r.runDir.appendingPathComponent("recipe.yaml").path)
        let model = r.loaded.model
        let template = try ChatTemplate.named(sft.template)
        var parts = try makeParts(recipe: r.recipe, sft: sft, model: model, tokenizer: r.loaded.tokenizer, template: template,
                                  loaderState: r.state.loader, log: config.log, attachLoRA: false)
        if sft.lora != nil {
            parts.trainable = try LoRA.restoreBaseAndAttach(model, checkpoint: r.checkpoint.url)
        }
        var parentLineage = r.loaded.lineage
        let head = parentLineage.entries.popLast()
        config.log("resuming \(r.runDir.lastPathComponent) from \(r.checkpoint.name) (step \(r.state.step) of \(r.state.totalSteps))")
        var s = try assemble(parts, state: r.state, parentLineage: parentLineage, parent: head?.parent ?? .randomInit, config: config)
        try TrainingCheckpoint.restoreOptimizer(s.optimizer, from: r.checkpoint)
        s.state.events.append(TrainingEvent(step: r.state.step, kind: .resume, detail: "resumed from \(r.checkpoint.name)"))
        return s
    }

    static func requireSection(_ recipe: Recipe, file: String) throws -> SFTConfig {
        guard let sft = recipe.sft else {
            throw StrataError.config("sft recipe \(file)", "has no 'sft' section",
                                     fix: "add e.g. sft: {train: conversations.jsonl} (TRL messages / prompt-completion / text JSONL)")
        }
        return sft
    }

    static func makeParts(recipe: Recipe, sft: SFTConfig, model: GPT2, tokenizer: BPETokenizer, template: ChatTemplate,
                          loaderState: LoaderState?, log: (String) -> Void, attachLoRA: Bool = true) throws -> Parts {
        let chat = try InstructionEval.chatTokenizer(tokenizer, template: template)
        let data = try SFTData.prepare(sft, template: template, chat: chat, rowLength: recipe.context, mode: sft.packing.packerMode, log: log)
        let loader = try SFTLoader(samples: data.train, batch: recipe.train.batchSize, rowLength: recipe.context,
                                   mode: sft.packing.packerMode, padID: 0, seed: UInt64(recipe.train.seed), state: loaderState)
        var trainable = model.parameters
        if let l = sft.lora, attachLoRA {
            let cfg = LoRAConfig(r: l.r, alpha: Float(l.alpha), dropout: Float(l.dropout), targets: l.targets)
            trainable = try LoRA.attach(to: model, config: cfg, seed: UInt64(recipe.train.seed))
            let n = trainable.reduce(0) { $0 + $1.count }
            log(String(format: "LoRA r=%d alpha=%g on %@: %d trainable parameters (%.2f%% of the model)", l.r, l.alpha,
                       l.targets.joined(separator: ","), n, 100 * Double(n) / Double(model.config.parameterCount)))
        }
        return Parts(recipe: recipe, sft: sft, runDir: recipe.runDirectory, model: model, tokenizer: tokenizer, template: template,
                     data: data, loader: loader, trainable: trainable)
    }

    static func assemble(_ p: Parts, state: TrainerState, parentLineage: Lineage, parent: ParentRef,
                         config: Pretrain.Config) throws -> TrainingRun.Setup {
        var s = try Pretrain.setup(recipe: p.recipe, runDir: p.runDir, model: p.model, tokenizer: p.tokenizer, sources: [],
                                   objective: NextTokenObjective(model: p.model, batches: SFTBatches(p.loader)), trainable: p.trainable, state: state,
                                   parentLineage: parentLineage, parent: parent, config: config)
        let recipe = p.recipe, data = p.data, mode = p.sft.packing.packerMode
        s.validate = { model in
            try SFTData.validationLoss(model: model, samples: data.validation, rowLength: recipe.context, batch: recipe.train.batchSize,
                                       batches: recipe.train.evalBatches, mode: mode)
        }
        s.dataRecords = data.records
        let tokenizerConfig = try chatTokenizerConfig(p.template, tokenizer: p.tokenizer, maxLength: p.model.config.nPositions)
        s.extraFiles = { model in
            var files: [CheckpointFile] = [.data("tokenizer_config.json", tokenizerConfig)]
            if LoRA.isAttached(model) {
                let (sources, json) = try LoRA.adapterFiles(model)
                files += [.safetensors(LoRA.checkpointWeightsFile, sources: sources, metadata: ["format": "pt"]), .data(LoRA.checkpointConfigFile, json),
                          .safetensors(LoRA.baseFile, sources: LoRA.baseSources(model), metadata: ["format": "pt"])]
            }
            return files
        }
        if let eval = p.sft.eval {
            let tokenizer = p.tokenizer, template = p.template, log = config.log
            s.finalEvaluation = { model in try evaluate(eval, model: model, tokenizer: tokenizer, template: template, log: log, label: "after SFT") }
        }
        return s
    }

    /// tokenizer_config.json bytes for a chat checkpoint (template, special tokens with ids).
    static func chatTokenizerConfig(_ template: ChatTemplate, tokenizer: BPETokenizer, maxLength: Int) throws -> Data {
        var ids: [String: Int] = [:]
        for t in template.specialTokens + [DataPipeline.endOfText] { if let id = tokenizer.id(forSpecial: t) { ids[t] = id } }
        let eos = DataPipeline.endOfText
        return try StrataJSON.encode(template.tokenizerConfig(eosToken: eos, bosToken: eos, modelMaxLength: maxLength, specialIDs: ids))
    }

    /// Instruction accuracy and chat knowledge on the world's held-out QA (keys "instruction", "knowledge").
    static func evaluate(_ eval: InstructionEvalSection, model: GPT2, tokenizer: BPETokenizer, template: ChatTemplate,
                         log: (String) -> Void, label: String) throws -> [String: [String: Double]] {
        var section = PreferenceEvalSection()
        section.qa = eval.qa; section.perKind = eval.perKind; section.maxNewTokens = eval.maxNewTokens; section.knowledge = eval.knowledge
        return try PreferenceStage.evaluate(section, model: model, tokenizer: tokenizer, template: template, log: log, label: label,
                                            seed: UInt64(eval.seed))
    }

    /// The world's qa.jsonl (one QA pair per line).
    public static func readQA(_ url: URL) throws -> [SyntheticWorld.QAPair] {
        let text: String
        do { text = try String(contentsOf: url, encoding: .utf8) } catch {
            throw StrataError.io("read QA pairs \(url.path)", error.localizedDescription, fix: "run `strata data synth` to write qa.jsonl")
        }
        var out: [SyntheticWorld.QAPair] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where !line.isEmpty {
            out.append(try StrataJSON.decode(SyntheticWorld.QAPair.self, from: Data(line.utf8), file: "\(url.path):\(i + 1)"))
        }
        return out
    }
}
