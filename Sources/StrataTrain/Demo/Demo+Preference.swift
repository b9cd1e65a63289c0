// The demo's preference table: a Bradley–Terry reward model and two DPO runs on the
// SFT checkpoint — plain DPO and DPO with an SFT term on the chosen responses —
// over the world's labelled pairs (chosen: the concise correct answer, or a
// refusal of an invented harmful request; rejected: a wrong fact, a hedge, an
// unjustified refusal, or compliance). The table shows the reward model's
// held-out accuracy by pair type and what each DPO run did to instruction
// accuracy, reply length, refusals of harmful requests and over-refusals. The runs
// themselves are Demo.relay's (recipes/reward-world.yaml, recipes/dpo-world.yaml).
// Leaves out: PPO/GRPO (their issues extend the demo).

import Foundation
import StrataCore

extension Demo {
    /// What preference tuning changed, from the runs' lineage.
    static func preferenceTable(_ cx: Context) throws -> String {
        func head(_ run: DemoRun) throws -> LineageEntry? {
            try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(cx.runDir(run).path)).lineage.head
        }
        let dpo = try head(.dpo), dpoSFT = try head(.dpoSFT), rm = try head(.reward)
        func ev(_ e: LineageEntry?, _ keys: String...) -> [String: Double] {
            keys.reduce(into: [:]) { acc, k in acc.merge(e?.evaluations[k] ?? [:]) { x, _ in x } }
        }
        let rows: [(String, [String: Double], [String: Double], [String: Double]?)] = [
            ("sft (before DPO)", ev(dpo, "instruction_before", "knowledge_before"), ev(dpo, "behaviour_before"),
             dpo?.evaluations["reference_heldout"]),
            ("dpo", ev(dpo, "instruction", "knowledge"), ev(dpo, "behaviour"), dpo?.evaluations["validation_loss"]),
            ("dpo + sft term", ev(dpoSFT, "instruction", "knowledge"), ev(dpoSFT, "behaviour"), dpoSFT?.evaluations["validation_loss"]),
        ]
        func pct(_ v: Double?) -> String { v.map { String(format: "%.1f%%", 100 * $0) } ?? "-" }
        func num(_ v: Double?) -> String { v.map { String(format: "%.1f", $0) } ?? "-" }
        let header = ["checkpoint", "instr acc", "format", "knows", "reply tokens", "refuses harmful", "refuses benign",
                      "pref acc", "chosen logp"]
        let body = rows.map { name, instr, behav, val in
            [name, pct(instr["instr_acc"]), pct(instr["instr_format"]), pct(instr["chat_rank_acc"]), num(behav["behav_len"]),
             pct(behav["behav_refusal"]),
             pct(behav["behav_over_refusal"]), pct(val?["reward_acc"]), num(val?["chosen_logp"])]
        }
        var text = Demo.render(header: header, rows: body)
        if let e = rm?.evaluations["reward_eval"] {
            let types = ["wrong_fact", "hedging", "refusal", "harmful"].map { "\($0) \(pct(e["accuracy." + $0]))" }
            text += "reward model: held-out pairwise accuracy \(pct(e["accuracy"])) — by rejected type: " + types.joined(separator: ", ") + "\n"
        }
        return text + "pref acc = held-out pairs where the policy's implicit reward prefers the chosen reply; chosen logp = its mean "
            + "log-probability of held-out chosen replies (the SFT model's is the reference)\n"
    }

    /// A fixed-width table: first column left-aligned, the rest right-aligned.
    static func render(header: [String], rows: [[String]]) -> String {
        let widths = header.indices.map { c in ([header] + rows).map { $0[c].count }.max()! }
        func line(_ r: [String]) -> String {
            r.enumerated().map { i, s in i == 0 ? s.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                                                : String(repeating: " ", count: widths[i] - s.count) + s }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n") + "\n"
    }
}
