// Renders a lineage chain as Markdown that answers "trained how, starting from
// where?": the starting point, then one numbered item per stage with its data,
// the key recipe settings, compute, evaluations and events. Used for model cards.
// Leaves out: HTML, charts.

import Foundation

extension Lineage {
    /// A Markdown summary of the whole chain.
    /// Metrics worth a model card line: not counts, perplexities, normalised or per-domain breakdowns.
    static func isHeadline(_ key: String) -> Bool {
        !["count", "ppl", "_norm", "domain.", "chance"].contains { key.contains($0) }
    }

    public func summary() -> String {
        guard let head, let first = entries.first else { return "No training history recorded.\n" }
        var out = "## How `\(head.checkpointID)` was trained\n\n"
        let origin: String
        switch first.parent {
        case .randomInit: origin = "from random initialisation"
        case .checkpoint: origin = "from \(first.parent.summary)"
        }
        let stages = entries.count == 1 ? "1 stage" : "\(entries.count) stages"
        out += "Trained \(origin) in \(stages): \(entries.map(\.stage.rawValue).joined(separator: " → ")). "
        let c = head.compute
        out += "In total \(Lineage.count(Double(c.cumulativeTokens))) tokens, "
        out += "\(Lineage.scientific(c.cumulativeFLOPs)) FLOPs (estimated), "
        out += "\(ProgressLine.duration(c.cumulativeWallSeconds)) of training.\n\n"
        for (i, e) in entries.enumerated() {
            out += Lineage.render(e, number: i + 1)
        }
        return out
    }

    static func render(_ e: LineageEntry, number: Int) -> String {
        var out = "\(number). **\(e.stage.rawValue)** → `\(e.checkpointID)` (\(e.created))\n"
        out += "   - started from: \(e.parent.summary)\n"
        if let r = e.reference { out += "   - reference model (frozen): \(r.summary)\n" }
        if !e.data.isEmpty {
            let items = e.data.map { "\($0.name) (`\($0.path)`, \(count(Double($0.tokens))) tokens, sha256 \($0.sha256.prefix(12)))" }
            out += "   - data: \(items.joined(separator: "; "))\n"
        }
        if let r = recipeSummary(e.recipe, randomInit: e.parent == .randomInit) { out += "   - recipe: \(r)\n" }
        let c = e.compute
        out += "   - compute: \(count(Double(c.tokens))) tokens, \(scientific(c.flops)) FLOPs, "
            + "\(ProgressLine.duration(c.wallSeconds)) (cumulative: \(count(Double(c.cumulativeTokens))) tokens, "
            + "\(scientific(c.cumulativeFLOPs)) FLOPs)\n"
        for name in e.evaluations.keys.sorted() {
            let metrics = e.evaluations[name] ?? [:]
            // Long evaluations show their headline metrics only; lineage.json keeps them all.
            let shown = metrics.count > 8 ? metrics.keys.sorted().filter(Lineage.isHeadline) : metrics.keys.sorted()
            let text = shown.map { "\($0) \(String(format: "%.4g", metrics[$0] ?? .nan))" }
            let more = metrics.count - shown.count
            out += "   - evaluation \(name): \(text.joined(separator: ", "))\(more > 0 ? " (+\(more) more in lineage.json)" : "")\n"
        }
        if !e.events.isEmpty {
            var counts = [String: Int]()
            for ev in e.events { counts[ev.kind.rawValue, default: 0] += 1 }
            let tally = counts.keys.sorted().map { "\(counts[$0] ?? 0) \($0)" }.joined(separator: ", ")
            out += "   - events: \(tally)\n"
            for ev in e.events.prefix(10) { out += "     - step \(ev.step): \(ev.kind.rawValue): \(ev.detail)\n" }
            if e.events.count > 10 { out += "     - … \(e.events.count - 10) more\n" }
        }
        return out
    }

    /// "6 layers × d 384, 6 heads, context 256; 1000 steps of 8×1 sequences; lr 0.0006 cosine → 6e-05, warmup 100".
    /// The recipe's headline settings; its model section only for a stage that built the model (random init) —
    /// a stage started from a checkpoint keeps the checkpoint's shape whatever its recipe's model defaults say.
    static func recipeSummary(_ r: JSONValue, randomInit: Bool) -> String? {
        guard case .object = r else { return nil }
        var parts = [String]()
        if randomInit, let l = r.value(at: "model.n_layer")?.intValue, let d = r.value(at: "model.n_embd")?.intValue,
           let h = r.value(at: "model.n_head")?.intValue {
            var m = "\(l) layers × d \(d), \(h) heads"
            if let f = r.value(at: "model.family")?.stringValue, f != "gpt2" {   // GPT-2 lines stay as they were
                let kv = r.value(at: "model.n_kv_head")?.intValue.map { " (\($0) key/value)" } ?? ""
                m = "\(f): \(m)\(kv)"
            }
            if let c = r.value(at: "train.context")?.intValue ?? r.value(at: "model.n_positions")?.intValue { m += ", context \(c)" }
            parts.append(m)
        }
        var t = [String]()
        if let s = r.value(at: "train.steps")?.intValue { t.append("\(s) steps") }
        if let b = r.value(at: "train.token_budget")?.intValue { t.append("budget \(count(Double(b))) tokens") }
        if let bs = r.value(at: "train.batch_size")?.intValue {
            t.append("batch \(bs)×\(r.value(at: "train.grad_accum")?.intValue ?? 1)")
        }
        if !t.isEmpty { parts.append(t.joined(separator: ", ")) }
        if let lr = r.value(at: "optim.lr")?.doubleValue {
            var o = "lr \(lr)"
            if let s = r.value(at: "optim.schedule")?.stringValue { o += " \(s)" }
            if let m = r.value(at: "optim.min_lr")?.doubleValue { o += " → \(m)" }
            if let w = r.value(at: "optim.warmup_steps")?.intValue { o += ", warmup \(w)" }
            parts.append(o)
        }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    /// 950 → "950", 12_300 → "12.3K", 4.5e6 → "4.50M", 2e9 → "2.00B".
    static func count(_ x: Double) -> String {
        if x >= 1e9 { return String(format: "%.2fB", x / 1e9) }
        if x >= 1e6 { return String(format: "%.2fM", x / 1e6) }
        if x >= 1e4 { return String(format: "%.1fK", x / 1e3) }
        return String(format: "%.0f", x)
    }

    static func scientific(_ x: Double) -> String { String(format: "%.2e", x) }
}
