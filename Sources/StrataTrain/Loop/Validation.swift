// Validation during training. A stage hands the loop a `Validator` whose result
// says what it measured: next-token losses per source (pretraining mixtures, SFT's
// held-out conversations) or a pair objective's held-out loss and metrics (reward
// model, DPO). The loop records it in metrics.jsonl and lineage and prints it —
// perplexity only for token losses — without knowing which stage it runs.
// Token losses have one path here: the sum of per-position cross-entropy over
// every scored position, divided by their count — per source and over all
// sources together ("all" is token-weighted, not a mean of batch means).
// Leaves out: probe evaluation (StrataEval does that).

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataEval

/// What one validation pass measured.
public struct ValidationResult: Sendable, Equatable {
    public enum Measure: Sendable { case tokenLoss, pairLoss }
    public var measure: Measure
    /// The headline figure ("all"): token-weighted loss over every source, or the held-out pair loss.
    public var overall: Double
    /// Per source (token losses) or named held-out metrics (pair objectives).
    public var parts: [String: Double]

    public init(measure: Measure, overall: Double, parts: [String: Double]) {
        self.measure = measure; self.overall = overall; self.parts = parts
    }

    /// As metrics.jsonl and lineage store it: the parts plus "all".
    public var dictionary: [String: Double] { parts.merging(["all": overall]) { $1 } }
}

/// Measures the live model on held-out data; nil when there is nothing to measure.
public struct Validator {
    public var run: () throws -> ValidationResult?
    public init(_ run: @escaping () throws -> ValidationResult?) { self.run = run }
}

/// Summed next-token loss over scored positions, per named source; the one token-loss accumulator.
public struct TokenLossSum {
    private(set) var sums: [String: (loss: Double, tokens: Int)] = [:]
    public init() {}

    /// Adds a batch whose mean loss over `tokens` scored positions was `meanLoss`.
    public mutating func add(_ source: String, meanLoss: Double, tokens: Int) {
        guard tokens > 0 else { return }
        sums[source, default: (0, 0)].loss += meanLoss * Double(tokens)
        sums[source, default: (0, 0)].tokens += tokens
    }

    public var result: ValidationResult? {
        let tokens = sums.values.reduce(0) { $0 + $1.tokens }
        guard tokens > 0 else { return nil }
        let total = sums.values.reduce(0.0) { $0 + $1.loss }
        return ValidationResult(measure: .tokenLoss, overall: total / Double(tokens),
                                parts: sums.mapValues { $0.loss / Double($0.tokens) })
    }
}

extension Validator {
    /// Next-token loss over the first `batches` × B sequential windows of each source's validation shard (every
    /// evaluation sees the same tokens), through StrataEval's validation loss — the same numbers `strata eval` reports.
    public static func sources(_ model: any CausalLM, _ sources: [PreparedSource], batch: Int, context: Int, batches: Int) -> Validator {
        Validator {
            var sum = TokenLossSum()
            for src in sources {
                guard let val = src.validation, val.count > context else { continue }
                let b = max(1, min(batch, (val.count - 1) / context))
                let windows = max(1, min(batches, (val.count - 1) / context / b)) * b
                let loss = try ValidationLoss.evaluate(model: model, shard: val, name: src.name,
                                                       config: .init(windows: windows, context: context, batch: b))
                sum.add(src.name, meanLoss: loss.loss, tokens: loss.tokens)
            }
            return sum.result
        }
    }
}

extension TrainingRun {
    /// Validation on rank 0 only (the others go on to the next step and meet it at its first collective).
    func evaluate() throws {
        guard s.writes else { return }
        try s.engine.pullToHost()
        guard let result = try s.parts.validation.run() else { return }
        let all = result.overall
        s.state.validation = result.dictionary
        try record(MetricsRecord(step: s.state.step, valLoss: all, valLossBySource: result.dictionary))
        let tokenLosses = result.measure == .tokenLoss
        let parts = result.parts.keys.sorted()
            .map { tokenLosses ? String(format: "%@ %.3f (ppl %.1f)", $0, result.parts[$0]!, Foundation.exp(result.parts[$0]!))
                               : String(format: "%@ %.3f", $0, result.parts[$0]!) }
        progress?.end()
        let head = tokenLosses
            ? String(format: "step %d: val loss %.4f (ppl %.1f)", s.state.step, all, Foundation.exp(all))
            : String(format: "step %d: val loss %.4f", s.state.step, all)
        s.log(head + (parts.count > 1 ? " — " + parts.joined(separator: ", ") : ""))
    }
}
