// Pairwise preference losses over sequence log-probabilities, following TRL's
// DPOTrainer (1.16) formulas and naming; z is the per-pair preference logit:
//   sigmoid (DPO):  h = (πc − rc) − (πr − rr),  z = β·h,
//                   loss = −(1−ε)·logσ(z) − ε·logσ(−z)   (ε = label smoothing: the cDPO form of earlier TRL
//                   releases and the DPO authors' code; TRL 1.16 applies ε only in its "robust"/"aot" types)
//   ipo:            h = (πc − rc)/|c| − (πr − rr)/|r|  (per-token averages, as TRL does; the IPO authors confirmed
//                   this normalisation to TRL), loss = (h − 1/(2β))²
//   simpo:          reference-free, z = β·(πc/|c| − πr/|r|) − γ, loss as sigmoid (CPO trainer's SimPO form)
//   + sft term:     w · (−Σ πc / Σ |c|), the NLL per chosen token (TRL's "sft" loss type), added to the mean.
// π are policy log-probs summed over response tokens, r the reference's (constants), |c|, |r| the response
// token counts. The loss is the mean over pairs (plus the SFT term).
// Leaves out: TRL's other loss types (hinge, robust, bco_pair, …), f-divergences, WPO weighting, ld_alpha.

import Foundation
import StrataCore
import StrataTensor

public enum PreferenceLossType: String, Codable, Sendable, CaseIterable {
    case sigmoid, ipo, simpo
}

public struct PreferenceLossConfig: Codable, Equatable, Sendable {
    public var type: PreferenceLossType = .sigmoid
    /// Inverse temperature β (DPO/SimPO) or IPO's regulariser τ. TRL's default 0.1; SimPO papers use ~2.
    public var beta: Float = 0.1
    /// ε in [0, 0.5): the probability that a pair's label is flipped (sigmoid and simpo only).
    public var labelSmoothing: Float = 0
    /// SimPO's target margin γ (CPO trainer's simpo_gamma default).
    public var simpoGamma: Float = 0.5
    /// Weight of the chosen-response NLL added to the loss; 0 turns it off.
    public var sftWeight: Float = 0

    public init(type: PreferenceLossType = .sigmoid, beta: Float = 0.1, labelSmoothing: Float = 0,
                simpoGamma: Float = 0.5, sftWeight: Float = 0) {
        self.type = type; self.beta = beta; self.labelSmoothing = labelSmoothing
        self.simpoGamma = simpoGamma; self.sftWeight = sftWeight
    }

    public var needsReference: Bool { type != .simpo }

    /// Errors name the field (as a recipe would spell it).
    public func validate() throws {
        func bad(_ field: String, _ why: String) -> StrataError {
            .config("preference loss", "\(field) \(why)", fix: "set \(field) in the recipe")
        }
        if !(beta > 0) || !beta.isFinite { throw bad("beta", "must be positive and finite, got \(beta)") }
        if !(labelSmoothing >= 0 && labelSmoothing < 0.5) { throw bad("label_smoothing", "must be in [0, 0.5), got \(labelSmoothing)") }
        if labelSmoothing > 0 && type == .ipo { throw bad("label_smoothing", "has no meaning for the ipo loss (use 0)") }
        if !simpoGamma.isFinite { throw bad("simpo_gamma", "must be finite, got \(simpoGamma)") }
        if !(sftWeight >= 0) || !sftWeight.isFinite { throw bad("sft_weight", "must be ≥ 0 and finite, got \(sftWeight)") }
    }
}

/// Batch metrics, named after TRL's logged keys where one exists (rewards/accuracies → rewardAccuracy, …).
public struct PreferenceMetrics: Codable, Equatable, Sendable {
    public var loss: Float
    /// Fraction of pairs whose chosen implicit reward is strictly larger than the rejected one.
    public var rewardAccuracy: Float
    /// Mean implicit rewards: β·(π − ref) for sigmoid/ipo (TRL's definition, sums not averages, for ipo too),
    /// β·π/|len| for simpo (its reward is reference-free and length-normalised).
    public var chosenReward: Float
    public var rejectedReward: Float
    /// Mean of chosen − rejected reward.
    public var margin: Float
    /// Mean summed log-probability of the chosen / rejected responses under the policy.
    public var chosenLogProb: Float
    public var rejectedLogProb: Float
    /// Policy NLL per chosen response token (the SFT term before its weight).
    public var chosenNLL: Float
    /// Estimated KL(policy ‖ reference) per response token: Σ(π − ref) / Σ|len| over chosen and rejected rows
    /// (a k1 estimate on the dataset's responses, not on policy samples). nil without a reference.
    public var kl: Float?
    /// Mean response length in tokens over chosen and rejected rows.
    public var meanLength: Float
}

public struct PreferenceLossResult {
    /// Scalar loss [1] on the tape.
    public let loss: Tensor
    public let metrics: PreferenceMetrics
}

/// Log-probabilities of P pairs: policy tensors (with gradient) and, for reference-based losses, constants.
public struct PreferencePairs {
    public let chosen: Tensor
    public let rejected: Tensor
    public let referenceChosen: [Float]?
    public let referenceRejected: [Float]?
    public let chosenLengths: [Int]
    public let rejectedLengths: [Int]

    public init(chosen: Tensor, rejected: Tensor, referenceChosen: [Float]?, referenceRejected: [Float]?,
                chosenLengths: [Int], rejectedLengths: [Int]) {
        self.chosen = chosen; self.rejected = rejected
        self.referenceChosen = referenceChosen; self.referenceRejected = referenceRejected
        self.chosenLengths = chosenLengths; self.rejectedLengths = rejectedLengths
    }

    /// Split 2P rows laid out as TRL does (P chosen, then P rejected) into pairs; gradients flow back to `policy`.
    public init(policy: SequenceLogProbs, reference: [Float]?, tape: Tape) throws {
        let n = policy.logps.count
        guard n % 2 == 0, n > 0 else {
            throw StrataError.shape("preference pairs", "\(n) rows cannot be split into chosen and rejected halves",
                                    fix: "lay out P chosen rows followed by P rejected rows")
        }
        if let reference, reference.count != n {
            throw StrataError.shape("preference pairs", "\(reference.count) reference log-probs for \(n) rows", fix: "compute the reference on the same rows")
        }
        let p = n / 2
        self.init(chosen: tape.gatherRows(policy.logps, Array(0..<p)), rejected: tape.gatherRows(policy.logps, Array(p..<n)),
                  referenceChosen: reference.map { Array($0[0..<p]) }, referenceRejected: reference.map { Array($0[p..<n]) },
                  chosenLengths: Array(policy.lengths[0..<p]), rejectedLengths: Array(policy.lengths[p..<n]))
    }

    var count: Int { chosen.count }
}
