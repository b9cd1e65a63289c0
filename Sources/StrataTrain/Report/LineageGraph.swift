// LineageGraph: the checkpoints of the runs in a report and the models that fed
// them, as an SVG graph — one row per depth in the chain (random init at the
// top), a box per checkpoint, and edges by role: parent (solid), reference
// (dashed), reward model and judge (dotted, coloured). Built from every run's
// lineage chain, so shared ancestors appear once.
// Leaves out: crossing minimisation beyond first-seen order, graphs wider than a
// few dozen checkpoints per row (they still draw, only smaller).

import Foundation

struct LineageGraph {
    struct Node: Equatable {
        var id: String
        var stage: String
        var depth: Int
        /// Not produced by any chain in the report (an outside checkpoint or a model only used as reference/judge).
        var external: Bool
    }

    struct Edge: Equatable {
        var from: String
        var to: String
        var role: ModelLink.Role
    }

    static let randomInitID = "(random init)"
    private(set) var nodes: [Node] = []
    private(set) var edges: [Edge] = []

    init(_ checkpoints: [CheckpointLineage]) {
        for c in checkpoints {
            let links = c.links()
            for (i, e) in c.lineage.entries.enumerated() {
                addNode(Node(id: e.checkpointID, stage: e.stage.rawValue, depth: i + 1, external: false))
                for link in i < links.count ? links[i] : [] {
                    let from = link.id ?? LineageGraph.randomInitID
                    if link.id == nil { addNode(Node(id: from, stage: "random init", depth: 0, external: true)) }
                    else if i == 0 || link.role != .parent { addNode(Node(id: from, stage: link.role == .parent ? "outside" : link.role.rawValue,
                                                                          depth: max(0, i), external: true)) }
                    let edge = Edge(from: from, to: e.checkpointID, role: link.role)
                    if !edges.contains(edge) { edges.append(edge) }
                }
            }
        }
    }

    /// Adds a node, or upgrades an external placeholder to the checkpoint a chain produced.
    private mutating func addNode(_ n: Node) {
        if let i = nodes.firstIndex(where: { $0.id == n.id }) {
            if nodes[i].external && !n.external { nodes[i] = n }
            return
        }
        nodes.append(n)
    }

    static let boxW = 168.0, boxH = 40.0, gapX = 20.0, rowH = 78.0, pad = 16.0

    func positions() -> [String: (x: Double, y: Double)] {
        var out = [String: (x: Double, y: Double)]()
        let rows = Dictionary(grouping: nodes, by: \.depth)
        let widest = rows.values.map(\.count).max() ?? 1
        let total = Double(widest) * (LineageGraph.boxW + LineageGraph.gapX)
        for (depth, row) in rows {
            let rowWidth = Double(row.count) * (LineageGraph.boxW + LineageGraph.gapX)
            for (i, n) in row.enumerated() {
                let x = LineageGraph.pad + (total - rowWidth) / 2 + Double(i) * (LineageGraph.boxW + LineageGraph.gapX)
                out[n.id] = (x, LineageGraph.pad + Double(depth) * LineageGraph.rowH)
            }
        }
        return out
    }

    func svg() -> String? {
        guard !nodes.isEmpty else { return nil }
        let pos = positions()
        let widest = Dictionary(grouping: nodes, by: \.depth).values.map(\.count).max() ?? 1
        let w = 2 * LineageGraph.pad + Double(widest) * (LineageGraph.boxW + LineageGraph.gapX)
        let h = 2 * LineageGraph.pad + Double((nodes.map(\.depth).max() ?? 0) + 1) * LineageGraph.rowH - (LineageGraph.rowH - LineageGraph.boxH)
        var out = "<svg class=\"lineage\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" role=\"img\" aria-label=\"lineage graph\" "
            + "xmlns=\"http://www.w3.org/2000/svg\" style=\"max-width:\(Int(w))px\"><defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" "
            + "refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\">"
            + "<path d=\"M0 0L10 5L0 10z\" fill=\"#555\"/></marker></defs>"
        for (k, e) in edges.enumerated() { out += edgePath(e, pos: pos, bend: Double(k % 3)) }
        for n in nodes { out += box(n, at: pos[n.id]!) }
        return out + "</svg>"
    }

    private func edgePath(_ e: Edge, pos: [String: (x: Double, y: Double)], bend: Double) -> String {
        guard let a = pos[e.from], let b = pos[e.to] else { return "" }
        let x1 = a.x + LineageGraph.boxW / 2, y1 = a.y + LineageGraph.boxH, x2 = b.x + LineageGraph.boxW / 2, y2 = b.y
        // Non-parent edges curve aside so they do not hide the parent edge they often run beside.
        let side = e.role == .parent ? 0 : (LineageGraph.boxW / 2 - 14) * (bend.truncatingRemainder(dividingBy: 2) == 0 ? 1 : -1)
        let style: String
        switch e.role {
        case .parent: style = "stroke=\"#555\""
        case .reference: style = "stroke=\"#2a6fb0\" stroke-dasharray=\"6 4\""
        case .rewardModel: style = "stroke=\"#b8562b\" stroke-dasharray=\"2 3\""
        default: style = "stroke=\"#7d4ea8\" stroke-dasharray=\"2 3\""
        }
        let d = String(format: "M%.1f %.1fC%.1f %.1f %.1f %.1f %.1f %.1f", x1 + side, y1, x1 + side * 1.6, y1 + 30, x2 + side * 1.6, y2 - 30, x2 + side, y2)
        return "<path d=\"\(d)\" fill=\"none\" \(style) stroke-width=\"1.5\" marker-end=\"url(#arrow)\" class=\"edge \(e.role.rawValue)\">"
            + "<title>\(HTML.escape("\(e.role.rawValue): \(e.from) → \(e.to)"))</title></path>"
    }

    private func box(_ n: Node, at p: (x: Double, y: Double)) -> String {
        let fill = n.external ? "#f3f3f3" : "#eef5ec"
        let id = n.id.count > 26 ? "…" + n.id.suffix(25) : n.id
        return "<g class=\"node\"><title>\(HTML.escape(n.id))</title>"
            + String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.0f\" height=\"%.0f\" rx=\"6\" ",
                     p.x, p.y, LineageGraph.boxW, LineageGraph.boxH) + "fill=\"\(fill)\" stroke=\"#777\"/>"
            + String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"stage\">", p.x + LineageGraph.boxW / 2, p.y + 16)
            + "\(HTML.escape(n.stage))</text>"
            + String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"id\">", p.x + LineageGraph.boxW / 2, p.y + 31)
            + "\(HTML.escape(id))</text></g>"
    }
}
