// EvalTable: a fixed-width text table comparing evaluation reports, one row per
// checkpoint: loss per source (with the change against the row's baseline),
// ranking accuracy and exact match per probe period, and forgetting (accuracy
// drop on old-knowledge probes) and gain (on after-cutoff probes) against the
// baseline. Columns appear only for what some report measured; missing cells show "-".
// Leaves out: colour, Markdown output, per-domain columns (see the JSON report).

import Foundation

public enum EvalTable {
    /// The table plus a short legend (probe counts, chance level, sign conventions).
    public static func render(_ reports: [EvalReport]) -> String {
        guard !reports.isEmpty else { return "(no evaluation reports)\n" }
        let columns = self.columns(for: reports)
        let header = ["checkpoint"] + columns.map(\.title)
        let rows = reports.map { r in [r.label] + columns.map { $0.cell(r) ?? "-" } }
        let widths = header.indices.map { c in ([header] + rows).map { $0[c].count }.max()! }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { c, s in
                let pad = String(repeating: " ", count: widths[c] - s.count)
                return c == 0 ? s + pad : pad + s
            }.joined(separator: "  ")
        }
        var out = line(header) + "\n" + widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
        for r in rows { out += line(r) + "\n" }
        return out + legend(reports)
    }

    struct Column {
        var title: String
        var cell: (EvalReport) -> String?
    }

    static func columns(for reports: [EvalReport]) -> [Column] {
        var cols: [Column] = []
        var sources: [String] = []
        for r in reports { for s in r.validation where !sources.contains(s.name) { sources.append(s.name) } }
        for name in sources {
            cols.append(Column(title: "loss \(name)") { r in
                guard let s = r.validation.first(where: { $0.name == name }) else { return nil }
                let delta = r.forgetting?.loss[name].map { " (" + signed($0, digits: 3) + ")" } ?? ""
                return String(format: "%.3f", s.loss) + delta
            })
        }
        let periods = orderedPeriods(reports)
        for p in periods {
            cols.append(Column(title: "acc \(p)") { r in r.probes?.byPeriod[p].map { percent($0.accuracy) } })
        }
        if reports.contains(where: { $0.probes?.exactMatchEvaluated == true }) {
            for p in periods {
                cols.append(Column(title: "em \(p)") { r in
                    guard let probes = r.probes, probes.exactMatchEvaluated else { return nil }
                    return probes.byPeriod[p].map { percent($0.exactMatch) }
                })
            }
        }
        if reports.contains(where: { $0.forgetting?.probeAccuracy != nil }) {
            cols.append(Column(title: "forget") { r in r.forgetting?.probeAccuracy.map { points($0) } })
        }
        if reports.contains(where: { $0.forgetting?.newKnowledgeAccuracyGain != nil }) {
            cols.append(Column(title: "gain \(ProbeEval.newKnowledgePeriod)") { r in
                r.forgetting?.newKnowledgeAccuracyGain.map { points($0) }
            })
        }
        return cols
    }

    /// Periods any report has, "before" first, then "after", then the rest alphabetically.
    static func orderedPeriods(_ reports: [EvalReport]) -> [String] {
        let all = Set(reports.flatMap { $0.probes?.byPeriod.keys.map { $0 } ?? [] })
        let rank: (String) -> Int = { $0 == "before" ? 0 : $0 == ProbeEval.newKnowledgePeriod ? 1 : 2 }
        return all.sorted { rank($0) != rank($1) ? rank($0) < rank($1) : $0 < $1 }
    }

    static func legend(_ reports: [EvalReport]) -> String {
        var out = ""
        if let p = reports.first(where: { $0.probes != nil })?.probes {
            let counts = orderedPeriods([reports.first { $0.probes != nil }!]).map { "\($0) \(p.byPeriod[$0]!.count)" }
            out += "probes: \(counts.joined(separator: ", ")); chance \(percent(p.overall.chance)); "
                + "acc = answer ranked first by log-likelihood, em = greedy completion starts with the answer\n"
        }
        if reports.contains(where: { $0.forgetting != nil }) {
            out += "vs baseline: loss (change), forget = drop in accuracy on probes older than the cutoff, "
                + "gain = rise on after-cutoff probes (points)\n"
        }
        return out
    }

    static func percent(_ x: Double) -> String { String(format: "%.1f%%", 100 * x) }
    static func points(_ x: Double) -> String { signed(100 * x, digits: 1) }
    static func signed(_ x: Double, digits: Int) -> String {
        let s = String(format: "%.\(digits)f", x)
        return x >= 0 && !s.hasPrefix("-") ? "+" + s : s
    }
}
