// KL estimators between the policy π and a reference π_ref from the log-probs
// of tokens sampled from π (Schulman, "Approximating KL divergence", 2020).
// With x = log π(a) − log π_ref(a) per token (the sign both verl's `kl_penalty`
// and OpenRLHF's `compute_approx_kl` use):
//   k1 = x                      unbiased, can be negative per token
//   k2 = ½ x²                   biased, ≥ 0, its gradient is the KL's gradient
//   k3 = e^{−x} − 1 + x         unbiased, ≥ 0 ("low_var_kl"; GRPO's KL term)
// k3 follows verl's numerics: −x is clamped to [−20, 20] before the exponential
// and the result to [−10, 10]; the slope is zero where a clamp is active, as in
// torch. k1 and k2 are not clamped (OpenRLHF also clamps them to ±10).
// Plain arrays serve reward shaping (no gradient); the tape form is a loss term.
// Shapes: per-token arrays and tensors are [B, T] on a TokenMask's grid.
// Leaves out: the "full" (whole-vocabulary) KL, verl's straight-through "k3+".

import Foundation
import StrataCore
import StrataTensor

public enum KLEstimator: String, Codable, Sendable, CaseIterable {
    case k1, k2, k3

    /// The estimate at x = log π − log π_ref and its derivative with respect to log π.
    public func evaluate(logRatio x: Double) -> (value: Double, slope: Double) {
        switch self {
        case .k1: return (x, 1)
        case .k2: return (0.5 * x * x, x)
        case .k3:
            let inner = Swift.min(Swift.max(-x, -20), 20)            // clamp(log π_ref − log π)
            let innerOpen = -x >= -20 && -x <= 20
            let ratio = Foundation.exp(inner)                         // π_ref / π
            let raw = ratio - inner - 1
            let value = Swift.min(Swift.max(raw, -10), 10)
            let outerOpen = raw >= -10 && raw <= 10
            // d/dx (e^{−x} − 1 + x) = 1 − e^{−x}
            return (value, innerOpen && outerOpen ? 1 - ratio : 0)
        }
    }

    /// Per-token estimates [B, T] (0 outside the mask) from plain log-probs: reward shaping, metrics.
    public func perToken(policy: [Float], reference: [Float], mask: TokenMask) throws -> [Float] {
        let op = "KLEstimator.\(rawValue)"
        try mask.check(policy, "policy log-probs", op)
        try mask.check(reference, "reference log-probs", op)
        return (0..<mask.count).map { i in
            mask.active[i] ? Float(evaluate(logRatio: Double(policy[i]) - Double(reference[i])).value) : 0
        }
    }

    /// Per-token estimates [B, T] with gradient to `policy` ([B, T] log-probs on `tape`); 0 and no gradient
    /// outside the mask. The reference is a constant (a frozen model's log-probs).
    public func perToken(policy: Tensor, reference: [Float], mask: TokenMask, tape: Tape) throws -> Tensor {
        let op = "KLEstimator.\(rawValue)"
        try mask.check(policy, "policy log-probs", op)
        try mask.check(reference, "reference log-probs", op)
        return tape.pointwise(policy) { i, lp in
            guard mask.active[i] else { return (0, 0) }
            let (v, s) = evaluate(logRatio: Double(lp) - Double(reference[i]))
            return (Float(v), Float(s))
        }
    }
}
