// The demo's reinforcement-learning legs, after preference tuning, all from the
// SFT checkpoint:
//   PPO on the fact prompts against the demo's reward model twice — the
//     recipe's KL penalty, and none (ppo-nokl) — and against the AI judge
//     (ppo-judge, after the judge is trained), read from each run's metrics
//     (first vs last quarter of the rollouts: reward, gold accuracy by the
//     world's answers, KL to the SFT model, reply length, hedging and refusals)
//     and its held-out instruction accuracy before and after;
//   GRPO with verifiable rewards on addition and list reversal, with the
//     recipe's token-mean loss and with the original per-sequence mean
//     (grpo-seqmean): held-out accuracy by kind and reply length;
//   RLAIF: a judge (the annealed model taught to judge, recipes/judge-world.yaml)
//     and the reward model asked about the same held-out question with its
//     right answer and a wrong one; agreement with the truth by period.
// The runs are Demo.relay's; the tables read their metrics and lineage.
// Leaves out: GRPO with the judge as its reward, LoRA variants.

import Foundation
import StrataCore
import StrataData
import StrataEval
import StrataRL

extension Demo {
    /// The RL runs, in order; false when one was interrupted.
    static func rlRelay(_ cx: Context) throws -> Bool {
        try stage(.ppo, from: .sft, cx) && stage(.ppoNoKL, from: .sft, cx) && stage(.grpo, from: .sft, cx)
            && stage(.grpoSequence, from: .sft, cx) && stage(.judge, from: .anneal, cx) && stage(.ppoJudge, from: .sft, cx)
    }

