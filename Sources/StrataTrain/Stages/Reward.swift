// Reward modelling: a checkpoint's trunk plus a scalar head (transformers'
// GPT2ForSequenceClassification: score.weight [1, C], read at the last token of
// each row) trained with the Bradley–Terry loss −log σ(r_chosen − r_rejected − m)
// on preference pairs; its checkpoints carry tokenizer_config.json with the chat
// template and the pad token config.json names. Held-out pairwise accuracy, margin and reward mean/std
// during training, and accuracy per pair type at the end.
// Leaves out: reward-model ensembles, per-token (process) rewards.

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataCheckpoint
import StrataTokenizer
import StrataEval

public enum Reward: TrainingStage {
    public static let kind = Stage.reward

    public static func run(_ options: RunOptions) throws -> TrainingRun.Outcome { try StageRunner.run(Reward.self, options) }

    public static func parts(_ start: StageStart) throws -> StageParts {
        let p = try PreferenceStart.open(start, stage: kind)
        let recipe = p.recipe, origin = p.origin
        let rm: RewardModel
        if start.isResume {
            guard let saved = origin.reward else {
                throw StrataError.format("resume \(start.runDir.path)", "\(origin.checkpoint.url.path) is not a reward-model checkpoint")
            }
            rm = saved
        } else {
            rm = RewardModel(trunk: origin.model, padTokenId: Int(ChatStage.padID(origin.tokenizer)),
                             head: .normal(std: 1 / Float(origin.model.hiddenSize).squareRoot(), seed: UInt64(recipe.train.seed)))
        }
        let margin = Float(p.section.margin), context = recipe.context, pad = Int32(rm.padTokenId), data = p.data
        let loader = try PairLoader(count: data.train.count, batch: recipe.train.batchSize, context: context,
                                    seed: UInt64(recipe.train.seed), state: start.loaderState)
        let flopsPerPair = 3 * 2 * Double(context) * rm.trunk.forwardFlopsPerToken(context: context)
        let objective = PairObjective(loader: loader, flopsPerPair: flopsPerPair) { idx, tape in
            let (pb, rb) = try PreferenceData.batch(data.train, idx, rowLength: context, padID: pad)
            let (loss, m) = try BradleyTerry.loss(rewards: try rm.rewards(rb, tape: tape), margins: margins(margin, idx.count), tape: tape)
            return PairBatchLoss(loss: loss, metrics: named(m), tokens: pb.lastIndex.reduce(0) { $0 + Int($1) + 1 })
        }
        let batch = recipe.train.batchSize, limit = batch * recipe.train.evalBatches
        let chatFiles = try ChatCheckpointFiles.reward(template: p.template, tokenizer: origin.tokenizer, maxLength: rm.trunk.contextLength,
                                                       padTokenId: rm.padTokenId)
        var parts = StageParts(recipe: recipe, model: rm.trunk, tokenizer: origin.tokenizer, objective: objective, trainable: rm.parameters,
                               data: data.records,
                               validation: Validator {
                                   try heldOut(rm, pairs: data.validation, types: nil, margin: margin, rowLength: context, batch: batch,
                                               limit: limit, padID: pad)
                               },
                               content: CheckpointContent(files: {
                                   [.safetensors("model.safetensors", sources: rm.weightSources(), metadata: ["format": "pt"]),
                                    .data("config.json", try rm.configJSON())] + chatFiles
                               }, restore: { ckpt in try rm.loadWeights(from: ckpt.url(for: "model.safetensors")) }))
        parts.startEvents = p.events
        let log = start.log
        parts.finalEvaluation = { _ in
            guard let all = try heldOut(rm, pairs: data.validation, types: data.validationTypes, margin: margin, rowLength: context,
                                        batch: batch, limit: data.validation.count, padID: pad) else { return [:] }
            if let acc = all.parts["accuracy"] { log(String(format: "reward model: held-out pairwise accuracy %.1f%%", 100 * acc)) }
            return ["reward_eval": all.dictionary]
        }
        return parts
    }

    static func margins(_ margin: Float, _ n: Int) -> [Float]? { margin == 0 ? nil : Array(repeating: margin, count: n) }

