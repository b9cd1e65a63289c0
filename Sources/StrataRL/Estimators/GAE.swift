// Generalised advantage estimation (Schulman et al. 2016) over masked [B, T]
// per-token rewards r and values V, as verl's `compute_gae_advantage_return`
// does it, walking each row backwards over its active positions only:
//   δ_t = r_t + γ·V_next − V_t
//   A_t = δ_t + γλ·A_next
//   R_t = A_t + V_t                                 (the value target)
// where V_next and A_next are those of the next ACTIVE position in the row (0
// after the last one), so prompt and padding positions are skipped.
// Then `maskedWhiten` standardises advantages over the active tokens
// (verl's `masked_whiten`: unbiased variance, (x − μ)/√(σ² + 1e-8), optionally
// adding μ back) and `explainedVariance` scores a value head against returns.
// All sums run in Double. Outputs are 0 at inactive positions (verl leaves
// carried-over numbers there; nothing reads them).
// Leaves out: whitening inside GAE (call `maskedWhiten` on the result), multi-turn
// observation tokens, bootstrapping from a value after a truncated sequence.

import Foundation
import StrataCore

public struct GAE: Sendable, Equatable, Codable {
    /// Discount γ in [0, 1].
    public let gamma: Float
    /// Trace decay λ in [0, 1].
    public let lambda: Float

    public init(gamma: Float, lambda: Float) throws {
        for (name, v) in [("gamma", gamma), ("lambda", lambda)] where !(v >= 0 && v <= 1) {
            throw StrataError.config("GAE", "\(name) = \(v) is outside [0, 1]", fix: "set \(name) in [0, 1] (PPO uses gamma 1, lambda 0.95)")
        }
        self.gamma = gamma; self.lambda = lambda
    }

    public struct Output: Sendable, Equatable {
        /// A_t, [B, T], 0 outside the mask (not whitened).
        public let advantages: [Float]
        /// R_t = A_t + V_t, [B, T], 0 outside the mask: the value loss's targets.
        public let returns: [Float]
    }

    /// Advantages and returns of per-token `rewards` and `values` on `mask`'s grid.
    public func callAsFunction(rewards: [Float], values: [Float], mask: TokenMask) throws -> Output {
        try mask.check(rewards, "rewards", "GAE")
        try mask.check(values, "values", "GAE")
        var adv = [Float](repeating: 0, count: mask.count), ret = adv
        let g = Double(gamma), gl = Double(gamma) * Double(lambda)
        for b in 0..<mask.rows {
            var nextValue: Double = 0, nextAdv: Double = 0
            for t in stride(from: mask.time - 1, through: 0, by: -1) {
                let i = b * mask.time + t
                guard mask.active[i] else { continue }
                let v = Double(values[i])
                let delta = Double(rewards[i]) + g * nextValue - v
                nextAdv = delta + gl * nextAdv
                nextValue = v
                adv[i] = Float(nextAdv); ret[i] = Float(nextAdv + v)
            }
        }
        return Output(advantages: adv, returns: ret)
    }
}

/// (x − μ) / √(σ² + 1e-8) over the active tokens of `mask`, plus μ again when `keepMean` (verl's
/// `shift_mean=False`, TRL's reward whitening). μ is the masked mean and σ² the unbiased (Bessel-corrected)
/// masked variance, so at least two active tokens are required. 0 outside the mask.
public func maskedWhiten(_ values: [Float], mask: TokenMask, keepMean: Bool = false) throws -> [Float] {
    let op = "maskedWhiten"
    try mask.check(values, "values", op)
    guard let (mean, variance) = maskedMeanVariance(values, mask: mask) else {
        throw StrataError.data(op, "\(mask.tokenCount) active token(s); whitening needs at least 2",
                               fix: "whiten over a larger batch (more rows or longer completions)")
    }
    let inv = 1 / (variance + 1e-8).squareRoot()
    return (0..<mask.count).map { i in
        mask.active[i] ? Float((Double(values[i]) - mean) * inv + (keepMean ? mean : 0)) : 0
    }
}

/// 1 − Var[R − V] / (Var[R] + 1e-5) over the active tokens (verl's `critic/vf_explained_var`; unbiased
/// variances): 1 for a perfect value head, 0 for one that predicts the mean, negative for worse. Nil with
/// fewer than two active tokens.
public func explainedVariance(values: [Float], returns: [Float], mask: TokenMask) throws -> Float? {
    try mask.check(values, "values", "explainedVariance")
    try mask.check(returns, "returns", "explainedVariance")
    let residual = zip(returns, values).map { $0 - $1 }
    guard let (_, residualVar) = maskedMeanVariance(residual, mask: mask),
          let (_, returnVar) = maskedMeanVariance(returns, mask: mask) else { return nil }
    return Float(1 - residualVar / (returnVar + 1e-5))
}

/// Masked mean and unbiased variance in Double; nil with fewer than two active entries.
func maskedMeanVariance(_ values: [Float], mask: TokenMask) -> (mean: Double, variance: Double)? {
    let n = mask.tokenCount
    guard n >= 2 else { return nil }
    var sum: Double = 0
    for i in 0..<mask.count where mask.active[i] { sum += Double(values[i]) }
    let mean = sum / Double(n)
    var sq: Double = 0
    for i in 0..<mask.count where mask.active[i] { let d = Double(values[i]) - mean; sq += d * d }
    return (mean, sq / Double(n - 1))
}
