// SFT: supervised fine-tuning of a checkpoint on chat data. The chat template's
// special tokens are added to the tokenizer when missing (embedding rows grown,
// new rows at the mean embedding); conversations are rendered with loss on the
// assistant's tokens only, packed into rows without attention across samples (or
// padded), and trained with next-token loss normalised by the step's trained
// positions. Every checkpoint carries tokenizer_config.json with the template and
// generation_config.json stopping at the end of a turn,
// and, with LoRA, the adapter in PEFT's files plus merged weights in
// model.safetensors. Instruction accuracy and chat knowledge on held-out world
// tasks are measured before and after.
// Leaves out: multiple templates beyond ChatML, training the new token rows under LoRA.

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataCheckpoint
import StrataTokenizer
import StrataEval

public enum SFT: TrainingStage {
    public static let kind = Stage.sft

    public static func run(_ options: RunOptions) throws -> TrainingRun.Outcome { try StageRunner.run(SFT.self, options) }

    static func section(_ recipe: Recipe, file: String) throws -> SFTConfig {
        guard let sft = recipe.sft else {
            throw StrataError.config("sft recipe \(file)", "has no 'sft' section",
                                     fix: "add e.g. sft: {train: conversations.jsonl} (TRL messages / prompt-completion / text JSONL)")
        }
        return sft
    }

    public static func parts(_ start: StageStart) throws -> StageParts {
        let sft = try section(start.recipe, file: start.recipeFile), origin = try start.requireOrigin()
        let template = try ChatTemplate.named(sft.template)
        let (model, tokenizer, events) = try chatModel(start, origin: origin, template: template)
        let chat = try InstructionEval.chatTokenizer(tokenizer, template: template)
        let mode = sft.packing.packerMode
        let data = try SFTData.prepare(sft, template: template, chat: chat, rowLength: start.recipe.context, mode: mode, log: start.log)
        let loader = try SFTLoader(samples: data.train, batch: start.recipe.train.batchSize, rowLength: start.recipe.context,
                                   mode: mode, padID: 0, seed: UInt64(start.recipe.train.seed), state: start.loaderState)
        let (recipe, epochEvents) = try ChatStage.resolvingEpochs(start, epochs: sft.epochs, items: loader.rowsPerEpoch, section: "sft")
        let trainable = try attachLoRA(sft, model: model, checkpoint: start.isResume ? origin.checkpoint : nil, seed: recipe.train.seed,
                                       log: start.log)
        let chatFiles = try ChatCheckpointFiles.chat(template: template, tokenizer: tokenizer, maxLength: model.contextLength)
        var parts = StageParts(recipe: recipe, model: model, tokenizer: tokenizer,
                               objective: NextTokenObjective(model: model, batches: SFTBatches(loader)), trainable: trainable,
                               data: data.records,
                               validation: SFTData.validator(model: model, samples: data.validation, rowLength: recipe.context,
                                                             batch: recipe.train.batchSize, batches: recipe.train.evalBatches, mode: mode),
                               content: .languageModel(model) { try chatFiles + ChatStage.loraFiles(model) })
        parts.startEvents = events + epochEvents
            + ChatStage.dataEvents(dropped: data.droppedTooLong, skipped: data.skippedLines, unit: "conversations", context: recipe.context)
        if let eval = sft.eval {
            let spec = ChatEvalSpec(eval), log = start.log
            if !start.isResume {
                parts.startEvaluations = try ChatStage.evaluate(spec, model: model, tokenizer: tokenizer, template: template, log: log,
                                                                label: "before SFT")
            }
            parts.finalEvaluation = { m in try ChatStage.evaluate(spec, model: m, tokenizer: tokenizer, template: template, log: log, label: "after SFT") }
        }
        return parts
    }

    /// The starting model and tokenizer with the template's tokens (added on a new run when missing, as an event).
    static func chatModel(_ start: StageStart, origin: TrainingCheckpoint.Loaded,
                          template: ChatTemplate) throws -> (any CausalLM, BPETokenizer, [TrainingEvent]) {
        guard !start.isResume else { return (origin.model, origin.tokenizer, []) }
        let parentTokenizer = try NextTokenStage.inheritTokenizer(start.recipe, origin, stage: kind)
        let (model, tokenizer, added) = try ChatSession.addingChatTokens(model: origin.model, tokenizer: parentTokenizer, template: template)
        var events: [TrainingEvent] = []
        if added {
            let detail = "added \(template.specialTokens.joined(separator: " ")) to the tokenizer; vocabulary "
                + "\(origin.model.vocabSize) → \(model.vocabSize) (new rows = mean embedding)"
            events.append(TrainingEvent(step: 0, kind: .vocabulary, detail: detail))
            start.log(detail)
        }
        NextTokenStage.describe(model, from: origin.checkpoint.url.path, log: start.log)
        return (model, tokenizer, events)
    }

    /// What the optimizer trains: every parameter, or LoRA adapters (attached fresh, or restored with their
    /// unmerged base from the checkpoint being resumed).
    static func attachLoRA(_ sft: SFTConfig, model: any CausalLM, checkpoint: Checkpoint?, seed: Int, log: (String) -> Void) throws -> [Tensor] {
        guard let l = sft.lora else { return model.parameters }
        if let checkpoint { return try LoRA.restoreBaseAndAttach(model, checkpoint: checkpoint.url) }
        let cfg = LoRAConfig(r: l.r, alpha: Float(l.alpha), dropout: Float(l.dropout), targets: l.targets)
        let trainable = try LoRA.attach(to: model, config: cfg, seed: UInt64(seed))
        let n = trainable.reduce(0) { $0 + $1.count }
        log(String(format: "LoRA r=%d alpha=%g on %@: %d trainable parameters (%.2f%% of the model)", l.r, l.alpha,
                   l.targets.joined(separator: ","), n, 100 * Double(n) / Double(model.parameterCount)))
        return trainable
    }

}
