// EvalReport: everything one evaluation of one checkpoint measured (probes,
// validation loss per source, forgetting against a baseline), as sorted-key JSON,
// and flattened to "metric name → value" for lineage `evaluations`.
// Metric names: probe_acc[.<period>|.domain.<domain>], probe_acc_norm[...], probe_em[...],
// probe_count[...], probe_chance, val_loss.<source>|.all, val_ppl.<source>|.all,
// forgetting.probe_acc[.<period>|.domain.<domain>], forgetting.probe_em[.<period>],
// forgetting.val_loss.<source>|.mean, gain.probe_acc.after, gain.probe_em.after.
// Leaves out: timing (reports are reproducible byte for byte), per-probe metrics.

import Foundation
import StrataCore

public struct EvalReport: Codable, Equatable, Sendable {
    /// Row label: the checkpoint id from its lineage, or the directory name.
    public var label: String
    /// Where the checkpoint was read from, if it was.
    public var checkpoint: String?
    public var probes: ProbeReport?
    public var validation: [SourceLoss]
    public var forgetting: ForgettingReport?

    public init(label: String, checkpoint: String? = nil, probes: ProbeReport? = nil, validation: [SourceLoss] = [],
                forgetting: ForgettingReport? = nil) {
        self.label = label; self.checkpoint = checkpoint; self.probes = probes
        self.validation = validation; self.forgetting = forgetting
    }

    /// This report with forgetting measured against `baseline`.
    public func comparing(to baseline: EvalReport) -> EvalReport {
        var r = self
        r.forgetting = Forgetting.compare(self, baseline: baseline)
        return r
    }

    /// Sorted-key JSON.
    public func jsonData(pretty: Bool = true) throws -> Data { try StrataJSON.encode(self, pretty: pretty) }

    public func write(to url: URL) throws {
        do { try jsonData().write(to: url, options: .atomic) } catch let e as StrataError { throw e } catch {
            throw StrataError.io("write \(url.path)", error.localizedDescription, fix: "check that the directory exists and is writable")
        }
    }

    public static func read(at url: URL) throws -> EvalReport { try StrataJSON.read(EvalReport.self, at: url) }

    /// Flat metrics (see the header for the names); absent measurements have no entry.
    public func metricsDictionary() -> [String: Double] {
        var m: [String: Double] = [:]
        if let p = probes { addProbeMetrics(p, into: &m) }
        for s in validation {
            m["val_loss.\(s.name)"] = s.loss
            m["val_ppl.\(s.name)"] = s.perplexity
        }
        if validation.count > 1, let all = ValidationLoss.combined(validation) {
            m["val_loss.all"] = all
            m["val_ppl.all"] = Foundation.exp(all)
        }
        if let f = forgetting { addForgettingMetrics(f, into: &m) }
        return m
    }

    private func addProbeMetrics(_ p: ProbeReport, into m: inout [String: Double]) {
        func add(_ suffix: String, _ s: ProbeScore) {
            m["probe_acc" + suffix] = s.accuracy
            m["probe_acc_norm" + suffix] = s.accuracyNormalized
            m["probe_count" + suffix] = Double(s.count)
            if p.exactMatchEvaluated { m["probe_em" + suffix] = s.exactMatch }
        }
        add("", p.overall)
        m["probe_chance"] = p.overall.chance
        for (period, s) in p.byPeriod { add("." + period, s) }
        for (domain, s) in p.byDomain { add(".domain." + domain, s) }
    }

    private func addForgettingMetrics(_ f: ForgettingReport, into m: inout [String: Double]) {
        m["forgetting.probe_acc"] = f.probeAccuracy
        m["forgetting.probe_em"] = f.probeExactMatch
        for (k, v) in f.probeAccuracyByPeriod { m["forgetting.probe_acc." + k] = v }
        for (k, v) in f.probeExactMatchByPeriod { m["forgetting.probe_em." + k] = v }
        for (k, v) in f.probeAccuracyByDomain { m["forgetting.probe_acc.domain." + k] = v }
        for (k, v) in f.loss { m["forgetting.val_loss." + k] = v }
        m["forgetting.val_loss.mean"] = f.meanLossIncrease
        m["gain.probe_acc." + ProbeEval.newKnowledgePeriod] = f.newKnowledgeAccuracyGain
        m["gain.probe_em." + ProbeEval.newKnowledgePeriod] = f.newKnowledgeExactMatchGain
    }
}
