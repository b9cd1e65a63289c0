// The synthetic world's SFT conversations, written by `strata data synth` (and the
// same as the demo's): instruction tasks from the QA train split — questions about
// before-cutoff facts only, format instructions, additions, list reversals — as TRL
// "messages" JSONL in world/sft_before_cutoff.jsonl, the file recipes/sft-world.yaml
// trains on. It leaves out questions about superseded facts — a before-cutoff move,
// join or prize of a person the news reports a later one of the same relation for:
// SFT that rehearses "Jeba Kroton moved to Bragard" in the reply's own words teaches
// the stale answer over the news (docs/demo.md, round 12). Leaves out: the held-out
// tasks (InstructionTasks.build, from the test split).

import Foundation
import StrataCore
import StrataData
import StrataEval

public enum WorldChatData {
    /// The file name inside the world directory.
    public static let fileName = "sft_before_cutoff.jsonl"
    /// Tasks per kind by default (the demo's `sftTasksPerKind`).
    public static let defaultPerKind = 400

    /// Write the conversations for `qa` into `directory`; returns (file name, bytes).
    @discardableResult
    public static func write(qa: [SyntheticWorld.QAPair], seed: UInt64, perKind: Int = defaultPerKind,
                             to directory: URL) throws -> (file: String, bytes: Int) {
        guard perKind >= 1 else {
            throw StrataError.config("write \(fileName)", "\(perKind) tasks per kind", fix: "give at least 1 (default \(defaultPerKind))")
        }
        let url = directory.appendingPathComponent(fileName)
        let stale = superseded(qa)
        let tasks = InstructionTasks.training(qa: qa.filter { !stale.contains($0.factID) }, seed: seed, perKind: perKind, periods: ["before"])
        let text = try InstructionTasks.trlJSONL(tasks)
        do { try text.write(to: url, atomically: true, encoding: .utf8) } catch {
            throw StrataError.io("write \(url.path)", "\(error)", fix: "check that \(directory.path) exists and is writable")
        }
        return (fileName, text.utf8.count)
    }

    /// Fact ids of before-cutoff pairs whose subject has an after-cutoff pair of the same relation: an earlier move,
    /// join or prize that the news follows with a later one. Their questions stay in qa.jsonl (train split) but
    /// not in the SFT conversations. Measured on the demo's seed-0 world (stop 31): the SFT model answered 1 of
    /// 10 after-cutoff questions right whose subject's earlier event SFT had practised, against 5 of 10 otherwise,
    /// and 9 of its 14 wrong replies named that earlier value.
    public static func superseded(_ qa: [SyntheticWorld.QAPair]) -> Set<String> {
        struct Key: Hashable { var subject: String, relation: String }
        let later = Set(qa.filter { $0.period == "after" }.map { Key(subject: $0.subject, relation: $0.relation) })
        return Set(qa.filter { $0.period == "before" && later.contains(Key(subject: $0.subject, relation: $0.relation)) }.map(\.factID))
    }
}
