// What the reward and DPO stages share: opening the starting checkpoint and the
// recipe, refusing a run directory that already holds checkpoints, rendering the
// pairs, and the evaluation written into lineage before and after the stage —
// instruction accuracy on held-out world tasks and behaviour on held-out prompts
// (refusal rate on harmful requests, over-refusal on benign ones, reply length).
// Leaves out: the objectives themselves (DPO.swift, Reward.swift).

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataTokenizer
import StrataEval

enum PreferenceStage {
    /// A new preference run: recipe with its `preference` section, the starting checkpoint, template and data.
    struct Start {
        var recipe: Recipe
        var pref: PreferenceConfig
        var loaded: TrainingCheckpoint.Loaded
        var template: ChatTemplate
        var chat: ChatTokenizer
        var data: PreferenceData
        var events: [TrainingEvent]
    }

    static func requireSection(_ recipe: Recipe, file: String, stage: String) throws -> PreferenceConfig {
        guard let p = recipe.preference else {
            throw StrataError.config("\(stage) recipe \(file)", "has no 'preference' section",
                                     fix: "add e.g. preference: {train: pairs.jsonl} (TRL prompt/chosen/rejected JSONL)")
        }
        return p
    }

    static func open(_ config: Continue.Config, stage: String, loadModel: Bool = true) throws -> Start {
        guard let from = config.from, let file = config.base.recipeFile else {
            throw StrataError.config(stage, "needs --from CHECKPOINT and --config recipe.yaml (or --resume runs/NAME)")
        }
        var recipe = try RecipeLoader.load(file: URL(fileURLWithPath: file), overrides: config.base.overrides)
        let pref = try requireSection(recipe, file: file, stage: stage)
        try StageStart.refuseExisting(recipe.runDirectory, stage: stage)
        let loaded = try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(from))
        if loaded.reward != nil {
            throw StrataError.config(stage, "\(loaded.checkpoint.url.path) is a reward model, not a language model",
                                     fix: "start from the SFT checkpoint the reward model was trained from")
        }
        _ = try StageStart.inheritTokenizer(recipe, loaded, stage: stage)
        try StageStart.requireFits(recipe, loaded.model.config, checkpoint: loaded.checkpoint.url.path)
        let template = try ChatTemplate.named(pref.template)
        let chat: ChatTokenizer
        do { chat = try InstructionEval.chatTokenizer(loaded.tokenizer, template: template) } catch {
            throw StrataError.config(stage, "\(loaded.checkpoint.url.path) has no \(template.name) tokens in its tokenizer",
                                     fix: "start preference tuning from an SFT checkpoint (strata sft adds the chat tokens)")
        }
        let data = try PreferenceData.prepare(pref, template: template, chat: chat, rowLength: recipe.context, log: config.base.log)
        var events: [TrainingEvent] = []
        let (resolved, epochEvent) = recipe.resolvingEpochs(pref.epochs, items: data.train.count, section: "preference", log: config.base.log)
        recipe = try resolved.checked(file: file)
        try recipe.writeResolved(to: recipe.runDirectory)
        if let epochEvent { events.append(epochEvent) }
        if data.droppedTooLong > 0 {
            events.append(TrainingEvent(step: 0, kind: "data", detail: "\(data.droppedTooLong) pairs longer than \(recipe.context) tokens dropped"))
        }
        if data.skippedLines > 0 { events.append(TrainingEvent(step: 0, kind: "data", detail: "\(data.skippedLines) bad lines skipped")) }
        return Start(recipe: recipe, pref: recipe.preference ?? pref, loaded: loaded, template: template, chat: chat, data: data, events: events)
    }

    /// Instruction, knowledge and behaviour metrics of `model` (keys "instruction", "knowledge", "behaviour"), as
    /// `eval` asks; `seed` chooses the instruction tasks. SFT and the preference stages both measure through this.
    static func evaluate(_ eval: PreferenceEvalSection?, model: GPT2, tokenizer: BPETokenizer, template: ChatTemplate,
                         log: (String) -> Void, label: String, seed: UInt64 = 0) throws -> [String: [String: Double]] {
        guard let eval else { return [:] }
        var out: [String: [String: Double]] = [:]
        if let qa = eval.qa {
            let pairs = try SFT.readQA(URL(fileURLWithPath: qa))
            if eval.knowledge > 0 {
                out["knowledge"] = try ChatKnowledge.evaluate(model: model, tokenizer: tokenizer, template: template, qa: pairs, limit: eval.knowledge)
            }
            let tasks = InstructionTasks.build(qa: pairs, seed: seed, perKind: eval.perKind)
            let r = try InstructionEval.evaluate(model: model, tokenizer: tokenizer, template: template, tasks: tasks,
                                                 config: .init(maxNewTokens: eval.maxNewTokens, keepResults: false))
            out["instruction"] = r.metricsDictionary()
            log(String(format: "%@: instruction accuracy %.1f%% (%d tasks)", label, 100 * r.overall.accuracy, r.overall.count))
        }
        if let path = eval.behaviour {
            let pairs = try PreferenceDataset.load(URL(fileURLWithPath: path)).pairs
            let prompts = BehaviourEval.prompts(pairs: pairs, maxPerKind: eval.behaviourPerKind)
            let r = try BehaviourEval.evaluate(model: model, tokenizer: tokenizer, template: template, prompts: prompts,
                                               config: .init(maxNewTokens: eval.maxNewTokens, keepResults: false))
            out["behaviour"] = r.metricsDictionary()
            log(String(format: "%@: refuses %.1f%% of harmful requests, %.1f%% of benign ones; %.1f tokens per reply", label,
                       100 * r.refusalRate, 100 * r.overRefusalRate, r.meanReplyTokens ?? 0))
        }
        return out
    }

    /// The same metrics under "<name>_before" keys.
    static func before(_ m: [String: [String: Double]]) -> [String: [String: Double]] {
        Dictionary(uniqueKeysWithValues: m.map { ($0.key + "_before", $0.value) })
    }
}
