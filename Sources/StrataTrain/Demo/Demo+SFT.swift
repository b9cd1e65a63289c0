// The demo's post-training leg: supervised fine-tuning of the annealed model on
// question/answer conversations about before-cutoff facts only (from the QA
// train split), then the instruction table — accuracy per task kind and, for fact
// questions, per period — for the annealed and the SFT checkpoint, beside the
// knowledge probes. It measures the claim that SFT teaches the format of answers,
// not new facts. The training conversations are WorldChatData's (written with the world).
// Leaves out: preference tuning (Demo+Preference.swift).

import Foundation
import StrataCore
import StrataData
import StrataModel
import StrataEval

extension Demo {
    /// Instruction accuracy before and after SFT, from the SFT checkpoint's lineage.
    static func instructionTable(sftRun: URL, baseRun: URL) throws -> String {
        let head = try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(sftRun.path)).lineage.head
        let base = try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(baseRun.path)).lineage.head
        func merged(_ entry: LineageEntry?, _ a: String, _ b: String) -> [String: Double]? {
            (entry?.evaluations[a]).map { $0.merging(entry?.evaluations[b] ?? [:]) { x, _ in x } }
        }
        let sft = merged(head, "instruction", "knowledge")
        let rows: [(String, [String: Double]?)] = [("anneal (before SFT)", merged(head, "instruction_before", "knowledge_before")),
                                                  ("sft (from anneal)", sft),
                                                  ("sft-base (from pretrain)", merged(base, "instruction", "knowledge"))]
        let cols: [(String, String)] = [("all", "instr_acc"), ("format", "instr_format"), ("fact:before", "instr_acc.fact.before"),
                                        ("fact:after", "instr_acc.fact.after"), ("one_word", "instr_acc.one_word"),
                                        ("json", "instr_acc.json"), ("add", "instr_acc.add"), ("reverse", "instr_acc.reverse"),
                                        ("reply tokens", "instr_len"), ("knows:before", "chat_rank_acc.before"),
                                        ("knows:after", "chat_rank_acc.after")]
        let body = rows.map { name, m in
            [name] + cols.map { _, key in
                guard let v = m?[key] else { return "-" }
                return key == "instr_len" ? String(format: "%.1f", v) : String(format: "%.1f%%", 100 * v)
            }
        }
        return render(header: ["checkpoint"] + cols.map(\.0), rows: body)
            + "format = replies in the asked-for shape (one word, JSON with \"answer\", a number, a list...), right or wrong; "
            + "knows = held-out fact questions whose answer the model ranks above its distractors as the reply (chance 25%)\n"
            + guessingNote(sft)
    }

    /// What a reply naming a value of the asked relation at random would score on the fact questions (the world's
    /// value pools are small: four prizes, eight cities), from the evaluation's instr_chance metrics.
    static func guessingNote(_ m: [String: Double]?) -> String {
        guard let before = m?["instr_chance.fact.before"], let after = m?["instr_chance.fact.after"] else { return "" }
        return String(format: "guessing = a reply naming one of the world's values of the asked kind at random would be right "
                      + "for %.1f%% of the before-cutoff and %.1f%% of the after-cutoff fact questions\n", 100 * before, 100 * after)
    }

    /// A few held-out instructions answered by the SFT model (greedy).
    static func showChatSamples(sftRun: URL, world: URL, log: (String) -> Void) throws {
        let loaded = try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(sftRun.path))
        let qa = try ChatStage.readQA(world.appendingPathComponent("qa.jsonl"))
        let tasks = InstructionTasks.build(qa: qa, seed: 99, perKind: 1)
        let report = try InstructionEval.evaluate(model: loaded.model, tokenizer: loaded.tokenizer, tasks: tasks,
                                                  config: .init(maxNewTokens: 24))
        log("\n== held-out instructions answered by \(loaded.checkpoint.url.path)")
        for r in report.results {
            log("  [\(r.kind.rawValue)\(r.period.map { ", " + $0 } ?? "")] \(r.instruction)\n    → \(r.reply)   "
                + (r.correct ? "(correct)" : "(expected: \(r.expected))"))
        }
    }
}