    static func named(_ m: BradleyTerryMetrics) -> [String: Double] {
        ["bt_loss": Double(m.loss), "accuracy": Double(m.accuracy), "margin": Double(m.margin),
         "reward_mean": Double(m.rewardMean), "reward_std": Double(m.rewardStd)]
    }

    /// Held-out Bradley–Terry loss (the result's overall figure), accuracy, margin and reward statistics over the
    /// first `limit` pairs; with `types`, accuracy per pair type too.
    static func heldOut(_ model: RewardModel, pairs: [RenderedPair], types: [String?]?, margin: Float, rowLength: Int, batch: Int,
                        limit: Int, padID: Int32) throws -> ValidationResult? {
        guard !pairs.isEmpty else { return nil }
        var chosen: [Float] = [], rejected: [Float] = []
        let limit = min(pairs.count, limit)
        for start in stride(from: 0, to: limit, by: batch) {
            let idx = Array(start..<min(limit, start + batch))
            let (_, rb) = try PreferenceData.batch(pairs, idx, rowLength: rowLength, padID: padID)
            let r = try model.rewards(rb, tape: .noGrad())
            let v = Array(UnsafeBufferPointer(start: r.ptr, count: r.count))
            chosen += v[0..<idx.count]; rejected += v[idx.count...]
        }
        let (_, m) = try BradleyTerry.loss(chosen: Tensor(chosen, shape: [chosen.count]), rejected: Tensor(rejected, shape: [rejected.count]),
                                           margins: margins(margin, chosen.count), tape: .noGrad())
        var out = named(m)
        if let types {
            var byType: [String: (Int, Int)] = [:]
            for i in chosen.indices {
                let t = types[i] ?? "untyped"
                byType[t, default: (0, 0)].1 += 1
                if chosen[i] > rejected[i] { byType[t, default: (0, 0)].0 += 1 }
            }
            for (t, (ok, n)) in byType { out["accuracy." + t] = Double(ok) / Double(n) }
        }
        return ValidationResult(measure: .pairLoss, overall: Double(m.loss), parts: out)
    }
}

/// What the preference stages (reward model, DPO) share when they open: the recipe's `preference` section, the
/// starting checkpoint (a chat language model for a new run), the template and the rendered pairs, with epochs
/// resolved into steps and start-up events for dropped or skipped data.
struct PreferenceStart {
    var recipe: Recipe
    var section: PreferenceConfig
    var origin: TrainingCheckpoint.Loaded
    var template: ChatTemplate
    var data: PreferenceData
    var events: [TrainingEvent]

    static func section(_ recipe: Recipe, file: String, stage: Stage) throws -> PreferenceConfig {
        guard let p = recipe.preference else {
            throw StrataError.config("\(stage.rawValue) recipe \(file)", "has no 'preference' section",
                                     fix: "add e.g. preference: {train: pairs.jsonl} (TRL prompt/chosen/rejected JSONL)")
        }
        return p
    }

    static func open(_ start: StageStart, stage: Stage) throws -> PreferenceStart {
        let pref = try section(start.recipe, file: start.recipeFile, stage: stage), origin = try start.requireOrigin()
        if !start.isResume {
            try ChatStage.requireLanguageModel(origin, stage: stage)
            _ = try NextTokenStage.inheritTokenizer(start.recipe, origin, stage: stage)
        }
        let template = try ChatTemplate.named(pref.template)
        let chat = try ChatStage.requireChatTokens(origin, template: template, stage: stage)
        let data = try PreferenceData.prepare(pref, template: template, chat: chat, rowLength: start.recipe.context, log: start.log)
        let (recipe, epochEvents) = try ChatStage.resolvingEpochs(start, epochs: pref.epochs, items: data.train.count, section: "preference")
        let events = epochEvents + ChatStage.dataEvents(dropped: data.droppedTooLong, skipped: data.skippedLines, unit: "pairs",
                                                        context: recipe.context)
        return PreferenceStart(recipe: recipe, section: recipe.preference ?? pref, origin: origin, template: template, data: data,
                               events: start.isResume ? [] : events)
    }
}
