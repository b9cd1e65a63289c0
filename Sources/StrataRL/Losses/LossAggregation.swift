// How a per-token loss ℓ[B, T] on a TokenMask m becomes the scalar that is
// back-propagated, and why each is exact under gradient accumulation. An
// optimiser step spans K micro-batches; its loss is defined over all of them:
//   tokenMean     Σ_{b,t} m·ℓ / N_tok                 (DAPO; verl "token-mean"; TRL "dapo")
//   sequenceMean  Σ_b (Σ_t m·ℓ / n_b) / N_seq         (original GRPO; verl "seq-mean-token-mean")
//   constant(C)   Σ_{b,t} m·ℓ / C                     (Dr. GRPO; TRL "dr_grpo" with
//                                                      C = sequences · max completion length)
// with N_tok the active tokens and N_seq the non-empty rows of the WHOLE step and
// n_b the active tokens of row b. Each is a weighted sum Σ w·ℓ with weights that
// depend only on the micro-batch's own mask and the step's N, so the micro-batch
// losses sum to the step's loss (and their gradients to its gradient) exactly,
// whatever the split — unlike dividing a per-micro-batch mean by K.
// Leaves out: data-parallel ranks (one process trains), verl's
// "seq-mean-token-sum".

import StrataCore

public enum LossAggregation: Sendable, Equatable, Codable {
    case tokenMean
    case sequenceMean
    /// Divide the masked token sum by this constant (> 0).
    case constant(Double)
}

/// The step-wide normaliser of a LossAggregation: build it once per optimiser step from every micro-batch's mask,
/// then pass it to each micro-batch's loss.
public struct LossNormalizer: Sendable, Equatable {
    public let aggregation: LossAggregation
    /// N_tok, N_seq or C (counts are at least 1, so an all-masked step gives a zero loss, not a division by zero).
    public let denominator: Double

    /// The normaliser of a step made of the micro-batches whose masks are `step`.
    public init(_ aggregation: LossAggregation, step: [TokenMask]) throws {
        let op = "LossNormalizer"
        guard !step.isEmpty else {
            throw StrataError.shape(op, "no micro-batch masks", fix: "pass the mask of every micro-batch in the optimiser step")
        }
        self.aggregation = aggregation
        switch aggregation {
        case .tokenMean: denominator = Double(Swift.max(step.reduce(0) { $0 + $1.tokenCount }, 1))
        case .sequenceMean: denominator = Double(Swift.max(step.reduce(0) { $0 + $1.sequenceCount }, 1))
        case .constant(let c):
            guard c > 0, c.isFinite else {
                throw StrataError.config(op, "constant loss normaliser = \(c)",
                                         fix: "use a positive constant, e.g. sequences per step × max completion length")
            }
            denominator = c
        }
    }

    /// w[B, T] with loss = Σ w·ℓ for a micro-batch on `mask`; 0 outside the mask.
    public func weights(for mask: TokenMask) -> [Float] {
        (0..<mask.count).map { i in
            guard mask.active[i] else { return 0 }
            switch aggregation {
            case .tokenMean, .constant: return Float(1 / denominator)
            case .sequenceMean: return Float(1 / (Double(mask.rowCounts[i / mask.time]) * denominator))
            }
        }
    }
}
