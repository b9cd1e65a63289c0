// The model card's body sections: the chain (intervention, parent id + sha256,
// other models used, data with hashes and tokens, key recipe settings, events),
// compute per stage with shares of the total, the changes each stage caused
// (split by claim kind), the knowledge cutoff and known limits.
// Leaves out: the front matter (ModelCard+FrontMatter.swift).

import Foundation

extension ModelCard {
    /// What a stage does to the model, in one phrase.
    static func intervention(_ e: LineageEntry) -> String {
        let loss = e.recipe.value(at: "preference.loss")?.stringValue
        switch e.stage {
        case .pretrain:
            if e.recipe.value(at: "train.objective")?.stringValue == TrainObjective.maskedLM.rawValue {
                return "pretraining: masked-token prediction on raw text (masked_lm: 15% of tokens selected; 80% <mask>, 10% random, 10% kept)"
            }
            return "pretraining: next-token prediction on raw text"
        case .continue: return "continued pretraining on new data (next-token prediction, with any replay listed in its data)"
        case .anneal: return "annealing: the learning rate decays to a floor while the mixture shifts toward quality data"
        case .sft: return "supervised fine-tuning on conversations, loss on the assistant's tokens"
        case .reward: return "reward modelling: a Bradley–Terry scalar head trained on preference pairs"
        case .dpo: return "preference tuning (\(loss ?? "dpo")) against a frozen reference model"
        case .ppo: return "RLHF with PPO against a reward model"
        case .grpo: return "reinforcement learning with GRPO (group-relative advantages)"
        case .import: return "imported from outside Strata"
        default: return "stage '\(e.stage.rawValue)'"
        }
    }

    static let settingKeys = ["sft.packing", "sft.lora.r", "sft.lora.alpha", "preference.loss", "preference.beta",
                              "preference.sft_weight", "preference.label_smoothing", "preference.margin", "preference.simpo_gamma"]

