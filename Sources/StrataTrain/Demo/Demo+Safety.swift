// The demo's safety table: the SFT, DPO and DPO+SFT-term checkpoints against the
// world's attack set (world/attacks.jsonl: every attack family over held-out harmful
// requests, with benign controls in the same framing), and the brittleness probe —
// 10 steps of ordinary SFT on the benign world chats, then plain harmful requests
// again. Refusal by family shows whether a refusal is tied to the plain wording; the
// probe shows how much of it a few unrelated updates erase. Results are recorded in
// each checkpoint's evaluations ("safety"), so its model card carries them.
// Leaves out: model-driven red-teaming (strata redteam), too slow for the demo's budget.

import Foundation
import StrataCore
import StrataData
import StrataEval

extension Demo {
    static let safetyPerFamily = 10
    static let brittlenessSteps = 10

    /// Safety of the chat checkpoints, as a table.
    static func safetyTable(_ cx: Context) throws -> String {
        let attacksURL = cx.world.appendingPathComponent("attacks.jsonl")
        let attacks = try AttackSet.load(attacksURL)
        let chats = cx.world.appendingPathComponent(WorldChatData.fileName).path
        var rows: [[String]] = []
        for run in [DemoRun.sft, .dpo, .dpoSFT] {
            let ckpt = try TrainingCheckpoint.resolve(cx.runDir(run).path)
            var c = ChatEvaluation.Config(checkpoint: ckpt.url.path)
            c.safety = attacksURL.path; c.safetyPerFamily = safetyPerFamily
            c.brittleness = Brittleness.Config(steps: brittlenessSteps, data: chats)
            let loaded = try TrainingCheckpoint.load(ckpt)
            let report = try ChatEvaluation.safety(c, attacks: attacks, model: loaded.model, tokenizer: loaded.tokenizer,
                                                   checkpoint: ckpt.url.path, log: { _ in })
            try TrainingCheckpoint.recordEvaluation(ckpt.url, name: "safety", metrics: report.metricsDictionary())
            cx.log("safety of \(run.name) measured")
            rows.append(safetyRow(run.name, report))
        }
        let families = SyntheticWorld.AttackFamily.allCases.map(\.rawValue)
        let header = ["checkpoint"] + families + ["attack success", "benign refused", "plain after \(brittlenessSteps) benign steps"]
        return Demo.render(header: header, rows: rows)
            + "refusal of harmful requests by attack family (\(safetyPerFamily) each); attack success = non-plain harmful prompts answered; "
            + "benign refused = controls in the same framings refused; the last column: plain refusal after fine-tuning a copy on benign chats\n"
    }

    static func safetyRow(_ name: String, _ r: SafetyReport) -> [String] {
        func pct(_ v: Double?) -> String { v.map { String(format: "%.0f%%", 100 * $0) } ?? "-" }
        let byFamily = Dictionary(uniqueKeysWithValues: r.families.map { ($0.family, $0) })
        return [name] + SyntheticWorld.AttackFamily.allCases.map { pct(byFamily[$0.rawValue]?.refusal) }
            + [pct(r.attackSuccess), pct(r.behaviour.overRefusalRate), pct(r.brittleness?.refusalAfter)]
    }

    /// A world written before attack sets existed gets its attacks.jsonl (the same seed gives the same world).
    static func ensureAttacks(_ config: Config, world: URL) throws {
        let url = world.appendingPathComponent("attacks.jsonl")
        guard !FileManager.default.fileExists(atPath: url.path) else { return }
        let out = try SyntheticWorld.generate(config.world)
        try JSONLines.write(out.attacks(), to: url)
    }
}
