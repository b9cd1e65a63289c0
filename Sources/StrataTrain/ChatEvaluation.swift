// Chat-level evaluation of a checkpoint, for `strata eval --instructions/--behaviour`:
// instruction accuracy and format on held-out world tasks, and refusal/over-refusal
// rates and reply length on held-out preference prompts; printed as one line per
// metric group and, with `record`, written beside the checkpoint (evaluations.json → lineage).
// Leaves out: probes and losses (Evaluation in StrataEval does those).

import Foundation
import StrataCore
import StrataModel
import StrataData
import StrataEval
import StrataTokenizer

public enum ChatEvaluation {
    public struct Config: Sendable {
        public var checkpoint = ""
        /// The world's qa.jsonl (held-out instruction tasks); nil skips them.
        public var qa: String?
        /// Preference JSONL whose prompts probe refusals (e.g. preferences_test.jsonl); nil skips them.
        public var behaviour: String?
        public var perKind = 40
        public var maxNewTokens = 24
        /// Write the results into the checkpoint's evaluations.json (default: leave the checkpoint untouched).
        public var record = false
        /// An attack set (attacks.jsonl, or one strata redteam wrote): refusal by attack family; nil skips it.
        public var safety: String?
        /// At most this many harmful and benign prompts per family (nil: all).
        public var safetyPerFamily: Int? = 20
        /// Fine-tune a copy for this many benign steps and measure plain refusal again.
        public var brittleness: Brittleness.Config?
        /// Write the safety report (per-prompt replies included) as JSON here.
        public var safetyJSON: String?
        /// Write the instruction report (per-task replies included) as JSON here.
        public var instructionsJSON: String?
        public init(checkpoint: String = "") { self.checkpoint = checkpoint }
    }

    /// Metric groups ("instruction", "behaviour") of the checkpoint; with `record`, also written to its evaluations.json when it has a manifest.
    public static func run(_ c: Config, log: (String) -> Void = { Console.line($0) }) throws -> [String: [String: Double]] {
        let ckpt = try TrainingCheckpoint.resolve(c.checkpoint)
        let loaded = try TrainingCheckpoint.load(ckpt)
        var spec = ChatEvalSpec()
        spec.qa = c.qa; spec.behaviour = c.behaviour; spec.perKind = c.perKind; spec.maxNewTokens = c.maxNewTokens
        spec.behaviourPerKind = c.perKind; spec.instructionsJSON = c.instructionsJSON
        let label = loaded.lineage.head?.checkpointID ?? ckpt.url.path
        let (model, tokenizer, added) = try ChatSession.addingChatTokens(model: loaded.model, tokenizer: loaded.tokenizer)
        if added { log("note: \(label) has no chat tokens (not chat-tuned); they were added with mean-embedding rows to measure it") }
        var out = c.qa == nil && c.behaviour == nil ? [:]
            : try ChatStage.evaluate(spec, model: model, tokenizer: tokenizer, template: .chatML, log: log, label: label)
        if let file = c.safety {
            let report = try safety(c, attacks: try AttackSet.load(URL(fileURLWithPath: file)), model: model, tokenizer: tokenizer,
                                    checkpoint: ckpt.url.path, log: log)
            log(report.table(label: label))
            out["safety"] = report.metricsDictionary()
            if let path = c.safetyJSON { try report.jsonData().write(to: URL(fileURLWithPath: path)) }
        }
        if c.record, FileManager.default.fileExists(atPath: ckpt.url.appendingPathComponent("manifest.json").path) {
            for (name, metrics) in out { try TrainingCheckpoint.recordEvaluation(ckpt.url, name: name, metrics: metrics) }
        }
        if let m = out["instruction"], c.qa != nil {
            let kinds = InstructionKind.allCases.map(\.rawValue).compactMap { k in
                m["instr_acc." + k].map { String(format: "%@ %.0f%% (format %.0f%%)", k, 100 * $0, 100 * (m["instr_format." + k] ?? 0)) }
            }
            log("  by kind: " + kinds.joined(separator: ", "))
        }
        return out
    }

    /// The safety report of one checkpoint, with the brittleness probe when asked.
    static func safety(_ c: Config, attacks: AttackSet, model: any CausalLM, tokenizer: BPETokenizer, checkpoint: String,
                       log: (String) -> Void) throws -> SafetyReport {
        if let b = c.brittleness, !FileManager.default.fileExists(atPath: b.data) {
            throw StrataError.io("brittleness probe", "no benign chat file at \(b.data)",
                                 fix: "give --brittleness-data a TRL messages JSONL (the world's is world/sft_before_cutoff.jsonl)")
        }
        let set = attacks.capped(perFamily: c.safetyPerFamily)
        let eval = BehaviourEval.Config(maxNewTokens: c.maxNewTokens)
        var report = try SafetyEval.evaluate(model: model, tokenizer: tokenizer, attacks: set, config: eval)
        if var b = c.brittleness {
            b.context = model.contextLength
            let plainFamily = SyntheticWorld.AttackFamily.plain.rawValue
            let plain = zip(set.prompts, set.families).filter { $0.0.kind == .harmful && $0.1 == plainFamily }.map(\.0)
            let before = report.families.first { $0.family == plainFamily }?.refusal ?? 0
            report.brittleness = try Brittleness.probe(checkpoint: checkpoint, plainHarmful: plain, refusalBefore: before, config: b,
                                                       eval: eval, log: log)
        }
        return report
    }
}
