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
        public init(checkpoint: String = "") { self.checkpoint = checkpoint }
    }

    /// Metric groups ("instruction", "behaviour") of the checkpoint; with `record`, also written to its evaluations.json when it has a manifest.
    public static func run(_ c: Config, log: (String) -> Void = { Console.line($0) }) throws -> [String: [String: Double]] {
        let ckpt = try TrainingCheckpoint.resolve(c.checkpoint)
        let loaded = try TrainingCheckpoint.load(ckpt)
        var spec = ChatEvalSpec()
        spec.qa = c.qa; spec.behaviour = c.behaviour; spec.perKind = c.perKind; spec.maxNewTokens = c.maxNewTokens
        spec.behaviourPerKind = c.perKind
        let label = loaded.lineage.head?.checkpointID ?? ckpt.url.path
        let (model, tokenizer, added) = try ChatSession.addingChatTokens(model: loaded.model, tokenizer: loaded.tokenizer)
        if added { log("note: \(label) has no chat tokens (not chat-tuned); they were added with mean-embedding rows to measure it") }
        let out = try ChatStage.evaluate(spec, model: model, tokenizer: tokenizer, template: .chatML, log: log, label: label)
        if c.record, FileManager.default.fileExists(atPath: ckpt.url.appendingPathComponent("manifest.json").path) {
            for (name, metrics) in out { try TrainingCheckpoint.recordEvaluation(ckpt.url, name: name, metrics: metrics) }
        }
        if let m = out["instruction"] {
            let kinds = InstructionKind.allCases.map(\.rawValue).compactMap { k in
                m["instr_acc." + k].map { String(format: "%@ %.0f%% (format %.0f%%)", k, 100 * $0, 100 * (m["instr_format." + k] ?? 0)) }
            }
            log("  by kind: " + kinds.joined(separator: ", "))
        }
        return out
    }
}
