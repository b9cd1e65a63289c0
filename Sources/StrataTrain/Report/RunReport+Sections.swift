// The run report's sections: runs, lineage graph and its edges, training curves
// (loss with event markers, LR, grad norm, tokens/s) on one axis, validation per
// source, the runs' extra metrics (chart set driven by the keys present), the
// evaluation table per checkpoint, and events. A section with nothing to show
// says so; tables are emitted only with rows.
// Leaves out: the page frame and styles (RunReport.swift).

import Foundation

extension RunReport {
    /// Shared x axis: tokens through the chain when every run with metrics logs tokens_seen, else steps within the stage.
    var usesTokenAxis: Bool {
        let logged = runs.filter { !$0.metrics.isEmpty }
        return !logged.isEmpty && logged.allSatisfy { $0.metrics.contains { $0.tokensSeen != nil } }
    }

    var xLabel: String { usesTokenAxis ? "tokens through the chain (each stage starts where its parent ended)" : "step within the stage" }

    func xs(_ run: RunData) -> [Double] { usesTokenAxis ? run.tokenPositions() : run.metrics.map { Double($0.step) } }

    func chart(_ title: String, y yLabel: String, markers: Bool = false, value: (MetricsRecord) -> Double?) -> String? {
        var series = [ChartSeries](), marks = [ChartMarker]()
        for (i, run) in runs.enumerated() where !run.metrics.isEmpty {
            let x = xs(run)
            let points = zip(x, run.metrics).compactMap { px, r in value(r).map { (x: px, y: Optional($0)) } }
            if !points.isEmpty { series.append(ChartSeries(label: run.name, color: color(i), points: points)) }
            if markers { marks += eventMarkers(run, x: x, color: color(i), value: value) }
        }
        let axis = usesTokenAxis ? { (v: Double) in Lineage.count(v) } : { (v: Double) in String(format: "%.0f", v) }
        return SVGChart(title: title, xLabel: xLabel, yLabel: yLabel, series: series, markers: marks, xFormat: axis).html()
    }

    /// Spike skips and rollbacks from metrics.jsonl events, placed on the curve.
    func eventMarkers(_ run: RunData, x: [Double], color: String, value: (MetricsRecord) -> Double?) -> [ChartMarker] {
        var out = [ChartMarker]()
        for (px, r) in zip(x, run.metrics) {
            for e in r.events {
                let kind: ChartMarker.Kind
                if e.hasPrefix("spike:") || e.hasPrefix("skip:") { kind = .spike } else if e.hasPrefix("rollback:") { kind = .rollback } else { continue }
                out.append(ChartMarker(kind: kind, x: px, y: value(r), color: color, label: "\(run.name) step \(r.step): \(e)"))
            }
        }
        return out
    }

    /// The stage, and for the masked-LM encoder its family and objective ("pretrain (roberta, masked_lm)").
    func stageText(_ head: LineageEntry?) -> String {
        guard let head else { return "—" }
        let objective = head.recipe.value(at: "train.objective")?.stringValue
        guard objective == TrainObjective.maskedLM.rawValue else { return head.stage.rawValue }
        return "\(head.stage.rawValue) (\(head.recipe.value(at: "model.family")?.stringValue ?? "roberta"), \(objective!))"
    }

    func runsSection() -> String {
        var rows = ""
        for (i, run) in runs.enumerated() {
            let head = run.checkpoint?.lineage.head
            let last = run.metrics.last { $0.loss != nil }
            rows += "<tr><td><span class=\"swatch\" style=\"background:\(color(i))\"></span>\(HTML.escape(run.name))</td>"
                + "<td>\(HTML.escape(stageText(head)))</td>"
                + "<td>\(head.map { "<code>\(HTML.escape($0.checkpointID))</code>" } ?? "<em>missing</em>")</td>"
                + "<td>\(head.map { "<code>\(HTML.escape(ModelCard.parentText($0.parent)))</code>" } ?? "—")</td>"
                + "<td class=\"num\">\(run.metrics.last.map { String($0.step) } ?? "—")</td>"
                + "<td class=\"num\">\(head.map { Lineage.count(Double($0.compute.tokens)) } ?? "—")</td>"
                + "<td class=\"num\">\(last?.loss.map { String(format: "%.4f", $0) } ?? "—")</td></tr>"
        }
        return "<section id=\"runs\"><h2>Runs</h2><div class=\"scroll\"><table><thead><tr><th>run</th><th>stage</th><th>checkpoint</th>"
            + "<th>started from</th><th class=\"num\">last step</th><th class=\"num\">stage tokens</th><th class=\"num\">last loss</th></tr>"
            + "</thead><tbody>\(rows)</tbody></table></div></section>"
    }

