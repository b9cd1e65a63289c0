// Per-token rewards for PPO with the KL penalty in the reward (Ziegler et al.
// 2019; OpenRLHF `compute_reward`, verl `apply_kl_penalty`):
//   r_t = −β · kl_t                         at every completion token
//   r_T += s                                at the row's last completion token
// with kl_t one of the KL estimators on (log π_old − log π_ref) of the sampled
// tokens and s the sequence score, optionally whitened over the batch
// ((s − μ)/√(σ² + 1e-8), unbiased σ²) and then clipped to [−c, c] (OpenRLHF's
// reward_clip_range). Shapes: scores [B]; log-probs, rewards, kl [B, T].
// Leaves out: running (cross-batch) reward normalisation, per-token scores
// (process rewards), missing-end-of-turn penalties (the reward sources' job).

import Foundation
import StrataCore

public struct RewardShaping: Sendable, Equatable, Codable {
    /// β ≥ 0: the weight of the KL penalty (the KL controller's current coefficient).
    public let klCoefficient: Float
    public let estimator: KLEstimator
    /// Standardise the B sequence scores before clipping.
    public let whitenScores: Bool
    /// Clip scores to [−c, c] (after whitening); nil: no clipping.
    public let scoreClip: Float?

    public init(klCoefficient: Float, estimator: KLEstimator = .k1, whitenScores: Bool = false, scoreClip: Float? = nil) throws {
        let op = "RewardShaping"
        guard klCoefficient >= 0, klCoefficient.isFinite else {
            throw StrataError.config(op, "kl coefficient = \(klCoefficient)", fix: "use a finite β ≥ 0 (0 turns the penalty off)")
        }
        if let c = scoreClip, !(c > 0 && c.isFinite) {
            throw StrataError.config(op, "score clip = \(c)", fix: "use a positive clip bound or none")
        }
        self.klCoefficient = klCoefficient; self.estimator = estimator
        self.whitenScores = whitenScores; self.scoreClip = scoreClip
    }

    public struct Output: Sendable, Equatable {
        /// r_t [B, T], 0 outside the mask.
        public let rewards: [Float]
        /// kl_t [B, T], 0 outside the mask (before multiplying by β).
        public let kl: [Float]
        /// The scores placed at the last tokens, after whitening and clipping [B].
        public let scores: [Float]
        /// Mean over rows of Σ_t kl_t (TRL's `objective/kl`).
        public let meanSequenceKL: Float
        /// Mean over rows of the row's mean kl_t (verl's `actor/reward_kl_penalty`).
        public let meanTokenKL: Float
    }

    /// Token rewards for sequence `scores` [B] and the sampled tokens' log-probs under the sampling policy
    /// and the reference, [B, T] on `mask`. Every row must have at least one completion token.
    public func callAsFunction(scores: [Float], policy: [Float], reference: [Float], mask: TokenMask) throws -> Output {
        let op = "RewardShaping"
        guard scores.count == mask.rows else {
            throw StrataError.shape(op, "\(scores.count) scores for \(mask.rows) rows", fix: "give one score per row")
        }
        if let r = scores.indices.first(where: { !scores[$0].isFinite }) {
            throw StrataError(.numeric, op, "score of row \(r) is \(scores[r])", fix: "check the reward source of that row")
        }
        if let r = mask.rowCounts.firstIndex(of: 0) {
            throw StrataError.data(op, "row \(r) has no completion tokens to carry its score", fix: "drop empty completions before scoring")
        }
        let kl = try estimator.perToken(policy: policy, reference: reference, mask: mask)
        let shaped = try shapeScores(scores)
        var rewards = kl.map { -klCoefficient * $0 }
        var klSum: Double = 0, klMeans: Double = 0
        for b in 0..<mask.rows {
            rewards[b * mask.time + mask.lastActive(row: b)!] += shaped[b]
            var row: Double = 0
            for t in 0..<mask.time { row += Double(kl[b * mask.time + t]) }
            klSum += row; klMeans += row / Double(mask.rowCounts[b])
        }
        let rows = Double(mask.rows)
        return Output(rewards: rewards, kl: kl, scores: shaped, meanSequenceKL: Float(klSum / rows), meanTokenKL: Float(klMeans / rows))
    }

    /// Whitening (over the batch) then clipping of the sequence scores.
    func shapeScores(_ scores: [Float]) throws -> [Float] {
        var s = scores
        if whitenScores {
            let rowMask = try TokenMask(rows: 1, time: s.count, active: [Bool](repeating: true, count: s.count))
            s = try maskedWhiten(s, mask: rowMask)
        }
        if let c = scoreClip { s = s.map { Swift.min(Swift.max($0, -c), c) } }
        return s
    }
}
