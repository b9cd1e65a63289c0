// What each stage changed: evaluation deltas attributed to the stage that caused
// them. A stage's result is compared with its own "<name>_before" measurement when
// the stage recorded one (SFT, DPO measure before training), else with the same
// evaluation of its parent's entry. Each metric is sorted into a claim kind:
// capability/knowledge (probes, per-source loss — what pretraining decides) or
// behaviour (instruction following, refusals, preferences — what post-training
// decides). Leaves out: significance tests; metrics that are already deltas
// (forgetting.*, gain.*) and counts.

import Foundation

/// Whether a metric speaks about what the model knows and can model, or how it behaves.
public enum ClaimKind: String, Sendable, CaseIterable {
    case capability = "capability/knowledge"
    case behaviour

    /// The claim a metric supports. Per-source loss of a language-modelling stage and probe/ranking
    /// accuracies are capability; everything else a stage measures (instruction accuracy, format,
    /// refusals, reply length, preference accuracy) is behaviour.
    public static func of(evaluation: String, metric: String) -> ClaimKind {
        let base = evaluation.hasSuffix("_before") ? String(evaluation.dropLast(7)) : evaluation
        if ["knowledge"].contains(base) { return .capability }
        let capabilityPrefixes = ["probe_", "val_loss", "val_ppl", "chat_rank_"]
        if capabilityPrefixes.contains(where: metric.hasPrefix) { return .capability }
        if base == "validation_loss" && !["accuracy", "margin", "chosen_logp", "rejected_logp"].contains(where: metric.hasPrefix) {
            return .capability
        }
        return .behaviour
    }
}

/// Where a stage sits in the relay.
public enum StageLevel: String, Sendable {
    /// Pretraining, continued pretraining, annealing: decides what the model knows.
    case pretraining
    /// SFT, reward modelling, preference and RL stages: decides how it behaves.
    case postTraining = "post-training"
    /// A checkpoint brought in from outside.
    case external

    public static func of(_ stage: Stage) -> StageLevel {
        switch stage {
        case .pretrain, .continue, .anneal: return .pretraining
        case .import: return .external
        default: return .postTraining
        }
    }
}

/// One measured change.
public struct StageChange: Equatable, Sendable {
    /// Index of the stage in the chain.
    public var entry: Int
    public var stage: Stage
    public var evaluation: String
    public var metric: String
    public var before: Double
    public var after: Double
    /// "measured before this stage" or "parent checkpoint".
    public var baseline: Baseline
    public var kind: ClaimKind

    public enum Baseline: String, Sendable { case withinStage = "before this stage", parent = "parent checkpoint" }

    public var delta: Double { after - before }

    /// Every attributable change along the chain, oldest stage first, metrics sorted.
    public static func along(_ lineage: Lineage) -> [StageChange] {
        var out = [StageChange]()
        for (i, e) in lineage.entries.enumerated() {
            let parent = i > 0 ? lineage.entries[i - 1] : nil
            for name in e.evaluations.keys.sorted() where !name.hasSuffix("_before") {
                let (baseline, source) = baselineFor(name, entry: e, parent: parent)
                guard let baseline, let metrics = e.evaluations[name] else { continue }
                for metric in metrics.keys.sorted() where countsAsChange(metric) {
                    guard let after = metrics[metric], let before = baseline[metric] else { continue }
                    out.append(StageChange(entry: i, stage: e.stage, evaluation: name, metric: metric, before: before, after: after,
                                           baseline: source, kind: ClaimKind.of(evaluation: name, metric: metric)))
                }
            }
        }
        return out
    }

    /// The stage's own "before" measurement, else the parent's same evaluation when the two measure the same thing.
    static func baselineFor(_ name: String, entry e: LineageEntry, parent: LineageEntry?) -> ([String: Double]?, Baseline) {
        if let own = e.evaluations[name + "_before"] { return (own, .withinStage) }
        guard let parent, comparable(name, e.stage, parent.stage) else { return (nil, .parent) }
        return (parent.evaluations[name], .parent)
    }

    /// "validation_loss" holds each stage's own objective on its own held-out split (LM loss per source for
    /// pretraining-level stages; chat loss for SFT; preference metrics for DPO), so it compares only between
    /// pretraining-level stages; a reward model is a different model altogether.
    static func comparable(_ name: String, _ stage: Stage, _ parentStage: Stage) -> Bool {
        if stage == .reward || parentStage == .reward { return false }
        if name == "validation_loss" { return StageLevel.of(stage) != .postTraining && StageLevel.of(parentStage) != .postTraining }
        return true
    }

    /// Summary measurements: not counts, perplexities, existing deltas or exact match (see `isSummary`).
    static func countsAsChange(_ metric: String) -> Bool {
        Lineage.isHeadline(metric) && !metric.hasPrefix("forgetting.") && !metric.hasPrefix("gain.") && !metric.hasPrefix("probe_em")
            && isSummary(metric)
    }

    /// A metric that sums up an evaluation: a top-level value ("instr_acc"), a split by period ("….before", "….after")
    /// or a loss per named source ("val_loss.general"). Per-kind breakdowns ("instr_acc.json") and combined losses
    /// over sources that differ from stage to stage ("all", "val_loss.all") are left to lineage.json.
    static func isSummary(_ metric: String) -> Bool {
        if metric == "all" || metric == "val_loss.all" { return false }
        if !metric.contains(".") || metric.hasSuffix(".before") || metric.hasSuffix(".after") { return true }
        return metric.hasPrefix("val_loss.")
    }
}
