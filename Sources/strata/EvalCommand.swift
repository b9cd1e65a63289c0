// `strata eval`: probe accuracy, exact match, validation loss per source and
// forgetting against a baseline, printed as a table and optionally written as
// JSON; for a RoBERTa encoder checkpoint, masked-LM loss, perplexity and accuracy
// per source instead (MaskedLMEval). Thin: options map onto Evaluation.Config (StrataEval); checkpoint paths
// resolve as `strata generate` resolves them. The checkpoint directory is left
// untouched unless --record merges the results into its lineage (evaluations.json).
// Leaves out: evaluation logic.

import ArgumentParser
import Foundation
import StrataCore
import StrataEval
import StrataModel
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
    @Option(help: "With --instructions: write the instruction report, every task's reply included, as JSON here.") var instructionsJson: String?
    @Option(help: "Preference JSONL (e.g. preferences_test.jsonl): also measure refusals, over-refusals and reply length.") var behaviour: String?
    @Flag(help: "Only the chat measures (--instructions, --behaviour, --safety): skip probes and losses.") var chatOnly = false
    @Option(help: "Attack set JSONL (world/attacks.jsonl, or strata redteam's): refusal and over-refusal by attack family.") var safety: String?
    @Option(help: "Harmful and benign prompts per attack family (default 20; 0 = all).") var safetyPerFamily = 20
    @Option(help: "With --safety: write the safety report, replies included, as JSON here.") var safetyJson: String?
    @Option(help: "With --safety: fine-tune a copy for N steps on benign chats (--brittleness-data) and measure refusal again.")
    var brittleness: Int?
    @Option(help: "Benign chat JSONL for the brittleness probe (e.g. world/sft_before_cutoff.jsonl).") var brittlenessData: String?
    @Option(help: "An SFT recipe for the brittleness probe instead of the default (full fine-tuning, constant LR).") var brittlenessRecipe: String?
    @Option(help: "Learning rate of the default brittleness probe.") var brittlenessLr = 1e-3

    func run() throws {
        if instructionsJson != nil && instructions == nil {
            throw ValidationError("--instructions-json needs --instructions QA.jsonl (the world's qa.jsonl)")
        }
        let dir = try Self.resolve(checkpoint)
        if try ModelFamily.of(configAt: dir.appendingPathComponent("config.json")).isEncoder { return try runMaskedLM(dir) }
        if instructions != nil || behaviour != nil || safety != nil {
            var c = ChatEvaluation.Config(checkpoint: checkpoint)
            c.qa = instructions; c.behaviour = behaviour; c.record = record; c.instructionsJSON = instructionsJson
            c.safety = safety; c.safetyPerFamily = safetyPerFamily > 0 ? safetyPerFamily : nil; c.safetyJSON = safetyJson
            c.brittleness = try brittlenessConfig()
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

    /// The encoder's evaluation: masked-LM measures per source; the decoder-only options are refused by name.
    func runMaskedLM(_ dir: URL) throws {
        let decoderOnly = [("--baseline", baseline != nil), ("--probes", probes != nil), ("--max-probes", maxProbes != nil),
                           ("--instructions", instructions != nil), ("--behaviour", behaviour != nil), ("--safety", safety != nil),
                           ("--brittleness", brittleness != nil)]
        if let (flag, _) = decoderOnly.first(where: { $0.1 }) {
            throw ValidationError("\(flag) measures a decoder, but \(dir.path) is a roberta masked-LM encoder; "
                                  + "leave it out (the encoder is evaluated by masked-LM loss and accuracy)")
        }
        var job = MaskedLMEval.Job(checkpoint: dir)
        job.data = try data.map(Evaluation.DataSpec.parse)
        if let windows { job.windows = windows }
        job.context = context
        let outcome = try MaskedLMEval.run(job)
        if record, FileManager.default.fileExists(atPath: dir.appendingPathComponent("manifest.json").path) {
            try TrainingCheckpoint.recordEvaluation(dir, name: "masked_lm", metrics: outcome.metrics)
            print("recorded the results in \(dir.appendingPathComponent(TrainingCheckpoint.evaluationsFile).path) (merged into its lineage)")
        }
        if let json {
            try StrataJSON.encode(outcome.scores + [outcome.overall]).write(to: URL(fileURLWithPath: json), options: .atomic)
        }
        print("")
        print(outcome.table, terminator: "")
        if let json { print("wrote \(json)") }
    }

    /// The brittleness probe's settings, refusing half-given options.
    func brittlenessConfig() throws -> Brittleness.Config? {
        guard let steps = brittleness else {
            if brittlenessData != nil || brittlenessRecipe != nil {
                throw ValidationError("--brittleness-data/--brittleness-recipe need --brittleness N (the probe's steps)")
            }
            return nil
        }
        guard safety != nil else { throw ValidationError("--brittleness needs --safety ATTACKS.jsonl (it measures refusal of its plain requests)") }
        guard let data = brittlenessData else {
            throw ValidationError("--brittleness needs --brittleness-data CHATS.jsonl (benign chats, e.g. world/sft_before_cutoff.jsonl)")
        }
        var b = Brittleness.Config(steps: steps, data: data)
        b.recipe = brittlenessRecipe; b.lr = brittlenessLr
        return b
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
