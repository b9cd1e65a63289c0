// `strata lineage CHECKPOINT [--json]`: how a checkpoint was trained — the chain of
// stages with parents, data, compute, evaluations and events, as the demo prints
// it; `--json` prints lineage.json with recorded evaluations merged. Thin:
// CheckpointLineage and Lineage.summary (StrataTrain). Leaves out: diffing two chains.

import ArgumentParser
import Foundation
import StrataCore
import StrataTrain

struct LineageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lineage",
        abstract: "Show how a checkpoint was trained: its chain of stages from random init or an outside checkpoint.")

    @Argument(help: "Checkpoint directory, or a run directory (its newest checkpoint).") var checkpoint: String
    @Flag(help: "Print the lineage as JSON (lineage.json with recorded evaluations merged).") var json = false

    func run() throws {
        let c = try CheckpointLineage.load(checkpoint)
        if json {
            print(String(decoding: try StrataJSON.encode(c.lineage), as: UTF8.self))
            return
        }
        print("checkpoint: \(c.directory.path)\n")
        print(c.lineage.summary(), terminator: "")
        let others = c.links().enumerated().flatMap { i, links in
            links.filter { $0.role != .parent && $0.role != .reference }.map { (c.lineage.entries[i], $0) }
        }
        for (entry, link) in others {
            print("   \(entry.stage.rawValue): \(link.role.rawValue) `\(link.id ?? "?")` (sha256 \(link.sha256?.prefix(12) ?? "?"))")
        }
    }
}
