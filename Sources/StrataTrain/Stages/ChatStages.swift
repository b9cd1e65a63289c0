// What the chat stages (SFT, reward model, DPO — and the RL stages after them)
// share, under a shared name: checking a checkpoint speaks the chat template,
// the padding id of
// rendered rows, the world's QA file, and the chat evaluation recorded in
// lineage before and after a stage — instruction accuracy and format on
// held-out world tasks, knowledge ranked without generation, and behaviour on
// held-out prompts (refusal of harmful requests, over-refusal of benign ones,
// reply length).
// Leaves out: the stages' objectives and data.

import Foundation
import StrataCore
import StrataModel
import StrataData
import StrataTokenizer
import StrataEval
import StrataCheckpoint

/// Which chat evaluations to run: the recipe's sft.eval or preference.eval, or `strata eval`'s options.
public struct ChatEvalSpec {
    public var qa: String?
    public var perKind = 16
    public var seed: UInt64 = 0
    public var maxNewTokens = 24
    public var knowledge = 0
    public var behaviour: String?
    public var behaviourPerKind = 64
    /// Write the instruction report, every task's reply included, as JSON here (nil: metrics only).
    public var instructionsJSON: String?
    public init() {}

    init(_ s: InstructionEvalSection) {
        qa = s.qa; perKind = s.perKind; seed = UInt64(s.seed); maxNewTokens = s.maxNewTokens; knowledge = s.knowledge
    }

    init(_ s: PreferenceEvalSection) {
        qa = s.qa; perKind = s.perKind; maxNewTokens = s.maxNewTokens; knowledge = s.knowledge
        behaviour = s.behaviour; behaviourPerKind = s.behaviourPerKind
    }
}

enum ChatStage {
    /// The chat tokenizer of a checkpoint that must already speak the template (preference and RL stages).
    static func requireChatTokens(_ loaded: TrainingCheckpoint.Loaded, template: ChatTemplate, stage: Stage) throws -> ChatTokenizer {
        do { return try InstructionEval.chatTokenizer(loaded.tokenizer, template: template) } catch {
            throw StrataError.config(stage.rawValue, "\(loaded.checkpoint.url.path) has no \(template.name) tokens in its tokenizer",
                                     fix: "start from an SFT checkpoint (strata sft adds the chat tokens)")
        }
    }

    /// A language-model checkpoint to start from (not a reward model).
    static func requireLanguageModel(_ loaded: TrainingCheckpoint.Loaded, stage: Stage) throws {
        if loaded.reward != nil {
            throw StrataError.config(stage.rawValue, "\(loaded.checkpoint.url.path) is a reward model, not a language model",
                                     fix: "start from the SFT checkpoint the reward model was trained from")
        }
    }

    /// With LoRA attached, the adapter (PEFT's format, renamed) and the unmerged base of the adapted modules.
    static func loraFiles(_ model: any CausalLM) throws -> [CheckpointFile] {
        guard LoRA.isAttached(model) else { return [] }
        let (sources, json) = try LoRA.adapterFiles(model)
        return [.safetensors(LoRA.checkpointWeightsFile, sources: sources, metadata: ["format": "pt"]), .data(LoRA.checkpointConfigFile, json),
                .safetensors(LoRA.baseFile, sources: LoRA.baseSources(model), metadata: ["format": "pt"])]
    }

    /// Padding id for rendered rows: end of text (never the last token of a rendered response, which ends with the template's end token).
    static func padID(_ tokenizer: BPETokenizer) -> Int32 { Int32(tokenizer.eosID ?? 0) }

    /// The world's qa.jsonl (one QA pair per line; errors name file:line).
    public static func readQA(_ url: URL) throws -> [SyntheticWorld.QAPair] {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw StrataError.io("read QA pairs \(url.path)", "no such file", fix: "run `strata data synth` to write qa.jsonl")
        }
        var out: [SyntheticWorld.QAPair] = []
        _ = try JSONLines.forEachRecord(SyntheticWorld.QAPair.self, in: url, skipOption: .none) { _, pair in out.append(pair) }
        return out
    }

    /// Instruction, knowledge and behaviour metrics of `model` (keys "instruction", "knowledge", "behaviour"), as `spec` asks.
    static func evaluate(_ spec: ChatEvalSpec, model: any CausalLM, tokenizer: BPETokenizer, template: ChatTemplate,
                         log: (String) -> Void, label: String) throws -> Evaluations {
        var out: Evaluations = [:]
        if let qa = spec.qa {
            let pairs = try readQA(URL(fileURLWithPath: qa))
            if spec.knowledge > 0 {
                out["knowledge"] = try ChatKnowledge.evaluate(model: model, tokenizer: tokenizer, template: template, qa: pairs, limit: spec.knowledge)
            }
            let tasks = InstructionTasks.build(qa: pairs, seed: spec.seed, perKind: spec.perKind)
            let r = try InstructionEval.evaluate(model: model, tokenizer: tokenizer, template: template, tasks: tasks,
                                                 config: .init(maxNewTokens: spec.maxNewTokens, keepResults: spec.instructionsJSON != nil))
            out["instruction"] = r.metricsDictionary()
            if let path = spec.instructionsJSON {
                do { try r.jsonData().write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
                    throw StrataError.io("write the instruction report", "\(path): \(error)", fix: "give --instructions-json a writable path")
                }
            }
            log(String(format: "%@: instruction accuracy %.1f%% (%d tasks)", label, 100 * r.overall.accuracy, r.overall.count))
        }
        if let path = spec.behaviour {
            let pairs = try PreferenceDataset.load(URL(fileURLWithPath: path)).pairs
            let prompts = BehaviourEval.prompts(pairs: pairs, maxPerKind: spec.behaviourPerKind)
            let r = try BehaviourEval.evaluate(model: model, tokenizer: tokenizer, template: template, prompts: prompts,
                                               config: .init(maxNewTokens: spec.maxNewTokens, keepResults: false))
            out["behaviour"] = r.metricsDictionary()
            log(String(format: "%@: refuses %.1f%% of harmful requests, %.1f%% of benign ones; %.1f tokens per reply", label,
                       100 * r.refusalRate, 100 * r.overRefusalRate, r.meanReplyTokens ?? 0))
        }
        return out
    }

    /// Recipe epochs resolved into steps for a new run (an event records it); nothing changes on resume.
    static func resolvingEpochs(_ start: StageStart, epochs: Double?, items: Int, section: String) throws -> (Recipe, [TrainingEvent]) {
        guard !start.isResume else { return (start.recipe, []) }
        let (resolved, event) = start.recipe.resolvingEpochs(epochs, items: items, section: section, log: start.log)
        return (try resolved.checked(file: start.recipeFile), event.map { [$0] } ?? [])
    }

    /// Start-up events for data a stage could not use.
    static func dataEvents(dropped: Int, skipped: Int, unit: String, context: Int) -> [TrainingEvent] {
        var events: [TrainingEvent] = []
        if dropped > 0 { events.append(TrainingEvent(step: 0, kind: .data, detail: "\(dropped) \(unit) longer than \(context) tokens dropped")) }
        if skipped > 0 { events.append(TrainingEvent(step: 0, kind: .data, detail: "\(skipped) bad lines skipped")) }
        return events
    }
}
