// Validation during training: mean next-token loss over the first
// `eval_batches` windows of each source's validation shard (sequential, so every
// evaluation sees the same tokens), plus their token-weighted mean as "all".
// Leaves out: probe evaluation (the eval stage does that).

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData

extension TrainingRun {
    func evaluate() throws {
        let result = try s.validate?(s.model)
            ?? Validation.losses(model: s.model, sources: s.sources, batch: s.recipe.train.batchSize,
                                 context: s.recipe.context, batches: s.recipe.train.evalBatches)
        guard !result.isEmpty else { return }
        s.state.validation = result
        let all = result["all"] ?? .nan
        try metrics.append(MetricsRecord(step: s.state.step, valLoss: all, valLossBySource: result))
        // Token losses (per source, SFT) get a perplexity; stage metrics (accuracy, margins...) are printed as they are.
        let tokenLosses = s.validate == nil || result["sft"] != nil
        let parts = result.keys.sorted().filter { $0 != "all" }
            .map { tokenLosses ? String(format: "%@ %.3f (ppl %.1f)", $0, result[$0]!, Foundation.exp(result[$0]!))
                                   : String(format: "%@ %.3f", $0, result[$0]!) }
        progress?.end()
        let head = tokenLosses
            ? String(format: "step %d: val loss %.4f (ppl %.1f)", s.state.step, all, Foundation.exp(all))
            : String(format: "step %d: val loss %.4f", s.state.step, all)
        s.log(head
              + (parts.count > 1 ? " — " + parts.joined(separator: ", ") : ""))
    }
}

public enum Validation {
    /// Mean loss per source over up to `batches` sequential batches of its validation shard, and "all".
    public static func losses(model: GPT2, sources: [PreparedSource], batch: Int, context: Int, batches: Int) throws -> [String: Double] {
        var out: [String: Double] = [:]
        var total = 0.0, count = 0
        for src in sources {
            guard let val = src.validation, val.count > context else { continue }
            let b = max(1, min(batch, (val.count - 1) / context))
            var loader = try MixtureLoader(sources: [MixtureSource(name: src.name, shard: val)], batch: b, context: context, seed: 0, randomWindows: false)
            let n = max(1, min(batches, loader.windowsPerEpoch(source: 0) / b))
            var sum = 0.0
            for _ in 0..<n {
                let bt = loader.next()
                sum += Double(model.loss(bt.inputs, targets: bt.targets, batch: b, time: context, tape: .noGrad()).item())
            }
            out[src.name] = sum / Double(n)
            total += sum; count += n
        }
        if count > 0 { out["all"] = total / Double(count) }
        return out
    }
}
