// The run report's tables: evaluations per checkpoint (one column per run's
// newest checkpoint, one row group per evaluation, headline metrics only; every
// metric stays in lineage.json) and events (spikes, rollbacks, interrupts,
// resumes, data notes) from lineage. Empty tables are never emitted.
// Leaves out: the charts (RunReport+Sections.swift).

import Foundation

extension RunReport {
    func evaluationSection() -> String {
        let heads = runs.enumerated().compactMap { i, r in r.checkpoint?.lineage.head.map { (run: i, entry: $0) } }
        var out = "<section id=\"evaluations\"><h2>Evaluations per checkpoint</h2>"
        let names = Set(heads.flatMap { $0.entry.evaluations.keys }).sorted()
        guard !names.isEmpty else {
            return out + RunReport.missing(heads.isEmpty ? "no run has a readable checkpoint" : "no evaluation is recorded for these checkpoints")
                + "</section>"
        }
        let after = evaluationRows(names.filter { !$0.hasSuffix("_before") }, heads: heads)
        let before = evaluationRows(names.filter { $0.hasSuffix("_before") }, heads: heads)
        guard !after.isEmpty || !before.isEmpty else { return out + RunReport.missing("the recorded evaluations hold only counts") + "</section>" }
        out += "<p class=\"note\">Results recorded in each run's newest checkpoint (lineage.json and evaluations.json). "
            + "Counts and per-domain results are left out.</p>"
        let header = "<thead><tr><th>metric</th>" + heads.map { h in
            "<th class=\"num\"><span class=\"swatch\" style=\"background:\(color(h.run))\"></span>\(HTML.escape(runs[h.run].name))<br>"
                + "<code>\(HTML.escape(h.entry.checkpointID))</code></th>"
        }.joined() + "</tr></thead>"
        if !after.isEmpty { out += "<div class=\"scroll\"><table class=\"evaluations\">\(header)<tbody>\(after)</tbody></table></div>" }
        if !before.isEmpty {
            out += "<details><summary>Measured by each stage on its starting checkpoint, before training (<code>_before</code>)</summary>"
                + "<div class=\"scroll\"><table class=\"evaluations-before\">\(header)<tbody>\(before)</tbody></table></div></details>"
        }
        return out + "</section>"
    }

    /// Table rows: a group row per evaluation, then one row per shown metric with a cell per checkpoint.
    func evaluationRows(_ names: [String], heads: [(run: Int, entry: LineageEntry)]) -> String {
        var rows = ""
        for name in names {
            let metrics = Set(heads.flatMap { ($0.entry.evaluations[name] ?? [:]).keys }).filter(RunReport.shownMetric).sorted()
            guard !metrics.isEmpty else { continue }
            rows += "<tr class=\"group\"><th colspan=\"\(heads.count + 1)\">\(HTML.escape(name))</th></tr>"
            for m in metrics {
                rows += "<tr><td>\(HTML.escape(m))</td>" + heads.map { h in
                    "<td class=\"num\">\(h.entry.evaluations[name]?[m].map { String(format: "%.4g", $0) } ?? "—")</td>"
                }.joined() + "</tr>"
            }
        }
        return rows
    }

    static func shownMetric(_ key: String) -> Bool {
        Lineage.isHeadline(key) && !key.hasPrefix("forgetting.probe_em") && !key.hasPrefix("gain.probe_em")
    }

    func eventsSection() -> String {
        var rows = ""
        for (i, run) in runs.enumerated() {
            guard let head = run.checkpoint?.lineage.head else { continue }
            for e in head.events {
                rows += "<tr><td><span class=\"swatch\" style=\"background:\(color(i))\"></span>\(HTML.escape(run.name))</td>"
                    + "<td class=\"num\">\(e.step)</td><td>\(HTML.escape(e.kind.rawValue))</td><td>\(HTML.escape(e.detail))</td></tr>"
            }
        }
        var out = "<section id=\"events\"><h2>Events</h2>"
        guard !rows.isEmpty else { return out + "<p class=\"note\">No events recorded in these stages' lineage.</p></section>" }
        out += "<div class=\"scroll\"><table><thead><tr><th>run</th><th class=\"num\">step</th><th>kind</th><th>detail</th></tr></thead>"
            + "<tbody>\(rows)</tbody></table></div>"
        return out + "</section>"
    }
}

extension ModelCard {
    /// A parent as short text: its checkpoint id, or "random init".
    static func parentText(_ p: ParentRef) -> String {
        switch p {
        case .randomInit: return "random init"
        case let .checkpoint(id, _): return id
        }
    }
}
