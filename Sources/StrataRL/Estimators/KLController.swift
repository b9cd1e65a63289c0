// The KL coefficient β of PPO's reward penalty, fixed or adapted toward a target
// KL (Ziegler et al. 2019, §2.2; verl's AdaptiveKLController):
//   e = clip(KL_observed / KL_target − 1, −0.2, 0.2)
//   β ← β · (1 + e · n / horizon)
// where n is the number of samples (sequences) behind the observation. The
// state is Codable as a flat JSON object ({"type": "adaptive", "coefficient",
// "target", "horizon"}) and validated when decoded, so a resumed run carries on
// with the same β.
// Leaves out: PID-style controllers, per-token targets.

import Foundation
import StrataCore

public enum KLController: Sendable, Equatable {
    case fixed(coefficient: Double)
    case adaptive(coefficient: Double, target: Double, horizon: Double)

    /// A controller that never changes β.
    public static func makeFixed(_ coefficient: Double) throws -> KLController {
        let c = KLController.fixed(coefficient: coefficient)
        try c.validate()
        return c
    }

    /// A controller starting at `initial` that moves β toward KL `target` over `horizon` samples.
    public static func makeAdaptive(initial: Double, target: Double, horizon: Double) throws -> KLController {
        let c = KLController.adaptive(coefficient: initial, target: target, horizon: horizon)
        try c.validate()
        return c
    }

    /// The current β.
    public var coefficient: Double {
        switch self {
        case .fixed(let c), .adaptive(let c, _, _): return c
        }
    }

    /// Feed one step's observed KL from `samples` sequences, in the units of the target (TRL measures the mean over
    /// rows of the per-token KL summed over each row, RewardShaping's `meanSequenceKL`; verl the mean of per-row
    /// token means, `meanTokenKL`). A fixed controller ignores it.
    public mutating func update(observedKL: Double, samples: Int) {
        guard case .adaptive(let beta, let target, let horizon) = self else { return }
        let error = Swift.min(Swift.max(observedKL / target - 1, -0.2), 0.2)
        self = .adaptive(coefficient: beta * (1 + error * Double(samples) / horizon), target: target, horizon: horizon)
    }

    public func validate() throws {
        let op = "KLController"
        guard coefficient >= 0, coefficient.isFinite else {
            throw StrataError.config(op, "kl coefficient = \(coefficient)", fix: "use a finite β ≥ 0")
        }
        if case .adaptive(_, let target, let horizon) = self {
            guard target > 0, target.isFinite else {
                throw StrataError.config(op, "target_kl = \(target)", fix: "use a positive target KL (e.g. 6, as Ziegler et al.)")
            }
            guard horizon > 0, horizon.isFinite else {
                throw StrataError.config(op, "horizon = \(horizon)", fix: "use a positive horizon in samples (e.g. 10000)")
            }
        }
    }
}

extension KLController: Codable {
    private enum Kind: String, Codable { case fixed, adaptive }
    private enum Keys: String, CodingKey { case type, coefficient, target, horizon }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let beta = try c.decode(Double.self, forKey: .coefficient)
        switch try c.decode(Kind.self, forKey: .type) {
        case .fixed: self = .fixed(coefficient: beta)
        case .adaptive:
            self = .adaptive(coefficient: beta, target: try c.decode(Double.self, forKey: .target),
                             horizon: try c.decode(Double.self, forKey: .horizon))
        }
        try validate()
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(coefficient, forKey: .coefficient)
        switch self {
        case .fixed: try c.encode(Kind.fixed, forKey: .type)
        case .adaptive(_, let target, let horizon):
            try c.encode(Kind.adaptive, forKey: .type)
            try c.encode(target, forKey: .target)
            try c.encode(horizon, forKey: .horizon)
        }
    }
}