    func lineageSection() -> String {
        let graph = LineageGraph(runs.compactMap(\.checkpoint))
        var out = "<section id=\"lineage\"><h2>Lineage</h2>"
        guard let svg = graph.svg() else { return out + RunReport.missing("no run has a readable checkpoint lineage") + "</section>" }
        out += "<p class=\"note\">Solid: parent checkpoint. Dashed blue: frozen reference. Dotted: reward model or judge.</p>" + svg
        let rows = graph.edges.map { "<tr><td>\(HTML.escape($0.role.rawValue))</td><td><code>\(HTML.escape($0.from))</code></td>"
            + "<td><code>\(HTML.escape($0.to))</code></td></tr>" }.joined()
        out += "<details><summary>Edges as a table</summary><div class=\"scroll\"><table><thead><tr><th>role</th><th>from</th><th>to</th></tr>"
            + "</thead><tbody>\(rows)</tbody></table></div></details>"
        return out + "</section>"
    }

    func trainingSection() -> String {
        var out = "<section id=\"training\"><h2>Training</h2>"
        let charts: [(String, String, Bool, (MetricsRecord) -> Double?)] = [
            ("Training loss", "loss", true, { $0.loss }), ("Learning rate", "lr", false, { $0.lr }),
            ("Gradient norm (before clipping)", "grad norm", true, { $0.gradNorm }), ("Throughput", "tokens/s", false, { $0.tokensPerSecond }),
        ]
        var figures = ""
        for (title, y, marks, value) in charts {
            figures += chart(title, y: y, markers: marks, value: value) ?? RunReport.missing("\(title.lowercased()): no run logged it")
        }
        out += "<div class=\"charts\">\(figures)</div>"
        return out + "</section>"
    }

    func validationSection() -> String {
        let sources = Set(runs.flatMap { $0.metrics.flatMap { ($0.valLossBySource ?? [:]).keys } }).sorted()
        var out = "<section id=\"validation\"><h2>Validation</h2>"
        guard !sources.isEmpty else { return out + RunReport.missing("no run logged validation results") + "</section>" }
        out += "<p class=\"note\">One chart per validation source (for preference stages, their held-out metrics).</p><div class=\"charts\">"
        for s in sources { out += chart("Validation: \(s)", y: s) { $0.valLossBySource?[s] } ?? "" }
        return out + "</div></section>"
    }

    /// Known RL keys first (reward, KL, length, refusals), then every other numeric extra key, alphabetically.
    static let rlKeys = [("reward_mean", "Reward (mean)"), ("kl", "KL to the reference"), ("response_length_mean", "Response length (mean)"),
                         ("refusal_rate", "Refusal rate")]

    func extraSection() -> String {
        let keys = Set(runs.flatMap { $0.metrics.flatMap { ($0.extra ?? [:]).keys } })
        guard !keys.isEmpty else { return "" }
        let known = RunReport.rlKeys.filter { keys.contains($0.0) }
        let rest = keys.subtracting(known.map(\.0)).sorted().map { ($0, $0) }
        var out = "<section id=\"stage-metrics\"><h2>Stage metrics</h2><p class=\"note\">Each numeric key of metrics.jsonl's "
            + "<code>extra</code> that a run logs (RL reward, KL, length and refusals first when present).</p><div class=\"charts\">"
        for (key, title) in known + rest { out += chart(title, y: key, markers: false) { $0.extra?[key] } ?? "" }
        return out + "</div></section>"
    }
}
