// Group-relative advantages for GRPO and its family. A batch holds P prompts ×
// G completions laid out group by group (rows g·G ..< (g+1)·G share a prompt, as
// TRL repeats prompts), each with one scalar reward r_i:
//   grpo     A_i = (r_i − mean_g) / (std_g + ε)     (Shao et al. 2024; TRL scale_rewards="group")
//   drGRPO   A_i =  r_i − mean_g                     (Liu et al. 2025; TRL scale_rewards="none")
//   rloo     A_i =  r_i − (Σ_g r − r_i)/(G − 1)      (Ahmadian et al. 2024; verl compute_rloo_outcome_advantage)
// std_g is the unbiased (Bessel-corrected) standard deviation, as torch.std.
// A group whose rewards are all equal (std_g = 0) gives every member A = 0, so it
// carries no gradient; it is flagged (TRL's `frac_reward_zero_std`) so dynamic
// sampling can drop and refill it. Sums run in Double.
// Leaves out: batch-level std scaling, multi-objective normalise-then-sum, NaN
// (unscorable) rewards — a reward source must give a number.

import Foundation
import StrataCore

public enum GroupAdvantageEstimator: String, Codable, Sendable, CaseIterable {
    case grpo
    case drGRPO = "dr_grpo"
    case rloo
}

public struct GroupAdvantages: Sendable, Equatable {
    /// A_i per completion [P·G].
    public let advantages: [Float]
    /// mean_g and std_g per group [P].
    public let groupMeans: [Float]
    public let groupStds: [Float]
    /// Whether group g's rewards are all equal (std_g ≤ 1e-8, torch.isclose's tolerance at 0) [P].
    public let zeroStd: [Bool]

    /// Share of groups with equal rewards (TRL's `frac_reward_zero_std`).
    public var fractionZeroStd: Float { zeroStd.isEmpty ? 0 : Float(zeroStd.filter { $0 }.count) / Float(zeroStd.count) }

    /// Advantages of `rewards` [P·G] grouped by `groupSize` G ≥ 2; ε is added to std_g by `.grpo` (TRL: 1e-4).
    public init(rewards: [Float], groupSize: Int, estimator: GroupAdvantageEstimator, epsilon: Float = 1e-4) throws {
        let op = "GroupAdvantages"
        guard groupSize >= 2 else {
            throw StrataError.config(op, "group_size = \(groupSize)", fix: "sample at least 2 completions per prompt: a group of one has no baseline")
        }
        guard !rewards.isEmpty, rewards.count % groupSize == 0 else {
            throw StrataError.shape(op, "\(rewards.count) rewards do not split into groups of \(groupSize)",
                                    fix: "give group_size completions for every prompt, group by group")
        }
        if let i = rewards.indices.first(where: { !rewards[$0].isFinite }) {
            throw StrataError(.numeric, op, "reward of completion \(i) is \(rewards[i])", fix: "check the reward source for that completion")
        }
        guard epsilon >= 0, epsilon.isFinite else {
            throw StrataError.config(op, "epsilon = \(epsilon)", fix: "use a small non-negative ε (1e-4)")
        }
        var adv = [Float](), means = [Float](), stds = [Float](), zero = [Bool]()
        let g = Double(groupSize)
        for start in stride(from: 0, to: rewards.count, by: groupSize) {
            let r = rewards[start..<(start + groupSize)].map(Double.init)
            let sum = r.reduce(0, +), mean = sum / g
            let std = (r.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (g - 1)).squareRoot()
            means.append(Float(mean)); stds.append(Float(std)); zero.append(std <= 1e-8)
            for ri in r {
                switch estimator {
                case .grpo: adv.append(Float((ri - mean) / (std + Double(epsilon))))
                case .drGRPO: adv.append(Float(ri - mean))
                case .rloo: adv.append(Float(ri - (sum - ri) / (g - 1)))
                }
            }
        }
        advantages = adv; groupMeans = means; groupStds = stds; zeroStd = zero
    }

    /// The sequence advantages spread over each row's completion tokens, [B, T], 0 outside the mask.
    public func perToken(_ mask: TokenMask) throws -> [Float] {
        guard mask.rows == advantages.count else {
            throw StrataError.shape("GroupAdvantages.perToken", "\(advantages.count) advantages for a \(mask.rows)-row mask",
                                    fix: "use the mask of the same completions, in the same order")
        }
        return (0..<mask.count).map { mask.active[$0] ? advantages[$0 / mask.time] : 0 }
    }
}
