// PreferenceLoss: builds the configured loss (see PreferenceLoss.swift for the
// formulas) from tape ops on the policy log-probs, and computes the batch metrics
// in Double from the values. Inputs are checked (counts, lengths, finite
// reference values) and rejected with StrataError rather than trapping.
// Leaves out: reductions other than the mean over pairs, per-pair weights.

import Foundation
import StrataCore
import StrataTensor

public struct PreferenceLoss: Sendable {
    public let config: PreferenceLossConfig

    public init(_ config: PreferenceLossConfig) throws {
        try config.validate()
        self.config = config
    }

    /// The loss over P pairs and its metrics.
    public func callAsFunction(_ pairs: PreferencePairs, tape: Tape) throws -> PreferenceLossResult {
        try check(pairs)
        let beta = config.beta
        let h = logRatioDifference(pairs, tape: tape)                                        // [P]
        var perPair: Tensor
        switch config.type {
        case .sigmoid: perPair = smoothedLogistic(tape.scale(h, beta), tape: tape)
        case .simpo: perPair = smoothedLogistic(tape.add(tape.scale(h, beta), Tensor([-config.simpoGamma], shape: [1])), tape: tape)
        case .ipo:
            let d = tape.add(h, Tensor([-1 / (2 * beta)], shape: [1]))
            perPair = tape.mul(d, d)
        }
        var loss = tape.mean(perPair)
        let chosenTokens = Float(pairs.chosenLengths.reduce(0, +))
        if config.sftWeight > 0 {
            loss = tape.add(loss, tape.scale(tape.sum(pairs.chosen), -config.sftWeight / chosenTokens))
        }
        return PreferenceLossResult(loss: loss, metrics: metrics(pairs, loss: loss.item()))
    }

    /// h per pair: (πc − rc) − (πr − rr) for sigmoid, the per-token version for ipo, πc/|c| − πr/|r| for simpo.
    func logRatioDifference(_ pairs: PreferencePairs, tape: Tape) -> Tensor {
        let p = pairs.count
        let normalised = config.type != .sigmoid
        let wc = (0..<p).map { normalised ? 1 / Float(pairs.chosenLengths[$0]) : 1 }
        let wr = (0..<p).map { normalised ? 1 / Float(pairs.rejectedLengths[$0]) : 1 }
        var offset = [Float](repeating: 0, count: p)
        if config.type != .simpo, let rc = pairs.referenceChosen, let rr = pairs.referenceRejected {
            for i in 0..<p {
                let c = Double(rc[i]) * Double(wc[i]), r = Double(rr[i]) * Double(wr[i])
                offset[i] = Float(r - c)
            }
        }
        let c = normalised ? tape.mul(pairs.chosen, Tensor(wc, shape: [p])) : pairs.chosen
        let r = normalised ? tape.mul(pairs.rejected, Tensor(wr, shape: [p])) : pairs.rejected
        return tape.add(tape.sub(c, r), Tensor(offset, shape: [p]))
    }

    /// −(1−ε)·logσ(z) − ε·logσ(−z).
    func smoothedLogistic(_ z: Tensor, tape: Tape) -> Tensor {
        let eps = config.labelSmoothing
        let clean = tape.scale(tape.logSigmoid(z), -(1 - eps))
        guard eps > 0 else { return clean }
        return tape.add(clean, tape.scale(tape.logSigmoid(tape.scale(z, -1)), -eps))
    }

    func check(_ pairs: PreferencePairs) throws {
        let op = "preference loss (\(config.type.rawValue))", p = pairs.count
        guard p > 0, pairs.rejected.count == p, pairs.chosenLengths.count == p, pairs.rejectedLengths.count == p else {
            throw StrataError.shape(op, "chosen \(pairs.chosen.shape), rejected \(pairs.rejected.shape), "
                                    + "\(pairs.chosenLengths.count)/\(pairs.rejectedLengths.count) lengths", fix: "give one value per pair")
        }
        if let bad = (pairs.chosenLengths + pairs.rejectedLengths).firstIndex(where: { $0 <= 0 }) {
            throw StrataError.data(op, "\(bad < p ? "chosen" : "rejected") response of pair \(bad % p) has no tokens",
                                   fix: "drop pairs with empty responses")
        }
        if config.needsReference {
            guard let rc = pairs.referenceChosen, let rr = pairs.referenceRejected, rc.count == p, rr.count == p else {
                throw StrataError.config(op, "needs reference log-probs for all \(p) pairs",
                                         fix: "compute them with the reference model (or use the simpo loss)")
            }
            if let i = (rc + rr).firstIndex(where: { !$0.isFinite }) {
                throw StrataError(.numeric, op, "reference log-prob \(i) is \((rc + rr)[i])", fix: "recompute the reference cache")
            }
        }
    }
}
