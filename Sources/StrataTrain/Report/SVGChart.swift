// SVGChart: a line chart drawn as inline SVG for the HTML report — series as
// paths (a gap where a value is missing), axes with rounded ticks, markers for
// events (spike skips as triangles, rollbacks as dashed vertical lines, each with
// a <title> tooltip), and an HTML legend under it. Long series are reduced to the
// min and max of each bucket so spikes stay visible. Scales with its container.
// Leaves out: interactivity (no JavaScript), log axes, stacked areas.

import Foundation

struct ChartSeries {
    var label: String
    var color: String
    /// x, y pairs in drawing order; a nil y breaks the line.
    var points: [(x: Double, y: Double?)]
}

struct ChartMarker {
    enum Kind: String { case spike, rollback }
    var kind: Kind
    var x: Double
    var y: Double?
    var color: String
    var label: String
}

struct SVGChart {
    var title: String
    var xLabel: String
    var yLabel: String
    var series: [ChartSeries]
    var markers: [ChartMarker] = []
    /// Formats x tick labels (token counts, steps).
    var xFormat: (Double) -> String = { SVGChart.tick($0) }

    static let width = 720.0, height = 300.0
    static let left = 74.0, right = 16.0, top = 14.0, bottom = 44.0
    static let maxPoints = 600

    /// The figure: caption, SVG, legend. Nil when no series has a finite point (the caller marks the chart missing).
    func html() -> String? {
        let finite = series.flatMap { $0.points.compactMap { p in p.y.map { (p.x, $0) } } }.filter { $0.0.isFinite && $0.1.isFinite }
        guard !finite.isEmpty else { return nil }
        let xs = SVGChart.range(finite.map(\.0)), ys = SVGChart.range(finite.map(\.1) + markers.compactMap(\.y))
        let plotW = SVGChart.width - SVGChart.left - SVGChart.right, plotH = SVGChart.height - SVGChart.top - SVGChart.bottom
        let px = { (x: Double) in SVGChart.left + (x - xs.lo) / (xs.hi - xs.lo) * plotW }
        let py = { (y: Double) in SVGChart.top + (1 - (y - ys.lo) / (ys.hi - ys.lo)) * plotH }
        var svg = "<svg class=\"chart\" viewBox=\"0 0 \(Int(SVGChart.width)) \(Int(SVGChart.height))\" role=\"img\" "
            + "aria-label=\"\(HTML.escape(title))\" xmlns=\"http://www.w3.org/2000/svg\">"
        svg += axes(xs: xs, ys: ys, px: px, py: py)
        for s in series { svg += path(s, px: px, py: py) }
        for m in markers { svg += marker(m, px: px, py: py, ys: ys) }
        svg += "</svg>"
        var legend = series.map { "<li><span class=\"swatch\" style=\"background:\($0.color)\"></span>\(HTML.escape($0.label))</li>" }
        if markers.contains(where: { $0.kind == .spike }) { legend.append("<li><span class=\"mark\">▲</span>spike (update skipped)</li>") }
        if markers.contains(where: { $0.kind == .rollback }) { legend.append("<li><span class=\"mark\">┆</span>rollback</li>") }
        return "<figure class=\"chart\"><figcaption>\(HTML.escape(title))</figcaption>\(svg)"
            + "<ul class=\"legend\">\(legend.joined())</ul></figure>"
    }

    private func axes(xs: (lo: Double, hi: Double), ys: (lo: Double, hi: Double), px: (Double) -> Double, py: (Double) -> Double) -> String {
        let x0 = SVGChart.left, x1 = SVGChart.width - SVGChart.right, y0 = SVGChart.top, y1 = SVGChart.height - SVGChart.bottom
        var out = "<g class=\"axes\">"
        for t in SVGChart.ticks(ys.lo, ys.hi) {
            out += "<line x1=\"\(f(x0))\" y1=\"\(f(py(t)))\" x2=\"\(f(x1))\" y2=\"\(f(py(t)))\" class=\"grid\"/>"
            out += "<text x=\"\(f(x0 - 6))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(HTML.escape(SVGChart.tick(t)))</text>"
        }
        for t in SVGChart.ticks(xs.lo, xs.hi) {
            out += "<line x1=\"\(f(px(t)))\" y1=\"\(f(y1))\" x2=\"\(f(px(t)))\" y2=\"\(f(y1 + 4))\"/>"
            out += "<text x=\"\(f(px(t)))\" y=\"\(f(y1 + 17))\" text-anchor=\"middle\">\(HTML.escape(xFormat(t)))</text>"
        }
        out += "<path d=\"M\(f(x0)) \(f(y0))V\(f(y1))H\(f(x1))\" class=\"frame\"/>"
        out += "<text x=\"\(f((x0 + x1) / 2))\" y=\"\(f(SVGChart.height - 6))\" text-anchor=\"middle\" class=\"label\">\(HTML.escape(xLabel))</text>"
        out += "<text x=\"14\" y=\"\(f((y0 + y1) / 2))\" text-anchor=\"middle\" class=\"label\" "
            + "transform=\"rotate(-90 14 \(f((y0 + y1) / 2)))\">\(HTML.escape(yLabel))</text>"
        return out + "</g>"
    }

