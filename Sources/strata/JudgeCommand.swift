// `strata judge`: RLAIF preference data. Samples two replies per prompt from a
// policy checkpoint, has an AI judge (another chat checkpoint) pick the better
// one from its next-token probabilities, and writes TRL preference JSONL plus a
// sidecar (<out>.judge.json) recording the judge (checkpoint id, sha256,
// template), the policy and the prompts. Thin: the work is StrataRL's
// JudgeLabeling. Leaves out: relabelling existing preference files.

import ArgumentParser
import Foundation
import StrataCore
import StrataData
import StrataRL
import StrataTrain

struct JudgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "judge",
        abstract: "Label pairs of sampled replies with an AI judge; write TRL preference JSONL for strata reward / strata dpo.")

    @Option(help: "Policy checkpoint (or run directory) that samples the replies.") var policy: String
    @Option(help: "Judge checkpoint (or run directory): a chat model.") var judge: String
    @Option(help: "Prompt file: TRL prompt-only JSONL ({\"prompt\": ...}).") var prompts: String
    @Option(help: "Output preference JSONL; the sidecar goes beside it as <name>.judge.json.") var out: String
    @Option(help: "Judging template override (JSON: any of system, single, pair, principles, yes, no, a, b).") var template: String?
    @Option(help: "Use only the first N prompts.") var limit: Int?
    @Option(help: "Reply tokens at most.") var maxNewTokens = 48
    @Option(help: "Sampling temperature of the policy.") var temperature: Float = 1.0
    @Option(help: "Sampling seed.") var seed: UInt64 = 0
    @Option(help: "Drop pairs whose judge margin |P(A) − P(B)| is at most this.") var minMargin = 0.0

    func run() throws {
        let promptURL = URL(fileURLWithPath: prompts)
        var set = try PromptDataset.load(promptURL)
        if let limit { set.records = Array(set.records.prefix(max(0, limit))); set.lineNumbers = Array(set.lineNumbers.prefix(max(0, limit))) }
        let pol = try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(policy))
        let jud = try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(judge))
        try pol.model.requireDecoder(for: "strata judge", source: "--policy \(policy)")
        try jud.model.requireDecoder(for: "strata judge", source: "--judge \(judge)")
        let tpl = try template.map { try StrataJSON.read(JudgeTemplate.self, at: URL(fileURLWithPath: $0)) } ?? .standard
        let rollout = RolloutConfig(maxNewTokens: maxNewTokens, temperature: temperature, seed: seed)
        let engine = try RolloutEngine(model: pol.model, tokenizer: pol.tokenizer, config: rollout)
        try engine.checkPrompts(set)
        let source = try JudgeSource(model: jud.model, tokenizer: jud.tokenizer, template: tpl, checkpoint: jud.id, sha256: jud.contentHash,
                                     questions: .pair)
        let start = Date()
        let result = try JudgeLabeling.label(prompts: set.records, engine: engine, judge: source, minMargin: minMargin)
        let outURL = URL(fileURLWithPath: out)
        try PreferenceDataset.write(result.pairs, to: outURL)
        let sidecar = JudgeLabeling.Sidecar(judge: source.identity, policyCheckpoint: pol.id, policySHA256: pol.contentHash,
                                            prompts: promptURL.path, promptsSHA256: try SHA256.hex(fileAt: promptURL), rollout: rollout,
                                            minMargin: minMargin, pairs: result.pairs.count, droppedIdentical: result.droppedIdentical,
                                            droppedTies: result.droppedTies)
        let sidecarURL = JudgeLabeling.sidecarURL(for: outURL)
        try StrataJSON.encode(sidecar).write(to: sidecarURL)
        let meanMargin = result.margins.isEmpty ? 0 : result.margins.reduce(0, +) / Double(result.margins.count)
        print(String(format: "%d pairs from %d prompts (%d identical or empty, %d ties dropped), mean judge margin %.4f; %.1f s",
                     result.pairs.count, set.records.count, result.droppedIdentical, result.droppedTies, meanMargin, Date().timeIntervalSince(start)))
        print("wrote \(outURL.path) and \(sidecarURL.path)")
    }
}
