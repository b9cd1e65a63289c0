// The RL stages (GRPO, PPO) over the ranks of a data-parallel world. Sampling is
// what they split: the step's prompts are cut into N contiguous blocks and rank r
// generates block r only, every row with its global row number (rows are seeded by
// (batch, row), so a row's tokens do not depend on which rank drew it or on the
// world size); GRPO's groups thus stay whole on one rank. Each rank scores the
// replies it sampled; replies (JSON: Float and UInt64 round-trip exactly) and
// scores are then gathered in rank order, which is the single-process order, and
// everything after — group advantages, PPO's reward shaping, GAE and whitening,
// the KL controller's input, old/reference log-probs and values, the batch's
// monitors — is computed by every rank from the same whole batch, so every rank
// holds the same bits one process computes. The
// update is split like the other stages' (micro-batch i on rank i mod N, gradients
// summed over the ranks); each micro-batch's loss and metrics are shared as exact
// per-micro-batch values and then combined in micro-batch order, as one process does.
// Leaves out: splitting the log-prob and value passes after sampling (each rank
// repeats them over the whole batch).

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
        let block = { (r: Int) in blocks(records.count, ranks: x.size, rank: r) }
        let mine = block(x.rank)
        let drawn = mine.isEmpty ? [] : try engine.sample(Array(records[mine]), step: step, samplesPerPrompt: samplesPerPrompt,
                                                          firstRow: firstRow + mine.lowerBound * samplesPerPrompt)
        var out: [Rollout] = []
        out.reserveCapacity(records.count * samplesPerPrompt)
        for (r, data) in try x.allGather(try StrataJSON.encode(drawn, pretty: false)).enumerated() {
            for var ro in try StrataJSON.decode([Rollout].self, from: data, file: "rollouts of rank \(r)") {
                ro.promptIndex += block(r).lowerBound   // the sampler numbered prompts within the block
                out.append(ro)
            }
        }
        return out
    }

    /// Rank `rank`'s block of `count` prompts: contiguous, sizes differing by at most one.
    static func blocks(_ count: Int, ranks: Int, rank: Int) -> Range<Int> { (count * rank / ranks)..<(count * (rank + 1) / ranks) }

    /// The rewards of `items` (the replies of `sample`, `perPrompt` per prompt): each rank scores the replies it
    /// sampled and the scores are shared, so a reward model or judge runs once per reply in all and an HTTP endpoint
    /// sees each reply once. Each reply's total adds its sources' weighted scores in the recipe's order, as one
    /// process does; a source that scores each reply on its own (rules, HTTP) gives one process's bits.
    static func score(_ rewards: WeightedRewards, _ items: [RewardItem], perPrompt: Int, exchange: RankExchange?) throws -> WeightedRewards.Scores {
        guard let x = exchange, x.size > 1 else { return try rewards.score(items) }
        let prompts = blocks(items.count / perPrompt, ranks: x.size, rank: x.rank)
        let mine = (prompts.lowerBound * perPrompt)..<(prompts.upperBound * perPrompt)
        var scores = try rewards.score(Array(items[mine]))
        let width = 1 + scores.sources.count
        var local: [[Double]?] = Array(repeating: nil, count: items.count)
        for (k, i) in mine.enumerated() { local[i] = [scores.total[k]] + scores.sources.map { $0.scores[k] } }
        let all = share(local, width: width, exchange: x)
        scores.total = all.map { $0[0] }
        for j in scores.sources.indices { scores.sources[j].scores = all.map { $0[1 + j] } }
        return scores
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
