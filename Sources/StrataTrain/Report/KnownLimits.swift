// Known limits a model card states, derived from the evaluations in lineage —
// each a sentence with the number that supports it: a reward model near chance on
// some kind of pair, probes near chance past the cutoff, answers in the right
// format but with the wrong facts, refusals of benign requests, a post-training
// stage that cost raw-text modelling. Only what was measured is claimed.
// Leaves out: limits no recorded evaluation measures (those the card states generally).

import Foundation

public enum KnownLimits {
    /// Sentences, one per limit found, in chain order.
    public static func find(in lineage: Lineage) -> [String] {
        var out = [String]()
        for (i, e) in lineage.entries.enumerated() {
            let label = "\(e.stage.rawValue) (`\(e.checkpointID)`)"
            out += rewardLimits(e, label: label)
            out += behaviourLimits(e, label: label)
            if i > 0 { out += forgettingLimits(e, parent: lineage.entries[i - 1], label: label) }
        }
        out += probeLimits(lineage)
        return out
    }

    static func pct(_ x: Double) -> String { String(format: "%.1f%%", 100 * x) }

    /// Pair types a reward model ranks no better than chance (accuracy within 10 points of 50%, or below).
    static func rewardLimits(_ e: LineageEntry, label: String) -> [String] {
        guard e.stage == .reward else { return [] }
        var out = [String]()
        for name in e.evaluations.keys.sorted() where !name.hasSuffix("_before") {
            let m = e.evaluations[name] ?? [:]
            for key in m.keys.sorted() where key.hasPrefix("accuracy.") {
                guard let acc = m[key], acc < 0.6 else { continue }
                out.append("The reward model `\(e.checkpointID)` is at chance on `\(key.dropFirst(9))` pairs: held-out accuracy \(pct(acc)) "
                           + "(evaluation `\(name)`), so its rewards carry no signal about that property.")
            }
        }
        return out
    }

    /// Format learned without facts; refusals of benign requests.
    static func behaviourLimits(_ e: LineageEntry, label: String) -> [String] {
        var out = [String]()
        if let m = e.evaluations["instruction"], let format = m["instr_format"], format >= 0.5 {
            let facts = m.keys.sorted().filter { $0.hasPrefix("instr_acc.fact.") }.compactMap { k in m[k].map { (k, $0) } }
            let wrong = facts.filter { $0.1 < 0.25 * format }
            if !wrong.isEmpty {
                let list = wrong.map { "\($0.0.dropFirst(15)) \(pct($0.1))" }.joined(separator: ", ")
                out.append("After \(label) replies take the asked-for format \(pct(format)) of the time, but fact questions are "
                           + "answered right far less often (\(list)): the stage taught the form of answers, not the facts.")
            }
        }
        if let m = e.evaluations["behaviour"], let over = m["behav_over_refusal"], over > 0 {
            out.append("After \(label) the model refuses \(pct(over)) of benign requests (evaluation `behaviour`).")
        }
        return out
    }

    /// A post-training stage that raised per-source validation loss by more than 0.5 nats.
    static func forgettingLimits(_ e: LineageEntry, parent: LineageEntry, label: String) -> [String] {
        guard StageLevel.of(e.stage) == .postTraining else { return [] }
        let changes = StageChange.along(Lineage(entries: [parent, e])).filter {
            $0.entry == 1 && $0.metric.hasPrefix("val_loss.") && $0.delta > 0.5
        }
        guard !changes.isEmpty else { return [] }
        let list = changes.map { "\($0.metric.dropFirst(9)) \(String(format: "%+.3f", $0.delta))" }.joined(separator: ", ")
        return ["\(label) cost raw-text modelling: validation loss rose by \(list) nats (evaluation `\(changes[0].evaluation)`)."]
    }

    /// Knowledge past the cutoff near chance, on the newest checkpoint with knowledge probes.
    static func probeLimits(_ lineage: Lineage) -> [String] {
        for e in lineage.entries.reversed() {
            for name in e.evaluations.keys.sorted() where !name.hasSuffix("_before") {
                let m = e.evaluations[name] ?? [:]
                guard let after = m["probe_acc.after"], let chance = m["probe_chance"] else { continue }
                guard after < chance + 0.1 else { return [] }
                return ["Facts dated after the cutoff are known at about chance on `\(e.checkpointID)`: probe accuracy \(pct(after)) "
                        + "against a chance level of \(pct(chance)) (evaluation `\(name)`)."]
            }
        }
        return []
    }
}