    /// Key recipe settings; the model's shape only where the stage built it (a continued stage keeps its parent's,
    /// whatever its recipe's model section says).
    static func settings(_ e: LineageEntry) -> String? {
        let recipe = e.recipe
        var parts = [Lineage.recipeSummary(recipe, randomInit: e.parent == .randomInit)].compactMap { $0 }
        let extra = settingKeys.compactMap { key -> String? in
            guard let v = recipe.value(at: key) else { return nil }
            switch v {
            case let .number(d): return "\(key) \(number(d))"
            case let .string(s): return "\(key) \(s)"
            case let .bool(b): return "\(key) \(b)"
            default: return nil
            }
        }
        if !extra.isEmpty { parts.append(extra.joined(separator: ", ")) }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    static func roleText(_ role: ModelLink.Role) -> String {
        switch role {
        case .reference: return "reference model (frozen)"
        case .rewardModel: return "reward model"
        default: return role.rawValue.replacingOccurrences(of: "_", with: " ")
        }
    }

    static func chainSection(_ lineage: Lineage, links: [[ModelLink]]) -> String {
        var out = "## How it was trained\n\n"
        for (i, e) in lineage.entries.enumerated() {
            out += "\(i + 1). **\(e.stage.rawValue)** — \(intervention(e)) → `\(e.checkpointID)` (written \(e.created))\n"
            out += "   - started from: \(idAndHash(e.parent))\n"
            for link in i < links.count ? links[i] : [] where link.role != .parent {
                out += "   - \(roleText(link.role)): `\(link.id ?? "?")` (sha256 `\(link.sha256 ?? "?")`)\n"
            }
            for d in e.data {
                out += "   - data: \(d.name) — `\(d.path)`, \(d.tokens) tokens, sha256 `\(d.sha256)`\n"
            }
            if let s = settings(e) { out += "   - settings: \(s)\n" }
            if !e.events.isEmpty {
                var counts = [String: Int]()
                for ev in e.events { counts[ev.kind.rawValue, default: 0] += 1 }
                out += "   - events: " + counts.keys.sorted().map { "\(counts[$0]!) \($0)" }.joined(separator: ", ") + "\n"
            }
        }
        return out + "\n"
    }

    static func computeSection(_ lineage: Lineage) -> String {
        let total = lineage.head!.compute
        var out = "## Compute\n\nEach stage's own compute and its share of the whole chain's (FLOPs are estimates: 6 × parameters × tokens "
            + "plus attention).\n\n"
        out += "| stage | checkpoint | tokens | FLOPs | wall seconds | share of tokens | share of FLOPs | share of wall time |\n"
        out += "|---|---|---:|---:|---:|---:|---:|---:|\n"
        for e in lineage.entries {
            let c = e.compute
            out += "| \(e.stage.rawValue) | `\(e.checkpointID)` | \(c.tokens) | \(String(format: "%.3e", c.flops)) | "
                + "\(String(format: "%.1f", c.wallSeconds)) | \(pct(Double(c.tokens), of: Double(total.cumulativeTokens))) | "
                + "\(pct(c.flops, of: total.cumulativeFLOPs)) | \(pct(c.wallSeconds, of: total.cumulativeWallSeconds)) |\n"
        }
        out += "| **total** | | \(total.cumulativeTokens) | \(String(format: "%.3e", total.cumulativeFLOPs)) | "
            + "\(String(format: "%.1f", total.cumulativeWallSeconds)) | 100.0% | 100.0% | 100.0% |\n\n"
        var byLevel = [StageLevel: Double]()
        for e in lineage.entries { byLevel[StageLevel.of(e.stage), default: 0] += e.compute.flops }
        let pre = byLevel[.pretraining] ?? 0, post = byLevel[.postTraining] ?? 0
        if pre > 0 && post > 0 {
            out += "Pretraining-level stages (pretrain, continue, anneal) took \(pct(pre, of: total.cumulativeFLOPs)) of the FLOPs, "
                + "post-training stages \(pct(post, of: total.cumulativeFLOPs)): the knowledge cost \(String(format: "%.1f", pre / post))× "
                + "the compute of the behaviour.\n\n"
        }
        return out
    }

    static func changesSection(_ lineage: Lineage) -> String {
        let changes = StageChange.along(lineage)
        var out = "## What each stage changed\n\n"
        out += "Evaluation results after each stage against the same measurement before it (taken by the stage itself, "
            + "or recorded on its parent checkpoint). Capability and knowledge are pretraining-level claims; behaviour is what "
            + "post-training changes. Counts, perplexities, exact-match and per-domain results stay in lineage.json.\n\n"
        for kind in ClaimKind.allCases {
            out += "### \(kind == .capability ? "Capability and knowledge" : "Behaviour")\n\n"
            let rows = changes.filter { $0.kind == kind }
            guard !rows.isEmpty else {
                out += "No \(kind.rawValue) evaluation was recorded both before and after a stage.\n\n"
                continue
            }
            out += "| stage | evaluation | metric | before | after | change | compared with |\n|---|---|---|---:|---:|---:|---|\n"
            for c in rows {
                out += "| \(c.stage.rawValue) (`\(lineage.entries[c.entry].checkpointID)`) | \(c.evaluation) | \(c.metric) | "
                    + "\(number(c.before)) | \(number(c.after)) | \(signed(c.delta)) | \(c.baseline.rawValue) |\n"
            }
            out += "\n"
        }
        return out
    }

    static func cutoffSection(_ lineage: Lineage) -> String {
        let k = KnowledgeCutoff(lineage)
        var out = "## Knowledge cutoff\n\n"
        if let y = k.cutoffYear { out += "- The data's cutoff year is \(y) (from world.json beside the data).\n" }
        let latest = k.latestPretrainingPeriod
        let pastCutoff = k.pretraining.filter { $0.period == .after }.map { "\($0.record.name) in \($0.stage.rawValue)" }
        switch latest {
        case .after: out += "- Pre-/continued-training data reaches past the cutoff: \(pastCutoff.joined(separator: ", ")).\n"
        case .before: out += "- All labelled pre-/continued-training data lies before the cutoff.\n"
        case .unknown: out += "- No pre-/continued-training source is labelled before or after a cutoff, so the cutoff is not known.\n"
        }
        let unlabelledPre = k.pretraining.filter { $0.period == .unknown }.map { "\($0.record.name) in \($0.stage.rawValue)" }
        if !unlabelledPre.isEmpty && latest != .unknown { out += "- Period not recorded for: \(unlabelledPre.joined(separator: ", ")).\n" }
        if let p = k.probes {
            let e = lineage.entries[p.entry]
            out += "- Knowledge probes on `\(e.checkpointID)`: accuracy \(p.before.map { KnownLimits.pct($0) } ?? "not measured") on facts "
                + "before the cutoff, \(p.after.map { KnownLimits.pct($0) } ?? "not measured") on facts after it.\n"
        } else {
            out += "- No knowledge-probe evaluation is recorded in this chain.\n"
        }
        out += "- " + postTrainingStatement(k) + "\n\n"
        return out
    }

    static func postTrainingStatement(_ k: KnowledgeCutoff) -> String {
        let past = k.postTrainingPastCutoff, unknown = k.postTrainingUnlabelled
        func list(_ s: [KnowledgeCutoff.Source]) -> String { s.map { "\($0.record.name) in \($0.stage.rawValue)" }.joined(separator: ", ") }
        if k.postTraining.isEmpty { return "No post-training stage in this chain." }
        if !past.isEmpty { return "Post-training data lies past the cutoff: \(list(past))." }
        if unknown.isEmpty { return "No post-training data lies past the cutoff: every post-training source is labelled before it." }
        return "No post-training source is labelled past the cutoff; the period of \(list(unknown)) is not recorded."
    }

    static func limitsSection(_ lineage: Lineage) -> String {
        var out = "## Known limits\n\n"
        for l in KnownLimits.find(in: lineage) { out += "- \(l)\n" }
        out += "- Only the evaluations listed above were run; a property with no evaluation here (toxicity, factuality beyond the "
            + "probes, other languages) was not measured.\n"
        return out
    }
}