    /// A run's metrics lines (the `extra` values: the RL stages' monitors).
    static func rlMetrics(_ cx: Context, _ run: DemoRun) throws -> [[String: Double]] {
        let url = cx.runDir(run).appendingPathComponent("metrics.jsonl")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw StrataError.io("demo RL table", "\(url.path) is missing", fix: "run strata demo again (finished stages are skipped)")
        }
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").compactMap { line in
            try StrataJSON.decode(MetricsRecord.self, from: Data(line.utf8), file: url.path).extra
        }
    }

    /// Mean of `key` over the first and the last quarter of the lines that have it.
    static func firstLast(_ rows: [[String: Double]], _ key: String) -> (first: Double, last: Double)? {
        let v = rows.compactMap { $0[key] }
        guard !v.isEmpty else { return nil }
        let q = max(1, v.count / 4)
        return (v.prefix(q).reduce(0, +) / Double(q), v.suffix(q).reduce(0, +) / Double(q))
    }

    static func lineageEvaluations(_ cx: Context, _ run: DemoRun) throws -> [String: [String: Double]] {
        try CheckpointLineage.read(directory: try TrainingCheckpoint.resolve(cx.runDir(run).path).url).lineage.head?.evaluations ?? [:]
    }

    /// PPO with and without the KL penalty, and against the AI judge.
    static func ppoTable(_ cx: Context) throws -> String {
        func arrow(_ p: (first: Double, last: Double)?, _ f: String) -> String {
            p.map { String(format: "\(f) → \(f)", $0.first, $0.last) } ?? "-"
        }
        var rows: [[String]] = []
        for run in [DemoRun.ppo, .ppoNoKL, .ppoJudge] {
            let m = try rlMetrics(cx, run), ev = try lineageEvaluations(cx, run)
            let source = try cx.recipes.load(run).ppo?.rewards.first.map { $0.type == "judge" ? "judge" : "reward model" } ?? "-"
            let beta = try cx.recipes.load(run).ppo.map { $0.klCoef == 0 ? "0" : String(format: "%g%@", $0.klCoef, $0.klTarget == nil ? "" : " adaptive") } ?? "-"
            func pct(_ p: (first: Double, last: Double)?) -> (first: Double, last: Double)? { p.map { (100 * $0.first, 100 * $0.last) } }
            let acc = [ev["instruction_before"]?["instr_acc"], ev["instruction"]?["instr_acc"]].map { $0.map { String(format: "%.1f%%", 100 * $0) } ?? "-" }
            rows.append([run.name, source, beta, arrow(firstLast(m, "reward"), "%.2f"), arrow(pct(firstLast(m, "gold_score")), "%.0f%%"),
                         arrow(firstLast(m, "objective/kl"), "%.1f"), arrow(firstLast(m, "completions/mean_length"), "%.1f"),
                         arrow(pct(firstLast(m, "hedging_rate")), "%.0f%%"), arrow(pct(firstLast(m, "refusal_rate")), "%.0f%%"),
                         "\(acc[0]) → \(acc[1])"])
        }
        let header = ["run", "reward from", "β", "reward", "gold", "KL", "reply tokens", "hedging", "refusals", "held-out instr acc"]
        return Demo.render(header: header, rows: rows)
            + "training rollouts on the fact prompts, mean of the first → last quarter; reward = the score of the run's reward source "
            + "(the judge's: a reply's mean log-probability as its own answer); gold = replies right by the world's answer; KL to the "
            + "SFT model (nats per reply); held-out instr acc: greedy replies before → after\n"
    }

    /// GRPO on addition and list reversal: held-out accuracy by kind and reply length, per loss aggregation.
    static func grpoTable(_ cx: Context) throws -> String {
        func pct(_ v: Double?) -> String { v.map { String(format: "%.1f%%", 100 * $0) } ?? "-" }
        func num(_ v: Double?) -> String { v.map { String(format: "%.1f", $0) } ?? "-" }
        var rows: [[String]] = []
        for run in [DemoRun.grpo, .grpoSequence] {
            let ev = try lineageEvaluations(cx, run), m = try rlMetrics(cx, run)
            let before = ev["instruction_before"] ?? [:], after = ev["instruction"] ?? [:]
            let loss = try cx.recipes.load(run).grpo?.lossType.rawValue ?? "-"
            let len = firstLast(m, "completions/mean_length"), reward = firstLast(m, "reward")
            rows.append([run.name, loss,
                         "\(pct(before["instr_acc.add"])) → \(pct(after["instr_acc.add"]))",
                         "\(pct(before["instr_acc.reverse"])) → \(pct(after["instr_acc.reverse"]))",
                         reward.map { String(format: "%.2f → %.2f", $0.first, $0.last) } ?? "-",
                         len.map { String(format: "%.1f → %.1f", $0.first, $0.last) } ?? "-",
                         "\(num(before["instr_len"])) → \(num(after["instr_len"]))"])
        }
        let header = ["run", "loss", "add (held-out)", "reverse (held-out)", "train reward", "train reply tokens", "held-out reply tokens"]
        return Demo.render(header: header, rows: rows)
            + "held-out: greedy replies to unseen addition and reversal tasks, before → after; train columns: first → last quarter of the rollouts\n"
    }

    /// Held-out before-cutoff agreement pairs scored (a seeded subset keeps the demo's time bounded); every
    /// after-cutoff pair is scored, since the world has few after-cutoff facts.
    static let agreementPairsBefore = 400

    /// RLAIF: how often the judge and the reward model prefer the right answer to a wrong one, by period.
    static func judgeTable(_ cx: Context) throws -> String {
        let qa = try ChatStage.readQA(cx.world.appendingPathComponent("qa.jsonl"))
        let all = WorldJudgeData.agreementPairs(qa: qa)
        var before = all.filter { $0.period != "after" }
        var rng = StrataRNG(seed: 0x1D6E)
        rng.shuffle(&before)
        let candidates = Array(before.prefix(agreementPairsBefore)) + all.filter { $0.period == "after" }
        let judgeCkpt = try TrainingCheckpoint.resolve(cx.runDir(.judge).path)
        let jl = try TrainingCheckpoint.load(judgeCkpt)
        func judge(_ verdict: JudgeTemplate.Verdict) throws -> JudgeSource {
            var t = WorldJudgeData.template
            t.verdict = verdict
            return try JudgeSource(model: jl.model, tokenizer: jl.tokenizer, template: t, checkpoint: jl.id, sha256: jl.contentHash,
                                   questions: .both)
        }
        let judges = [try judge(.answerWord), try judge(.likelihood)]
        let asked = candidates.map { PreferencePair.chat($0.question, chosen: $0.right, rejected: $0.wrong) }
        let fit = try JudgeAgreement.fits(judges: judges, pairs: asked), kept = candidates.indices.filter { fit[$0] }
        let pairs = kept.map { candidates[$0] }, asPairs = kept.map { asked[$0] }
        let prompts = pairs.map { PromptRecord.chat([ChatMessage(.user, $0.question)]) }
        func items(_ replies: [String]) -> [RewardItem] {
            zip(prompts, replies).map { RewardItem(prompt: $0, reply: $1, replyTokens: 0, finish: .endOfTurn) }
        }
        let rmLoaded = try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(cx.runDir(.reward).path))
        guard let rm = rmLoaded.reward else {
            throw StrataError(.state, "demo RLAIF table", "\(cx.runDir(.reward).path) holds no reward model", fix: "remove it and run strata demo again")
        }
        let rmSource = try RewardModelSource(model: rm, tokenizer: rmLoaded.tokenizer, checkpoint: rmLoaded.id, sha256: rmLoaded.contentHash)
        let rmMargins = zip(try rmSource.score(items(pairs.map(\.right))), try rmSource.score(items(pairs.map(\.wrong)))).map { $0 - $1 }
        let words = try JudgeAgreement.margins(judge: judges[0], pairs: asPairs)
        let likelihood = try JudgeAgreement.margins(judge: judges[1], pairs: asPairs)
        let columns = [("reward_model", rmMargins), ("judge_single", words.single), ("judge_pair", words.pair), ("judge_likelihood", likelihood.pair)]
        var metrics: [String: Double] = [:], rows: [[String]] = []
        let periods = pairs.map(\.period)
        let byColumn = columns.map { JudgeAgreement.shares($0.1, groups: periods) }
        for (r, row) in byColumn[0].enumerated() {
            let values = byColumn.map { $0[r].share }
            for (c, v) in zip(columns, values) { metrics["agreement.\(c.0).\(row.group)"] = v }
            metrics["agreement.pairs.\(row.group)"] = Double(row.pairs)
            rows.append([row.group, "\(row.pairs)"] + values.map { $0.isNaN ? "-" : String(format: "%.1f%%", 100 * $0) })
        }
        let left = candidates.count - pairs.count
        metrics["agreement.pairs_too_long"] = Double(left)
        try TrainingCheckpoint.recordEvaluation(judgeCkpt.url, name: "judge_agreement", metrics: metrics)
        let leftOut = left == 0 ? "" : "; \(left) pair\(left == 1 ? "" : "s") left out: the judging chat exceeds the judge's \(jl.model.contextLength) positions"
        return Demo.render(header: ["facts", "pairs", "reward model", "judge A/B (one reply)", "judge A/B (pair)", "judge likelihood"], rows: rows)
            + "held-out questions with their right answer and a wrong value of the same relation: how often each scorer prefers the "
            + "right one (chance 50%); the judge is the annealed model taught to answer first and judge (recipes/judge-world.yaml): "
            + "asked for A/B after its own answer, or scored by the reply's likelihood as its own answer" + leftOut + "\n"
    }
}
