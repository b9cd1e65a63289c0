// PPO's clipped policy objective (Schulman et al. 2017), shared by PPO and GRPO,
// per completion token with x = log π_θ − log π_old, r = e^{clamp(x, ±20)}, advantage A:
//   ℓ = max(−A·r, −A·clip(r, 1 − ε_low, 1 + ε_high))      (clip-higher when ε_high > ε_low, DAPO)
//   ℓ = min(ℓ, −A·c)   when A < 0 and a dual clip c > 1 is set (Ye et al. 2019)
//   ℓ += β·kl_t        when a KL loss term is set (GRPO's k3 to a frozen reference)
// and the step's loss is Σ w·ℓ with the LossAggregation weights. This is verl's
// `compute_policy_loss_vanilla` / OpenRLHF's PolicyLoss / TRL's GRPO loss. With
// π_θ = π_old (one update per batch, GRPO's μ = 1) r = 1 and ∂ℓ/∂log π = −A:
// the gradient is A·∇log π. The slope of ℓ in log π is exact: −A·r where the
// unclipped branch is active, 0 where a clip is (torch's gradient; on a tie both
// branches have the same slope).
// Metrics follow TRL's names: clip_ratio/low_mean (r < 1 − ε_low, A < 0),
// clip_ratio/high_mean (r > 1 + ε_high, A > 0), their union (verl pg_clipfrac),
// the dual-clip share (verl pg_clipfrac_lower), approx-KL ½x² (TRL PPO
// approxkl) and verl's ppo_kl = mean(−x), each a mean over this call's active tokens.
// Shapes: log-probs, advantages [B, T] on a TokenMask's grid.
// Leaves out: sequence-level importance ratios (GSPO), TRL's two-sided δ clip,
// rollout importance-sampling corrections, an entropy bonus.

import Foundation
import StrataCore
import StrataTensor

public struct PolicyClip: Sendable, Equatable, Codable {
    /// ε_low: the ratio is clipped below at 1 − ε_low.
    public let low: Float
    /// ε_high: the ratio is clipped above at 1 + ε_high (DAPO's clip-higher uses 0.28 with ε_low 0.2).
    public let high: Float
    /// Dual-clip bound c > 1 for negative advantages; nil: off.
    public let dual: Float?

    public init(low: Float = 0.2, high: Float? = nil, dual: Float? = nil) throws {
        let op = "PolicyClip"
        guard low > 0, low < 1 else {
            throw StrataError.config(op, "clip epsilon_low = \(low)", fix: "use 0 < epsilon_low < 1 (0.2 is PPO's)")
        }
        let high = high ?? low
        guard high > 0, high.isFinite else {
            throw StrataError.config(op, "clip epsilon_high = \(high)", fix: "use a positive epsilon_high (0.28 for clip-higher)")
        }
        if let c = dual, !(c > 1 && c.isFinite) {
            throw StrataError.config(op, "dual clip c = \(c)", fix: "use c > 1 (3 is the paper's) or turn dual clip off")
        }
        self.low = low; self.high = high; self.dual = dual
    }
}

/// β·kl_t added to every token's loss (GRPO: k3 to the reference, β = 0.04 in the paper, 0 by default in TRL).
public struct KLLossTerm: Sendable, Equatable, Codable {
    public let beta: Float
    public let estimator: KLEstimator

    public init(beta: Float, estimator: KLEstimator = .k3) throws {
        guard beta > 0, beta.isFinite else {
            throw StrataError.config("KLLossTerm", "beta = \(beta)", fix: "use a positive β, or no KL term (β = 0)")
        }
        self.beta = beta; self.estimator = estimator
    }
}

public struct PolicyLossMetrics: Sendable, Equatable {
    /// Active tokens this call averaged over (to combine micro-batch metrics as weighted means).
    public let tokens: Int
    public let clipFractionLow: Float
    public let clipFractionHigh: Float
    /// clipFractionLow + clipFractionHigh: tokens whose clipped branch is active.
    public let clipFraction: Float
    /// Tokens with A < 0 where the dual clip is active (0 without a dual clip).
    public let dualClipFraction: Float
    /// mean ½(log π_θ − log π_old)².
    public let approxKL: Float
    /// mean (log π_old − log π_θ).
    public let ppoKL: Float
    /// mean kl_t to the reference when a KL term is set.
    public let referenceKL: Float?

    /// (Public so a data-parallel stage can rebuild another rank's micro-batch metrics before combining them.)
    public init(tokens: Int, clipFractionLow: Float, clipFractionHigh: Float, clipFraction: Float, dualClipFraction: Float,
                approxKL: Float, ppoKL: Float, referenceKL: Float?) {
        self.tokens = tokens; self.clipFractionLow = clipFractionLow; self.clipFractionHigh = clipFractionHigh
        self.clipFraction = clipFraction; self.dualClipFraction = dualClipFraction; self.approxKL = approxKL; self.ppoKL = ppoKL
        self.referenceKL = referenceKL
    }

