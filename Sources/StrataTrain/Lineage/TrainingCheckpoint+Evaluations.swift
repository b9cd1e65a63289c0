// Evaluations recorded after a checkpoint was written. lineage.json is covered by
// the checkpoint's manifest and never rewritten; `strata eval` (or a later stage)
// adds its results to evaluations.json beside it, written atomically, and loading
// a checkpoint merges them into the head entry of its lineage. A stage started
// from the checkpoint copies the merged lineage, so the results become part of
// every descendant's permanent record.
// Leaves out: signing evaluations.

import Foundation
import StrataCore
import StrataCheckpoint

extension TrainingCheckpoint {
    public static let evaluationsFile = "evaluations.json"

    /// Evaluations recorded for the checkpoint in `dir` (name → metric → value).
    public static func recordedEvaluations(_ dir: URL) throws -> [String: [String: Double]] {
        let url = dir.appendingPathComponent(evaluationsFile)
        guard FileManager.default.fileExists(atPath: url.path) else { return [:] }
        return try StrataJSON.read([String: [String: Double]].self, at: url)
    }

    /// Add (or replace) evaluation `name` for the checkpoint in `dir`.
    public static func recordEvaluation(_ dir: URL, name: String, metrics: [String: Double]) throws {
        var all = try recordedEvaluations(dir)
        all[name] = metrics.filter { $0.value.isFinite }
        try FileIO.writeAtomically(try StrataJSON.encode(all), to: dir.appendingPathComponent(evaluationsFile),
                                   op: "record evaluation '\(name)' in \(dir.path)")
    }

    /// The checkpoint's lineage with recorded evaluations merged into its head entry.
    static func lineageWithEvaluations(_ dir: URL) throws -> Lineage {
        let url = dir.appendingPathComponent(Lineage.fileName)
        var lineage = FileManager.default.fileExists(atPath: url.path) ? try Lineage.read(at: url) : Lineage()
        let extra = try recordedEvaluations(dir)
        if !extra.isEmpty, !lineage.entries.isEmpty {
            lineage.entries[lineage.entries.count - 1].evaluations.merge(extra) { $1 }
        }
        return lineage
    }
}