    private func path(_ s: ChartSeries, px: (Double) -> Double, py: (Double) -> Double) -> String {
        var d = "", pen = false, count = 0
        for p in SVGChart.reduce(s.points, to: SVGChart.maxPoints) {
            guard let y = p.y, y.isFinite, p.x.isFinite else { pen = false; continue }
            d += (pen ? "L" : "M") + "\(f(px(p.x))) \(f(py(y)))"
            pen = true
            count += 1
        }
        guard !d.isEmpty else { return "" }
        // A lone point still shows: a zero-length segment with round caps, plus dots for sparse series.
        if count == 1 { d += "h0.01" }
        var out = "<path class=\"series\" d=\"\(d)\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.6\" stroke-linejoin=\"round\" "
            + "stroke-linecap=\"round\"><title>\(HTML.escape(s.label))</title></path>"
        if count <= 40 {
            for p in s.points { if let y = p.y, y.isFinite { out += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(y)))\" r=\"2.6\" fill=\"\(s.color)\"/>" } }
        }
        return out
    }

    private func marker(_ m: ChartMarker, px: (Double) -> Double, py: (Double) -> Double, ys: (lo: Double, hi: Double)) -> String {
        let x = px(m.x), title = "<title>\(HTML.escape(m.label))</title>"
        switch m.kind {
        case .spike:
            let y = py(m.y ?? ys.hi)
            return "<path d=\"M\(f(x)) \(f(y - 9))l-5 -9h10z\" fill=\"\(m.color)\" stroke=\"#222\" stroke-width=\"0.8\" class=\"spike\">\(title)</path>"
        case .rollback:
            return "<path d=\"M\(f(x)) \(f(SVGChart.top))V\(f(SVGChart.height - SVGChart.bottom))\" stroke=\"\(m.color)\" "
                + "stroke-width=\"1.5\" stroke-dasharray=\"4 3\" class=\"rollback\">\(title)</path>"
        }
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }

    /// Data range, padded when flat.
    static func range(_ v: [Double]) -> (lo: Double, hi: Double) {
        guard var lo = v.min(), var hi = v.max() else { return (0, 1) }
        if hi - lo < 1e-12 * max(1, abs(hi)) { let pad = max(abs(hi) * 0.1, 0.5); lo -= pad; hi += pad }
        return (lo, hi)
    }

    /// About five ticks at 1, 2 or 5 × 10^k inside [lo, hi].
    static func ticks(_ lo: Double, _ hi: Double) -> [Double] {
        let raw = (hi - lo) / 5, mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var out = [Double](), t = ceil(lo / step) * step
        while t <= hi + step * 1e-9 && out.count < 12 { out.append(abs(t) < step * 1e-9 ? 0 : t); t += step }
        return out
    }

    /// Compact tick text: 0.25, 3.5, 1.2K, 4.5M.
    static func tick(_ v: Double) -> String {
        let a = abs(v)
        if a >= 1e9 { return String(format: "%.3gB", v / 1e9) }
        if a >= 1e6 { return String(format: "%.3gM", v / 1e6) }
        if a >= 1e4 { return String(format: "%.3gK", v / 1e3) }
        if a > 0 && a < 1e-3 { return String(format: "%.1e", v) }
        return String(format: "%.4g", v)
    }

    /// At most about `limit` points: for longer series, the min and max of each bucket, in x order; gaps stay gaps.
    static func reduce(_ points: [(x: Double, y: Double?)], to limit: Int) -> [(x: Double, y: Double?)] {
        guard points.count > limit else { return points }
        let size = Int((Double(points.count) / Double(limit / 2)).rounded(.up))
        var out = [(x: Double, y: Double?)]()
        for start in stride(from: 0, to: points.count, by: size) {
            let bucket = points[start..<min(points.count, start + size)]
            if bucket.contains(where: { $0.y == nil }) { out.append((bucket.first!.x, nil)) }
            let valued = bucket.filter { $0.y != nil }
            guard let lo = valued.min(by: { $0.y! < $1.y! }), let hi = valued.max(by: { $0.y! < $1.y! }) else { continue }
            out += lo.x <= hi.x ? [lo, hi] : [hi, lo]
        }
        return out
    }
}

/// HTML text helpers.
enum HTML {
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }
}
