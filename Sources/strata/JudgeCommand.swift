// `strata judge`: RLAIF preference data. Samples two replies per prompt from a
// policy checkpoint, has an AI judge (another chat checkpoint) pick the better
// one from its next-token probabilities, and writes TRL preference JSONL plus a
// sidecar (<out>.judge.json) recording the judge (checkpoint id, sha256,
// template), the policy and the prompts. With --pairs it measures the judge
// instead: how often it prefers the chosen reply of a labelled preference file
// (StrataRL's JudgeAgreement), per "type" label, leaving out (and counting) the pairs whose
// judging chats exceed the judge's context. Thin: the work is StrataRL's JudgeLabeling and
// JudgeAgreement. Leaves out: relabelling existing preference files.

import ArgumentParser
import Foundation
import StrataCore
import StrataData
import StrataRL
import StrataTrain

struct JudgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "judge",
        abstract: "Label pairs of sampled replies with an AI judge; write TRL preference JSONL for strata reward / strata dpo.",
        discussion: "With --pairs FILE it labels nothing: it measures how often the judge prefers each pair's chosen reply.")

    @Option(help: "Policy checkpoint (or run directory) that samples the replies.") var policy: String?
    @Option(help: "Judge checkpoint (or run directory): a chat model.") var judge: String
    @Option(help: "Prompt file: TRL prompt-only JSONL ({\"prompt\": ...}).") var prompts: String?
    @Option(help: "Output preference JSONL; the sidecar goes beside it as <name>.judge.json.") var out: String?
    @Option(help: ArgumentHelp("Measure the judge instead: TRL preference JSONL whose chosen replies are the right ones; prints the share "
            + "of pairs whose chosen reply the judge prefers, per \"type\" label (chance 50%).")) var pairs: String?
    @Option(help: "With --pairs: also write the agreement rows as JSON to this file.") var report: String?
    @Option(help: ArgumentHelp("Judging template override (JSON: any of system, single, pair, principles, yes, no, a, b, answer_first, "
            + "answer_tokens, verdict).")) var template: String?
    @Option(help: "Use only the first N prompts.") var limit: Int?
    @Option(help: "Reply tokens at most.") var maxNewTokens = 48
    @Option(help: "Sampling temperature of the policy.") var temperature: Float = 1.0
    @Option(help: "Sampling seed.") var seed: UInt64 = 0
    @Option(help: "Drop pairs whose judge margin |P(A) − P(B)| is at most this.") var minMargin = 0.0

    func validate() throws {
        let labelling = [("--policy", policy), ("--prompts", prompts), ("--out", out)]
        if pairs != nil {
            if let given = labelling.first(where: { $0.1 != nil }) {
                throw ValidationError("--pairs measures the judge on existing pairs; it samples nothing, so \(given.0) has no use here")
            }
        } else {
            if let missing = labelling.first(where: { $0.1 == nil }) {
                throw ValidationError("labelling needs \(missing.0) (with --policy, --prompts and --out), or give --pairs FILE to measure the judge")
            }
            if report != nil { throw ValidationError("--report goes with --pairs (it writes the judge's agreement)") }
        }
    }

    func run() throws {
        if let pairs { return try measure(pairs) }
        try label(policy: policy!, prompts: prompts!, out: out!)
    }

    /// --pairs: the judge's agreement with the file's labels, per type and overall.
    private func measure(_ path: String) throws {
        let set = try PreferenceDataset.load(URL(fileURLWithPath: path), margins: .use)
        let jud = try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(judge))
        try jud.model.requireDecoder(for: "strata judge", source: "--judge \(judge)")
        let tpl = try template.map { try StrataJSON.read(JudgeTemplate.self, at: URL(fileURLWithPath: $0)) } ?? .standard
        let source = try JudgeSource(model: jud.model, tokenizer: jud.tokenizer, template: tpl, checkpoint: jud.id, sha256: jud.contentHash,
                                     questions: .both)
        let start = Date()
        // Pairs whose judging chats exceed the judge's context are left out and counted, as the demo's table does.
        let fit = try JudgeAgreement.fits(judges: [source], pairs: set.pairs)
        let pairs = zip(set.pairs, fit).filter(\.1).map(\.0)
        guard !pairs.isEmpty else {
            throw StrataError.data("strata judge --pairs \(path)", "none of its \(set.pairs.count) pairs fits the judge's context "
                                   + "(n_positions \(jud.model.contextLength)) as a judging chat", fix: "use shorter pairs or a judge with a longer context")
        }
        let rows = JudgeAgreement.rows(try JudgeAgreement.margins(judge: source, pairs: pairs), groups: pairs.map { $0.type ?? "-" })
        // A likelihood judge gets one column: its pair verdict is the sign of the same likelihood difference.
        let likelihood = tpl.verdict == .likelihood
        print("type          pairs  " + (likelihood ? "judge (likelihood: chosen more likely as its own answer)"
                                                    : "judge (one reply)  judge (pair, both orders)"))
        for r in rows {
            let pair = likelihood ? "" : String(format: "  %24.1f%%", 100 * r.pair)
            print(r.group.padding(toLength: 12, withPad: " ", startingAt: 0) + String(format: "  %5d  %16.1f%%", r.pairs, 100 * r.single) + pair)
        }
        if pairs.count < set.pairs.count {
            print("\(set.pairs.count - pairs.count) of \(set.pairs.count) pairs left out: a judging chat of each is longer than the judge's "
                  + "context (n_positions \(jud.model.contextLength))")
        }
        print(String(format: "judge %@ on %@; %.1f s", jud.id, path, Date().timeIntervalSince(start)))
        if let report {
            try StrataJSON.encode(rows).write(to: URL(fileURLWithPath: report), options: .atomic)
            print("wrote \(report)")
        }
    }

    private func label(policy: String, prompts: String, out: String) throws {
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
