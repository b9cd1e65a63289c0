// One DPO step: for each micro-batch of P pairs, the policy's sequence log-probs
// of the 2P rows (chosen, then rejected), the cached reference log-probs of the
// same pairs, and the preference loss; gradients are scaled so micro-batches sum
// to the mean over the step's pairs. Metrics (reward accuracy, implicit rewards,
// margin, chosen log-prob, KL estimate, length) are pair-weighted means.
// Also the held-out version of the same numbers. Leaves out: padding-free packing of pairs.

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData

final class DPOObjective: StepObjective {
    let model: GPT2, loss: PreferenceLoss, pairs: [RenderedPair], loader: PairLoader
    let reference: (chosen: [Float], rejected: [Float])?
    let rowLength: Int, padID: Int32

    init(model: GPT2, loss: PreferenceLoss, pairs: [RenderedPair], loader: PairLoader, reference: ([Float], [Float])?,
         rowLength: Int, padID: Int32) {
        self.model = model; self.loss = loss; self.pairs = pairs; self.loader = loader
        self.reference = reference.map { (chosen: $0.0, rejected: $0.1) }; self.rowLength = rowLength; self.padID = padID
    }

    var state: LoaderState { loader.state }

    func run(accum: Int, tapeSeed: (Int) -> UInt64) throws -> StepOutcome {
        let micro = (0..<accum).map { _ in loader.next() }
        let total = Float(micro.reduce(0) { $0 + $1.count })
        var sum = 0.0, metrics = MetricSum(), tokens = 0
        for (i, idx) in micro.enumerated() {
            let tape = Tape(seed: tapeSeed(i))
            let r = try DPOObjective.pairLoss(model: model, loss: loss, pairs: pairs, idx, reference: reference,
                                              rowLength: rowLength, padID: padID, tape: tape)
            let w = Float(idx.count) / total
            tape.backward(r.result.loss, seed: w)
            sum += Double(r.result.loss.item() * w)
            metrics.add(r.result.metrics, weight: Double(w))
            tokens += r.tokens
        }
        let rows = 2 * Double(total)
        return StepOutcome(loss: sum, tokens: tokens, flops: 3 * rows * Double(rowLength) * model.forwardFlopsPerToken(context: rowLength),
                           metrics: metrics.values)
    }

    /// Loss and metrics for the pairs at `idx`; also the non-padding tokens of the batch.
    static func pairLoss(model: GPT2, loss: PreferenceLoss, pairs: [RenderedPair], _ idx: [Int], reference: (chosen: [Float], rejected: [Float])?,
                         rowLength: Int, padID: Int32, tape: Tape) throws -> (result: PreferenceLossResult, tokens: Int) {
        let (pb, rb) = try PreferenceData.batch(pairs, idx, rowLength: rowLength, padID: padID)
        let policy = try model.sequenceLogProbs(rb, tape: tape)
        let ref = reference.map { r in idx.map { r.chosen[$0] } + idx.map { r.rejected[$0] } }
        let result = try loss(try PreferencePairs(policy: policy, reference: ref, tape: tape), tape: tape)
        return (result, pb.lastIndex.reduce(0) { $0 + Int($1) + 1 })
    }

    /// Held-out loss ("all") and metrics over up to `batches` batches of validation pairs.
    static func heldOut(model: GPT2, loss: PreferenceLoss, pairs: [RenderedPair], reference: ([Float], [Float])?, rowLength: Int,
                        batch: Int, batches: Int, padID: Int32) throws -> [String: Double] {
        guard !pairs.isEmpty else { return [:] }
        var m = MetricSum()
        let ref = reference.map { (chosen: $0.0, rejected: $0.1) }
        for start in stride(from: 0, to: min(pairs.count, batch * batches), by: batch) {
            let idx = Array(start..<min(pairs.count, start + batch))
            let r = try pairLoss(model: model, loss: loss, pairs: pairs, idx, reference: ref, rowLength: rowLength, padID: padID, tape: .noGrad())
            m.add(r.result.metrics, weight: Double(idx.count))
        }
        var out = m.values
        out["all"] = out["loss"]
        return out
    }
}

/// Weighted means of preference metrics, named for metrics.jsonl.
struct MetricSum {
    private var sums: [String: Double] = [:], weight = 0.0

    mutating func add(_ m: PreferenceMetrics, weight w: Double) {
        var named: [String: Float] = ["loss": m.loss, "reward_acc": m.rewardAccuracy, "chosen_reward": m.chosenReward,
                                      "rejected_reward": m.rejectedReward, "margin": m.margin, "chosen_logp": m.chosenLogProb,
                                      "rejected_logp": m.rejectedLogProb, "length": m.meanLength]
        if let kl = m.kl { named["kl"] = kl }
        for (k, v) in named { sums[k, default: 0] += Double(v) * w }
        weight += w
    }

    var values: [String: Double] { weight > 0 ? sums.mapValues { $0 / weight } : [:] }
}