    /// The metrics of a whole step from its micro-batches': every mean weighted by its token count.
    public static func combined(_ parts: [PolicyLossMetrics]) -> PolicyLossMetrics {
        let n = parts.reduce(0) { $0 + $1.tokens }
        func mean(_ f: (PolicyLossMetrics) -> Float) -> Float {
            n == 0 ? 0 : Float(parts.reduce(0.0) { $0 + Double(f($1)) * Double($1.tokens) } / Double(n))
        }
        let withKL = !parts.isEmpty && parts.allSatisfy { $0.referenceKL != nil }
        return PolicyLossMetrics(tokens: n, clipFractionLow: mean(\.clipFractionLow), clipFractionHigh: mean(\.clipFractionHigh),
                                 clipFraction: mean(\.clipFraction), dualClipFraction: mean(\.dualClipFraction),
                                 approxKL: mean(\.approxKL), ppoKL: mean(\.ppoKL), referenceKL: withKL ? mean { $0.referenceKL! } : nil)
    }
}

public struct PolicyLossResult {
    /// Σ w·ℓ on the tape, [1].
    public let loss: Tensor
    public let metrics: PolicyLossMetrics
}

public struct PolicyLoss: Sendable, Equatable {
    public let clip: PolicyClip
    public let klTerm: KLLossTerm?

    public init(clip: PolicyClip, klTerm: KLLossTerm? = nil) {
        self.clip = clip; self.klTerm = klTerm
    }

    /// Where a token's loss comes from.
    public enum Region: Sendable, Equatable { case unclipped, clippedLow, clippedHigh, dualClipped }

    /// ℓ and ∂ℓ/∂log π_θ for one token (no KL term).
    public func surrogate(logRatio x: Double, advantage a: Double) -> (value: Double, slope: Double, region: Region) {
        let xc = Swift.min(Swift.max(x, -20), 20)
        let ratio = Foundation.exp(xc)
        let clipped = Swift.min(Swift.max(ratio, 1 - Double(clip.low)), 1 + Double(clip.high))
        let plain = -a * ratio, capped = -a * clipped
        var value = plain, slope = (x >= -20 && x <= 20) ? -a * ratio : 0, region = Region.unclipped
        if capped > plain {
            value = capped; slope = 0
            region = a < 0 ? .clippedLow : .clippedHigh
        }
        if let c = clip.dual, a < 0, -a * Double(c) < value {
            value = -a * Double(c); slope = 0; region = .dualClipped
        }
        return (value, slope, region)
    }

    /// The loss of a micro-batch: `logProbs` [B, T] of the sampled tokens under π_θ (on `tape`), `oldLogProbs`
    /// under the policy that sampled them, `advantages` [B, T], and — with a KL term — `referenceLogProbs`.
    public func callAsFunction(logProbs: Tensor, oldLogProbs: [Float], advantages: [Float], referenceLogProbs: [Float]? = nil,
                               mask: TokenMask, normalizer: LossNormalizer, tape: Tape) throws -> PolicyLossResult {
        let op = "PolicyLoss"
        try mask.check(logProbs, "log-probs", op)
        try mask.check(oldLogProbs, "old log-probs", op)
        try mask.check(advantages, "advantages", op)
        if let klTerm {
            guard let referenceLogProbs else {
                throw StrataError.config(op, "a KL term (beta \(klTerm.beta)) but no reference log-probs",
                                         fix: "compute the reference model's log-probs of the sampled tokens, or set beta 0")
            }
            try mask.check(referenceLogProbs, "reference log-probs", op)
        }
        var tally = MetricTally()
        let perToken = tape.pointwise(logProbs) { i, lp in
            guard mask.active[i] else { return (0, 0) }
            let x = Double(lp) - Double(oldLogProbs[i]), a = Double(advantages[i])
            var (value, slope, region) = surrogate(logRatio: x, advantage: a)
            var kl: Double?
            if let klTerm, let ref = referenceLogProbs {
                let k = klTerm.estimator.evaluate(logRatio: Double(lp) - Double(ref[i]))
                value += Double(klTerm.beta) * k.value; slope += Double(klTerm.beta) * k.slope; kl = k.value
            }
            tally.add(region: region, logRatio: x, kl: kl)
            return (Float(value), Float(slope))
        }
        let loss = tape.weightedSum(perToken, normalizer.weights(for: mask))
        return PolicyLossResult(loss: loss, metrics: tally.metrics(tokens: mask.tokenCount, withKL: klTerm != nil))
    }
}

/// Running sums behind PolicyLossMetrics.
private struct MetricTally {
    var low = 0, high = 0, dual = 0
    var approxKL: Double = 0, ppoKL: Double = 0, referenceKL: Double = 0

    mutating func add(region: PolicyLoss.Region, logRatio x: Double, kl: Double?) {
        switch region {
        case .unclipped: break
        case .clippedLow: low += 1
        case .clippedHigh: high += 1
        case .dualClipped: dual += 1
        }
        approxKL += 0.5 * x * x; ppoKL -= x; referenceKL += kl ?? 0
    }

    func metrics(tokens: Int, withKL: Bool) -> PolicyLossMetrics {
        let n = Double(Swift.max(tokens, 1))
        func mean(_ v: Double) -> Float { Float(v / n) }
        // A dual-clipped token has A < 0 and r > c: its ratio was above the clip range, never below it.
        return PolicyLossMetrics(tokens: tokens, clipFractionLow: mean(Double(low)), clipFractionHigh: mean(Double(high)),
                                 clipFraction: mean(Double(low + high)), dualClipFraction: mean(Double(dual)),
                                 approxKL: mean(approxKL), ppoKL: mean(ppoKL), referenceKL: withKL ? mean(referenceKL) : nil)
    }
}
