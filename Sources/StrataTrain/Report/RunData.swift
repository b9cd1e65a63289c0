// RunData: what the HTML report reads from one run directory — every readable
// metrics.jsonl line (an unreadable or truncated line becomes a warning naming
// the file and line), and the newest checkpoint's lineage. A missing directory,
// metrics file or checkpoint is a warning and an empty part, never an error, so
// the report still shows the rest. Leaves out: verifying checkpoint weights.

import Foundation
import StrataCore

/// Something the report could not read; the part it concerns is shown as missing.
public struct ReportWarning: Equatable, Sendable, CustomStringConvertible {
    /// What is affected ("runs/sft metrics.jsonl line 12", "runs/dpo checkpoint").
    public var part: String
    public var message: String
    public init(part: String, message: String) { self.part = part; self.message = message }
    public var description: String { "\(part): \(message)" }
}

public struct RunData: Sendable {
    public var name: String
    public var directory: URL
    /// Readable metrics lines, in file order; empty when the file is missing.
    public var metrics: [MetricsRecord]
    /// The newest checkpoint with a lineage, if any.
    public var checkpoint: CheckpointLineage?
    public var warnings: [ReportWarning]

    /// The stage that produced the run's checkpoint.
    public var stage: Stage? { checkpoint?.lineage.head?.stage }
    /// Tokens the chain had seen before this stage (places the stage on the shared token axis).
    public var tokenOffset: Int {
        guard let c = checkpoint?.lineage.head?.compute else { return 0 }
        return c.cumulativeTokens - c.tokens
    }

    /// Reads a run directory; problems become warnings.
    public static func load(_ directory: URL) -> RunData {
        let dir = directory.standardizedFileURL
        var run = RunData(name: dir.lastPathComponent, directory: dir, metrics: [], checkpoint: nil, warnings: [])
        guard FileManager.default.fileExists(atPath: dir.path) else {
            run.warnings.append(ReportWarning(part: dir.path, message: "the run directory does not exist; its curves, evaluations and lineage are missing"))
            return run
        }
        run.readMetrics(dir.appendingPathComponent("metrics.jsonl"))
        run.readCheckpoint()
        if let id = run.checkpoint?.lineage.head?.checkpointID, let slash = id.firstIndex(of: "/") { run.name = String(id[..<slash]) }
        return run
    }

    mutating func readMetrics(_ url: URL) {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            warnings.append(ReportWarning(part: "\(name) metrics.jsonl", message: "\(url.path) is missing; no curves for this run"))
            return
        }
        for (i, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = line.trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty else { continue }
            do {
                metrics.append(try StrataJSON.decode(MetricsRecord.self, from: Data(text.utf8), file: url.path))
            } catch {
                warnings.append(ReportWarning(part: "\(name) metrics.jsonl line \(i + 1)",
                                              message: "unreadable (truncated or not a metrics record), skipped: \(error)"))
            }
        }
    }

    mutating func readCheckpoint() {
        let dirs = CheckpointLineage.checkpointDirectories(in: directory)
        guard !dirs.isEmpty else {
            warnings.append(ReportWarning(part: "\(name) checkpoint", message: "no checkpoints/step-* directory in \(directory.path); "
                                          + "its evaluations and lineage are missing"))
            return
        }
        for dir in dirs.reversed() {
            do {
                checkpoint = try CheckpointLineage.read(directory: dir)
                return
            } catch {
                warnings.append(ReportWarning(part: "\(name) checkpoint \(dir.lastPathComponent)", message: "unreadable, skipped: \(error)"))
            }
        }
    }

    /// The token position of each record on the chain's shared axis: the stage's offset plus tokens seen
    /// (records without tokens_seen, such as validation lines, take the last count at or before their step).
    public func tokenPositions() -> [Double] {
        let known = metrics.compactMap { r in r.tokensSeen.map { (step: r.step, tokens: $0) } }
        return metrics.map { r in
            if let t = r.tokensSeen { return Double(tokenOffset + t) }
            // Binary search for the last record with tokens at or before this step (steps rise through the file).
            var lo = 0, hi = known.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if known[mid].step <= r.step { lo = mid + 1 } else { hi = mid }
            }
            return Double(tokenOffset + (lo > 0 ? known[lo - 1].tokens : 0))
        }
    }
}
