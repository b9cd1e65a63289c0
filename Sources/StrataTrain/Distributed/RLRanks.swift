// The RL stages (GRPO, PPO) over the ranks of a data-parallel world. Sampling is
// what they split: the step's prompts are cut into N contiguous blocks and rank r
// generates block r only, every row with its global row number (rows are seeded by
// (batch, row), so a row's tokens do not depend on which rank drew it or on the
// world size); GRPO's groups thus stay whole on one rank. The replies are then
// all-gathered (JSON: Float and UInt64 round-trip exactly) in rank order, which is
// the single-process order, and everything after sampling — rewards, group
// advantages, PPO's GAE and whitening, the KL controller's input, old/reference
// log-probs and values, the batch's monitors — is computed by every rank from the
// same whole batch, so every rank holds the same bits one process computes. The
// update is split like the other stages' (micro-batch i on rank i mod N, gradients
// summed over the ranks); each micro-batch's loss and metrics are shared as exact
// per-micro-batch values and then combined in micro-batch order, as one process does.
// Leaves out: splitting the scoring and the log-prob passes (each rank repeats them
// over the whole batch; an HTTP reward endpoint sees every reply once per rank).

import Foundation
import StrataCore
import StrataRL

enum RLRanks {
    /// `samplesPerPrompt` replies to each of `records`, this rank's block sampled here and the rest gathered from
    /// the other ranks: the same rollouts, in the same order, as `engine.sample` on one process.
    static func sample(_ engine: RolloutEngine, _ records: [PromptRecord], step: Int, samplesPerPrompt: Int = 1, firstRow: Int = 0,
                       exchange: RankExchange?) throws -> [Rollout] {
        guard let x = exchange, x.size > 1 else {
            return try engine.sample(records, step: step, samplesPerPrompt: samplesPerPrompt, firstRow: firstRow)
        }
        let block = { (r: Int) in (records.count * r / x.size)..<(records.count * (r + 1) / x.size) }
        let mine = block(x.rank)
        let drawn = mine.isEmpty ? [] : try engine.sample(Array(records[mine]), step: step, samplesPerPrompt: samplesPerPrompt,
                                                          firstRow: firstRow + mine.lowerBound * samplesPerPrompt)
        var out: [Rollout] = []
        out.reserveCapacity(records.count * samplesPerPrompt)
        for (r, data) in x.allGather(try StrataJSON.encode(drawn, pretty: false)).enumerated() {
            for var ro in try StrataJSON.decode([Rollout].self, from: data, file: "rollouts of rank \(r)") {
                ro.promptIndex += block(r).lowerBound   // the sampler numbered prompts within the block
                out.append(ro)
            }
        }
        return out
    }

    /// Every micro-batch's values on every rank: each rank fills the micro-batches it trained (nil elsewhere), and
    /// the element-wise sum over the ranks adds zeros to each value, so the values arrive exactly.
    static func share(_ local: [[Double]?], width: Int, exchange: RankExchange?) -> [[Double]] {
        guard let x = exchange, x.size > 1 else { return local.map { $0 ?? [Double](repeating: 0, count: width) } }
        var flat = [Double](repeating: 0, count: local.count * width)
        for (i, v) in local.enumerated() { if let v { flat.replaceSubrange((i * width)..<((i + 1) * width), with: v) } }
        let sum = x.allReduceSum(flat)
        return local.indices.map { Array(sum[($0 * width)..<(($0 + 1) * width)]) }
    }
}

extension PolicyLossMetrics {
    /// The metrics as doubles (exact: every field is a Float or a count), to share with other ranks.
    var shared: [Double] {
        [Double(tokens), Double(clipFractionLow), Double(clipFractionHigh), Double(clipFraction), Double(dualClipFraction),
         Double(approxKL), Double(ppoKL), referenceKL == nil ? 0 : 1, Double(referenceKL ?? 0)]
    }
    static let sharedWidth = 9

    init(shared v: ArraySlice<Double>) {
        let b = v.startIndex
        self.init(tokens: Int(v[b]), clipFractionLow: Float(v[b + 1]), clipFractionHigh: Float(v[b + 2]), clipFraction: Float(v[b + 3]),
                  dualClipFraction: Float(v[b + 4]), approxKL: Float(v[b + 5]), ppoKL: Float(v[b + 6]),
                  referenceKL: v[b + 7] == 0 ? nil : Float(v[b + 8]))
    }
}
