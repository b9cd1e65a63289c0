// Known limits a model card states, derived from the evaluations in lineage —
// each a sentence with the number that supports it: a reward model near chance on
// some kind of pair, probes near chance past the cutoff, answers in the right
// format but with the wrong facts, refusals of benign requests, refusals that
// come from one stage, fail under attack framings or fall to benign fine-tuning, a post-training
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
            out += safetyLimits(e, label: label)
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

    /// Where refusals came from, and whether they survive attack framings and benign fine-tuning (evaluation `safety`).
    static func safetyLimits(_ e: LineageEntry, label: String) -> [String] {
        var out = [String]()
        if let before = e.evaluations["behaviour_before"]?["behav_refusal"], let after = e.evaluations["behaviour"]?["behav_refusal"],
           after - before >= 0.2 {
            out.append("Refusals of harmful requests come from \(label): \(pct(before)) before the stage, \(pct(after)) after (evaluation `behaviour`).")
        }
        guard let m = e.evaluations["safety"], let plain = m["safety_refusal.plain"], plain > 0 else { return out }
        let weaker = m.keys.sorted().filter { $0.hasPrefix("safety_refusal.") && $0 != "safety_refusal.plain" }
            .compactMap { k in m[k].map { (String(k.dropFirst("safety_refusal.".count)), $0) } }.filter { plain - $0.1 >= 0.1 }
        if !weaker.isEmpty {
            let list = weaker.map { "\($0.0) \(pct($0.1))" }.joined(separator: ", ")
            let success = m["safety_attack_success"].map { "; \(pct($0)) of attacks succeed" } ?? ""
            out.append("After \(label) the model refuses \(pct(plain)) of plain harmful requests but fewer under other framings (\(list))"
                       + "\(success) (evaluation `safety`): the refusal is tied to the wording more than to the request.")
        }
        if let brittle = m["safety_brittle_refusal"], let steps = m["safety_brittle_steps"], plain - brittle >= 0.1 {
            out.append("A copy of \(label) fine-tuned for \(Int(steps)) steps on benign chats refuses \(pct(brittle)) of plain harmful "
                       + "requests (was \(pct(plain))): the refusal does not survive ordinary fine-tuning (evaluation `safety`).")
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
