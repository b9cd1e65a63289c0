// PPO's clipped value loss (verl `compute_value_loss`, TRL PPO, OpenRLHF
// ValueLoss), per completion token with prediction v, the rollout's value v_old
// and the GAE return R:
//   v_c = clamp(v, v_old − ε_v, v_old + ε_v)
//   ℓ   = ½ · max((v − R)², (v_c − R)²)          (ℓ = ½ (v − R)² with no clip range)
// aggregated as Σ w·ℓ with the LossAggregation weights (verl applies the ½ after
// aggregating, which is the same). ∂ℓ/∂v = v − R where the unclipped square is
// the larger (or they tie), 0 where the clipped one is (v is then outside the
// range and v_c does not move with it). The clip fraction (verl
// `critic/vf_clipfrac`) is the share of active tokens where the clipped square wins.
// Shapes: values, old values, returns [B, T] on a TokenMask's grid.
// Leaves out: Huber losses, value normalisation (PopArt).

import Foundation
import StrataCore
import StrataTensor

public struct ValueLoss: Sendable, Equatable, Codable {
    /// ε_v: how far a prediction may move from the rollout's value before its loss stops pulling it; nil: no clip.
    public let clipRange: Float?

    public init(clipRange: Float? = 0.2) throws {
        if let c = clipRange, !(c > 0 && c.isFinite) {
            throw StrataError.config("ValueLoss", "value clip range = \(c)", fix: "use a positive clip range (0.2 in TRL and verl) or none")
        }
        self.clipRange = clipRange
    }

    public struct Result {
        /// Σ w·ℓ on the tape, [1].
        public let loss: Tensor
        /// Share of this call's active tokens where the clipped square is the larger.
        public let clipFraction: Float
        public let tokens: Int
    }

    /// ℓ and ∂ℓ/∂v for one token, and whether the clipped square won.
    public func perToken(value v: Double, oldValue old: Double, target r: Double) -> (value: Double, slope: Double, clipped: Bool) {
        let plain = (v - r) * (v - r)
        guard let c = clipRange.map(Double.init) else { return (0.5 * plain, v - r, false) }
        let vc = Swift.min(Swift.max(v, old - c), old + c)
        let capped = (vc - r) * (vc - r)
        return capped > plain ? (0.5 * capped, 0, true) : (0.5 * plain, v - r, false)
    }

    /// The loss of a micro-batch: `values` [B, T] predicted on `tape`, `oldValues` from the rollout, `returns` from GAE.
    public func callAsFunction(values: Tensor, oldValues: [Float], returns: [Float], mask: TokenMask,
                               normalizer: LossNormalizer, tape: Tape) throws -> Result {
        let op = "ValueLoss"
        try mask.check(values, "values", op)
        try mask.check(oldValues, "old values", op)
        try mask.check(returns, "returns", op)
        var clipped = 0
        let perToken = tape.pointwise(values) { i, v in
            guard mask.active[i] else { return (0, 0) }
            let t = self.perToken(value: Double(v), oldValue: Double(oldValues[i]), target: Double(returns[i]))
            if t.clipped { clipped += 1 }
            return (Float(t.value), Float(t.slope))
        }
        let loss = tape.weightedSum(perToken, normalizer.weights(for: mask))
        let n = mask.tokenCount
        return Result(loss: loss, clipFraction: n > 0 ? Float(clipped) / Float(n) : 0, tokens: n)
    }
}
