// The synthetic world's SFT conversations, written by `strata data synth` (and the
// same as the demo's): instruction tasks from the QA train split — questions about
// before-cutoff facts only, format instructions, additions, list reversals — as TRL
// "messages" JSONL in world/sft_before_cutoff.jsonl, the file recipes/sft-world.yaml
// trains on. Leaves out: the held-out tasks (InstructionTasks.build, from the test split).

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
        let tasks = InstructionTasks.training(qa: qa, seed: seed, perKind: perKind, periods: ["before"])
        let text = try InstructionTasks.trlJSONL(tasks)
        do { try text.write(to: url, atomically: true, encoding: .utf8) } catch {
            throw StrataError.io("write \(url.path)", "\(error)", fix: "check that \(directory.path) exists and is writable")
        }
        return (fileName, text.utf8.count)
    }
}
