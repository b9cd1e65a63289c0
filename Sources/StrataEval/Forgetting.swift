// Forgetting: how a checkpoint compares with a baseline (by default the
// checkpoint it was trained from) on old knowledge and on the new. Signs are
// chosen so that positive forgetting means worse on old material: baseline −
// checkpoint accuracy on probes of every period but "after" (overall, per period
// and per domain), checkpoint − baseline loss per source; the gain on
// after-cutoff probes is checkpoint − baseline accuracy.
// Leaves out: significance tests (both reports carry their probe counts).

import Foundation

public struct ForgettingReport: Codable, Equatable, Sendable {
    /// The baseline's label.
    public var baseline: String
    /// Accuracy drop on old-knowledge probes (all periods but "after" together).
    public var probeAccuracy: Double?
    /// Exact-match drop on old-knowledge probes.
    public var probeExactMatch: Double?
    /// Accuracy drop per old period.
    public var probeAccuracyByPeriod: [String: Double]
    /// Exact-match drop per old period.
    public var probeExactMatchByPeriod: [String: Double]
    /// Accuracy drop per domain, on that domain's old-knowledge probes.
    public var probeAccuracyByDomain: [String: Double]
    /// Loss increase per source both reports measured.
    public var loss: [String: Double]
    /// Accuracy gain on after-cutoff probes.
    public var newKnowledgeAccuracyGain: Double?
    /// Exact-match gain on after-cutoff probes.
    public var newKnowledgeExactMatchGain: Double?

    enum CodingKeys: String, CodingKey {
        case baseline, loss
        case probeAccuracy = "probe_accuracy", probeExactMatch = "probe_exact_match"
        case probeAccuracyByPeriod = "probe_accuracy_by_period", probeExactMatchByPeriod = "probe_exact_match_by_period"
        case probeAccuracyByDomain = "probe_accuracy_by_domain"
        case newKnowledgeAccuracyGain = "new_knowledge_accuracy_gain", newKnowledgeExactMatchGain = "new_knowledge_exact_match_gain"
    }

    /// Mean loss increase over the sources both reports measured (nil if none).
    public var meanLossIncrease: Double? {
        loss.isEmpty ? nil : loss.values.reduce(0, +) / Double(loss.count)
    }
}

public enum Forgetting {
    /// Deltas of `checkpoint` against `baseline` (computed on what both reports measured).
    public static func compare(_ checkpoint: EvalReport, baseline: EvalReport) -> ForgettingReport {
        var f = ForgettingReport(baseline: baseline.label, probeAccuracyByPeriod: [:], probeExactMatchByPeriod: [:],
                                 probeAccuracyByDomain: [:], loss: [:])
        if let now = checkpoint.probes, let before = baseline.probes {
            let em = now.exactMatchEvaluated && before.exactMatchEvaluated
            if let a = now.oldKnowledge, let b = before.oldKnowledge {
                f.probeAccuracy = b.accuracy - a.accuracy
                if em { f.probeExactMatch = b.exactMatch - a.exactMatch }
            }
            for (period, a) in now.byPeriod {
                guard let b = before.byPeriod[period] else { continue }
                if period == ProbeEval.newKnowledgePeriod {
                    f.newKnowledgeAccuracyGain = a.accuracy - b.accuracy
                    if em { f.newKnowledgeExactMatchGain = a.exactMatch - b.exactMatch }
                } else {
                    f.probeAccuracyByPeriod[period] = b.accuracy - a.accuracy
                    if em { f.probeExactMatchByPeriod[period] = b.exactMatch - a.exactMatch }
                }
            }
            for domain in now.byDomain.keys {
                if let a = now.oldKnowledge(domain: domain), let b = before.oldKnowledge(domain: domain) {
                    f.probeAccuracyByDomain[domain] = b.accuracy - a.accuracy
                }
            }
        }
        // Losses compare only when measured on the same windows.
        let baseLoss = Dictionary(baseline.validation.map { ($0.name, $0) }) { a, _ in a }
        for s in checkpoint.validation {
            if let b = baseLoss[s.name], b.context == s.context, b.windows == s.windows { f.loss[s.name] = s.loss - b.loss }
        }
        return f
    }
}
