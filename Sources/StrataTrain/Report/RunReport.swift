// RunReport: one self-contained HTML file for a set of run directories — no
// network, scripts or web fonts; every chart is SVG drawn here. It shows the
// runs, the lineage graph, loss on the chain's shared token axis with spike
// skips and rollbacks marked, validation loss per source, LR, grad norm,
// tokens/s, each stage's extra metrics (RL reward, KL, length, refusals when a
// run logs them), the evaluation table per checkpoint and the events. Parts that
// could not be read are marked missing with a warning.
// Leaves out: JavaScript interaction, live refresh, comparing runs across machines.

import Foundation
import StrataCore

public struct RunReport: Sendable {
    public var runs: [RunData]
    /// Everything the report could not read, in the order found.
    public var warnings: [ReportWarning]

    public init(runs: [RunData]) {
        self.runs = runs
        warnings = runs.flatMap(\.warnings)
    }

    /// Reads each run directory (problems become warnings, not errors).
    public static func load(runDirectories: [URL]) -> RunReport {
        RunReport(runs: runDirectories.map(RunData.load))
    }

    /// Reads the runs and writes the report to `output`. Throws only when the file cannot be written
    /// or none of the directories exists.
    @discardableResult
    public static func write(runDirectories: [URL], to output: URL, title: String = "Strata run report") throws -> RunReport {
        guard !runDirectories.isEmpty else {
            throw StrataError.config("strata report", "no run directory given", fix: "pass one or more run directories, e.g. runs/pretrain runs/sft")
        }
        let report = load(runDirectories: runDirectories)
        guard runDirectories.contains(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
            throw StrataError.io("strata report", "none of the run directories exists: " + runDirectories.map(\.path).joined(separator: ", "),
                                 fix: "pass run directories such as runs/pretrain (each holds metrics.jsonl and checkpoints/)")
        }
        do {
            try Data(report.html(title: title).utf8).write(to: output, options: .atomic)
        } catch {
            throw StrataError.io("write report \(output.path)", error.localizedDescription, fix: "check that the directory exists and is writable")
        }
        return report
    }

    static let palette = ["#4e79a7", "#f28e2b", "#e15759", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7", "#6b6b6b"]

    func color(_ runIndex: Int) -> String { RunReport.palette[runIndex % RunReport.palette.count] }

    /// The page.
    public func html(title: String = "Strata run report", generated: Date = Date()) -> String {
        var body = "<header><h1>\(HTML.escape(title))</h1><p class=\"meta\">\(runs.count) run\(runs.count == 1 ? "" : "s") · generated "
            + "\(HTML.escape(LineageEntry.timestamp(generated))) by Strata</p></header>"
        body += warningsSection() + runsSection() + lineageSection() + trainingSection() + validationSection()
        body += extraSection() + evaluationSection() + eventsSection()
        return "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            + "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            // No network, no scripts: the browser refuses anything else (and says so on the console).
            + "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">"
            + "<title>\(HTML.escape(title))</title><style>\(RunReport.css)</style></head><body><main>\(body)</main></body></html>\n"
    }

    func warningsSection() -> String {
        guard !warnings.isEmpty else { return "" }
        let items = warnings.map { "<li><strong>\(HTML.escape($0.part))</strong>: \(HTML.escape($0.message))</li>" }.joined()
        return "<section class=\"warnings\" id=\"warnings\"><h2>Warnings</h2><p>Parts below marked missing could not be read:</p>"
            + "<ul>\(items)</ul></section>"
    }

    static func missing(_ text: String) -> String { "<p class=\"missing\" role=\"note\">⚠ missing: \(HTML.escape(text))</p>" }

    static let css = """
    :root{color-scheme:light;--fg:#1d1d1f;--muted:#666;--line:#ddd}
    *{box-sizing:border-box}
    body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:#fff}
    main{max-width:1180px;margin:0 auto;padding:16px 20px 48px}
    h1{font-size:1.6rem;margin:.2rem 0}h2{font-size:1.25rem;margin:2rem 0 .6rem;border-bottom:1px solid var(--line);padding-bottom:.2rem}
    h3{font-size:1.02rem;margin:1.2rem 0 .4rem}
    .meta,.note{color:var(--muted);font-size:.9rem}
    .warnings{background:#fff6e0;border:1px solid #e8c66a;border-radius:6px;padding:4px 14px}
    .warnings h2{border:0;margin-top:.6rem}
    .missing{background:#fff6e0;border-left:4px solid #e0a800;padding:6px 10px;margin:8px 0}
    .charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,460px),1fr));gap:14px 20px}
    figure.chart{margin:0;border:1px solid var(--line);border-radius:6px;padding:8px 8px 4px}
    figcaption{font-weight:600;font-size:.95rem;margin:0 0 4px 4px}
    svg.chart{width:100%;height:auto;display:block;font-size:13px;fill:#444}
    svg.chart .grid{stroke:#ececec}svg.chart .axes line{stroke:#999}svg.chart .frame{fill:none;stroke:#999}
    svg.chart .label{font-size:13px;fill:#333}
    ul.legend{list-style:none;margin:2px 4px 4px;padding:0;display:flex;flex-wrap:wrap;gap:2px 14px;font-size:.82rem}
    .swatch{display:inline-block;width:14px;height:4px;border-radius:2px;margin:0 5px 3px 0;vertical-align:middle}
    .mark{margin-right:4px;color:#444}
    .scroll{overflow-x:auto;max-width:100%}
    table{border-collapse:collapse;font-size:.86rem;margin:6px 0}
    th,td{border-bottom:1px solid var(--line);padding:4px 9px;text-align:left;vertical-align:top}
    td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
    tr.group th{background:#f6f6f6;font-weight:600}
    code{font-size:.85em;background:#f4f4f4;padding:0 3px;border-radius:3px;word-break:break-all}
    svg.lineage{width:100%;height:auto;display:block;margin:8px 0;font-size:12px}
    svg.lineage .stage{font-weight:600;fill:#222}svg.lineage .id{fill:#555;font-size:10.5px}
    details{margin:8px 0}summary{cursor:pointer;color:#2a6fb0}
    """
}
