// `strata eval`: probe accuracy, exact match, validation loss per source and
// forgetting against a baseline, printed as a table and optionally written as
// JSON. Thin: options map onto Evaluation.Config (StrataEval); checkpoint paths
// resolve as `strata generate` resolves them. The checkpoint directory is left
// untouched unless --record merges the results into its lineage (evaluations.json).
// Leaves out: evaluation logic.

import ArgumentParser
import Foundation
import StrataCore
import StrataEval
import StrataTrain

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval",
        abstract: "Evaluate a checkpoint: cloze probes (before/after the cutoff), loss per source, forgetting vs a baseline.")

    @Option(help: "Checkpoint directory, or a run directory (its latest valid checkpoint).") var checkpoint: String
    @Option(help: "Baseline checkpoint for forgetting (default: the parent named in the checkpoint's lineage, if found).") var baseline: String?
    @Flag(help: "Do not compare with the parent checkpoint when no --baseline is given.") var noBaseline = false
    @Option(help: "Probe JSONL (prompt, answer, distractors, period, domain); default: probes.jsonl beside the training data.") var probes: String?
    @Option(help: "Evaluate at most this many probes (a seeded subset balanced over period and domain).") var maxProbes: Int?
    @Option(help: "Seed of the probe subset (default 0).") var probeSeed: UInt64?
    @Flag(help: "Skip greedy completions (exact match); ranking only.") var noExactMatch = false
    @Option(help: "Validation shard as name=shard.bin (repeatable); default: the runs' <source>.val.bin.") var data: [String] = []
    @Option(help: "Windows read from the front of each shard (default 32).") var windows: Int?
    @Option(help: "Tokens per window (default: the model's n_positions).") var context: Int?
    @Option(name: [.customLong("out"), .customLong("json")], help: "Write the reports (baseline first) as JSON to this file.") var json: String?
    @Flag(help: "Record the results in the checkpoint directory (evaluations.json, merged into its lineage).") var record = false
    @Option(help: "World qa.jsonl: also measure instruction following on its held-out tasks (chat checkpoints).") var instructions: String?
    @Option(help: "Preference JSONL (e.g. preferences_test.jsonl): also measure refusals, over-refusals and reply length.") var behaviour: String?
    @Flag(help: "Only the chat measures (--instructions, --behaviour): skip probes and losses.") var chatOnly = false

    func run() throws {
        if instructions != nil || behaviour != nil {
            var c = ChatEvaluation.Config(checkpoint: checkpoint)
            c.qa = instructions; c.behaviour = behaviour; c.record = record
            _ = try ChatEvaluation.run(c)
            if chatOnly { return }
        }
        var cfg = Evaluation.Config(checkpoint: checkpoint)
        cfg.baseline = baseline
        cfg.parentBaseline = !noBaseline
        cfg.probes = probes
        cfg.maxProbes = maxProbes
        if let probeSeed { cfg.probeSeed = probeSeed }
        cfg.probe.exactMatch = !noExactMatch
        cfg.data = try data.map(Evaluation.DataSpec.parse)
        if let windows { cfg.validation.windows = windows }
        cfg.validation.context = context
        cfg.json = json
        let outcome = try Evaluation.run(cfg, resolve: Self.resolve)
        if record, let report = outcome.reports.last, let dir = report.checkpoint.map({ URL(fileURLWithPath: $0) }),
           FileManager.default.fileExists(atPath: dir.appendingPathComponent("manifest.json").path) {
            try TrainingCheckpoint.recordEvaluation(dir, name: "eval", metrics: report.metricsDictionary())
            print("recorded the results in \(dir.appendingPathComponent(TrainingCheckpoint.evaluationsFile).path) (merged into its lineage)")
        }
        print("")
        print(outcome.table, terminator: "")
        if let json { print("wrote \(json)") }
    }

    /// A directory holding model.safetensors without a manifest is used as it is; otherwise it is
    /// resolved (and verified) as a training checkpoint or run directory.
    static func resolve(_ path: String) throws -> URL {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let fm = FileManager.default
        if fm.fileExists(atPath: url.appendingPathComponent("model.safetensors").path),
           !fm.fileExists(atPath: url.appendingPathComponent("manifest.json").path) { return url }
        return try TrainingCheckpoint.resolve(path).url
    }
}
