// The knowledge cutoff, read from a lineage: which period each data source
// covers (a source named or stored as "...before..." / "...after..." the cutoff,
// as the synthetic world writes them; a world.json beside the data gives the
// cutoff year), the latest period in pretraining-level data, the probes'
// accuracy either side of the cutoff, and whether any post-training data lies
// past it. Unlabelled sources are reported as unknown, never guessed.
// Leaves out: dates inside documents (Strata records no per-document dates).

import Foundation
import StrataCore

public enum DataPeriod: String, Sendable, Comparable {
    case unknown, before, after

    public static func < (a: DataPeriod, b: DataPeriod) -> Bool {
        let order: [DataPeriod] = [.unknown, .before, .after]
        return order.firstIndex(of: a)! < order.firstIndex(of: b)!
    }

    /// The period a source covers, from the words of its name and file name.
    public static func of(_ record: DataRecord) -> DataPeriod {
        let file = URL(fileURLWithPath: record.path).deletingPathExtension().lastPathComponent
        let words = Set((record.name + " " + file).lowercased().split { !$0.isLetter }.map(String.init))
        if words.contains("after") { return .after }
        if words.contains("before") { return .before }
        return .unknown
    }
}

public struct KnowledgeCutoff: Sendable {
    /// A data source of one stage and its period.
    public struct Source: Sendable {
        public var stage: Stage
        public var record: DataRecord
        public var period: DataPeriod
    }

    /// Sources of pretraining-level stages (pretrain, continue, anneal).
    public var pretraining: [Source]
    /// Sources of post-training stages.
    public var postTraining: [Source]
    /// The cutoff year, when a world.json beside the data states it.
    public var cutoffYear: Int?
    /// The newest entry with probe accuracy per period: (stage index, accuracy before, accuracy after).
    public var probes: (entry: Int, before: Double?, after: Double?)?

    public init(_ lineage: Lineage) {
        var pre = [Source](), post = [Source]()
        for e in lineage.entries {
            let sources = e.data.map { Source(stage: e.stage, record: $0, period: DataPeriod.of($0)) }
            if StageLevel.of(e.stage) == .postTraining { post += sources } else { pre += sources }
        }
        pretraining = pre
        postTraining = post
        cutoffYear = (pre + post).lazy.compactMap { KnowledgeCutoff.worldCutoffYear(near: $0.record.path) }.first
        probes = nil
        for (i, e) in lineage.entries.enumerated().reversed() {
            for name in e.evaluations.keys.sorted() where !name.hasSuffix("_before") {
                let m = e.evaluations[name] ?? [:]
                if m["probe_acc.before"] != nil || m["probe_acc.after"] != nil {
                    probes = (i, m["probe_acc.before"], m["probe_acc.after"])
                    return
                }
            }
        }
    }

    /// The latest period among pretraining-level sources (unknown when none is labelled).
    public var latestPretrainingPeriod: DataPeriod { pretraining.map(\.period).max() ?? .unknown }

    /// Post-training sources labelled past the cutoff, and those whose period is unknown.
    public var postTrainingPastCutoff: [Source] { postTraining.filter { $0.period == .after } }
    public var postTrainingUnlabelled: [Source] { postTraining.filter { $0.period == .unknown } }

    /// `cutoff_year` from a world.json in the data file's directory, if there is one.
    static func worldCutoffYear(near path: String) -> Int? {
        let url = URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent("world.json")
        guard let data = FileManager.default.contents(atPath: url.path),
              let json = try? StrataJSON.decode(CutoffOnly.self, from: data, file: url.path) else { return nil }
        return json.cutoffYear
    }

    private struct CutoffOnly: Decodable {
        var cutoffYear: Int
        enum CodingKeys: String, CodingKey { case cutoffYear = "cutoff_year" }
    }
}
