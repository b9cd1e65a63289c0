// CheckpointLineage: what the card, `strata lineage` and the run report read
// from one checkpoint without loading its weights — lineage.json with recorded
// evaluations merged in, the raw lineage JSON (for model links the typed entry
// does not name yet: reward models, judges), and config.json. Accepts a
// checkpoint directory, a run directory (its newest checkpoint with a lineage) or
// any directory holding lineage.json.
// Leaves out: verifying weights against the manifest (`strata model verify` does).

import Foundation
import StrataCore

public struct CheckpointLineage: Sendable {
    /// The checkpoint directory read.
    public var directory: URL
    /// lineage.json with evaluations.json merged into the head entry.
    public var lineage: Lineage
    /// lineage.json as plain JSON (entries keep fields this version of Strata does not model).
    public var raw: JSONValue
    /// config.json, when present.
    public var config: JSONValue?

    public init(directory: URL, lineage: Lineage, raw: JSONValue = .null, config: JSONValue? = nil) {
        self.directory = directory
        self.lineage = lineage
        self.raw = raw
        self.config = config
    }

    /// Reads the checkpoint at `path` (see the header for what `path` may be).
    public static func load(_ path: String) throws -> CheckpointLineage {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let fm = FileManager.default
        guard fm.fileExists(atPath: url.path) else {
            throw StrataError.io("read lineage of \(path)", "no such file or directory",
                                 fix: "pass a checkpoint directory (runs/NAME/checkpoints/step-NNNNNNN) or a run directory (runs/NAME)")
        }
        if fm.fileExists(atPath: url.appendingPathComponent(Lineage.fileName).path) { return try read(directory: url) }
        if let newest = try newestCheckpoint(in: url) { return try read(directory: newest) }
        throw StrataError.io("read lineage of \(path)", "there is no \(Lineage.fileName) there, nor a checkpoints/step-* directory holding one",
                             fix: "pass a checkpoint written by Strata (an outside checkpoint has no lineage until a stage starts from it)")
    }

    /// The checkpoint directory `dir` itself: its lineage.json must exist.
    public static func read(directory dir: URL) throws -> CheckpointLineage {
        let lineageURL = dir.appendingPathComponent(Lineage.fileName)
        let lineage = try TrainingCheckpoint.lineageWithEvaluations(dir)
        let raw = try StrataJSON.read(JSONValue.self, at: lineageURL)
        let configURL = dir.appendingPathComponent("config.json")
        let config = FileManager.default.fileExists(atPath: configURL.path) ? try StrataJSON.read(JSONValue.self, at: configURL) : nil
        return CheckpointLineage(directory: dir, lineage: lineage, raw: raw, config: config)
    }

    /// Checkpoint directories (`step-*` holding lineage.json) under `run`/checkpoints or `run`, oldest first.
    public static func checkpointDirectories(in run: URL) -> [URL] {
        let fm = FileManager.default
        for root in [run.appendingPathComponent("checkpoints"), run] {
            guard let names = try? fm.contentsOfDirectory(atPath: root.path) else { continue }
            let steps = names.filter { $0.hasPrefix("step-") && !$0.contains(".tmp") }.sorted()
            let dirs = steps.map { root.appendingPathComponent($0) }
            if !dirs.isEmpty { return dirs }
        }
        return []
    }

    /// The newest checkpoint directory of a run that has a lineage.json, if any.
    static func newestCheckpoint(in run: URL) throws -> URL? {
        checkpointDirectories(in: run).last { FileManager.default.fileExists(atPath: $0.appendingPathComponent(Lineage.fileName).path) }
    }

    /// Links of every entry to other models: parent, reference, and any {id, sha256} field of the raw entry.
    public func links() -> [[ModelLink]] {
        let rawEntries = raw["entries"]?.arrayValue ?? []
        return lineage.entries.enumerated().map { i, e in
            ModelLink.links(of: e, raw: i < rawEntries.count ? rawEntries[i] : nil)
        }
    }
}

/// An edge from a model used by a stage to the checkpoint the stage produced.
public struct ModelLink: Equatable, Sendable {
    /// The part a model played: parent, reference, reward_model, judge, or another lineage field's name.
    public struct Role: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { rawValue = value }
        public static let parent: Role = "parent"
        public static let reference: Role = "reference"
        public static let rewardModel: Role = "reward_model"
        public static let judge: Role = "judge"
    }

    public var role: Role
    /// The source model: nil for random initialisation.
    public var id: String?
    public var sha256: String?

    public init(role: Role, id: String?, sha256: String?) {
        self.role = role
        self.id = id
        self.sha256 = sha256
    }

    /// Parent and reference from the typed entry, plus every other field of `raw` shaped {id, sha256}
    /// (or an array of them), so links added to lineage later (reward models, judges) show without a change here.
    public static func links(of e: LineageEntry, raw: JSONValue?) -> [ModelLink] {
        var out: [ModelLink]
        switch e.parent {
        case .randomInit: out = [ModelLink(role: .parent, id: nil, sha256: nil)]
        case let .checkpoint(id, sha): out = [ModelLink(role: .parent, id: id, sha256: sha)]
        }
        if case let .checkpoint(id, sha) = e.reference { out.append(ModelLink(role: .reference, id: id, sha256: sha)) }
        guard case let .object(fields)? = raw else { return out }
        for key in fields.keys.sorted() where key != "parent" && key != "reference" {
            let values = fields[key]?.arrayValue ?? [fields[key]!]
            for v in values {
                if let id = v["id"]?.stringValue, let sha = v["sha256"]?.stringValue {
                    out.append(ModelLink(role: Role(rawValue: key), id: id, sha256: sha))
                }
            }
        }
        return out
    }
}
