// `strata report RUN_DIR... -o report.html`: one self-contained HTML page of the
// runs' curves, lineage graph, evaluations and events. Parts that cannot be read
// are marked missing in the page and listed as warnings here (exit status 0).
// Thin: RunReport (StrataTrain). Leaves out: serving the page.

import ArgumentParser
import Foundation
import StrataCore
import StrataTrain

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report",
        abstract: "Write an HTML report (curves, lineage graph, evaluations) for one or more run directories.")

    @Argument(help: "Run directories (each holds metrics.jsonl and checkpoints/).") var runs: [String] = []
    @Option(name: .shortAndLong, help: "The HTML file to write.") var output = "report.html"
    @Option(help: "Page title.") var title = "Strata run report"

    func run() throws {
        let report = try RunReport.write(runDirectories: runs.map { URL(fileURLWithPath: $0) }, to: URL(fileURLWithPath: output), title: title)
        for w in report.warnings { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
        print("wrote \(output) (\(report.runs.count) runs\(report.warnings.isEmpty ? "" : ", \(report.warnings.count) warnings: parts marked missing"))")
    }
}
