// Batch metrics for the preference losses, computed in Double from tensor values
// (no gradient): implicit rewards and their accuracy and margin, policy log-prob
// means, chosen NLL per token, the KL estimate to the reference, mean length.
// Definitions are documented on PreferenceMetrics. Leaves out: entropy and
// top-1 token accuracy (they need the logits, which this level never sees).

import Foundation
import StrataTensor

extension PreferenceLoss {
    /// Implicit rewards of each side, per pair.
    func rewards(_ pairs: PreferencePairs) -> (chosen: [Double], rejected: [Double]) {
        let beta = Double(config.beta), p = pairs.count
        let pc = pairs.chosen.toArray(), pr = pairs.rejected.toArray()
        if config.type == .simpo {
            return ((0..<p).map { beta * Double(pc[$0]) / Double(pairs.chosenLengths[$0]) },
                    (0..<p).map { beta * Double(pr[$0]) / Double(pairs.rejectedLengths[$0]) })
        }
        let rc = pairs.referenceChosen!, rr = pairs.referenceRejected!
        return ((0..<p).map { beta * (Double(pc[$0]) - Double(rc[$0])) },
                (0..<p).map { beta * (Double(pr[$0]) - Double(rr[$0])) })
    }

    func metrics(_ pairs: PreferencePairs, loss: Float) -> PreferenceMetrics {
        let p = pairs.count, n = Double(p)
        let (rc, rr) = rewards(pairs)
        let pc = pairs.chosen.toArray().map(Double.init), pr = pairs.rejected.toArray().map(Double.init)
        let wins = (0..<p).filter { rc[$0] > rr[$0] }.count
        let chosenTokens = Double(pairs.chosenLengths.reduce(0, +)), rejectedTokens = Double(pairs.rejectedLengths.reduce(0, +))
        var kl: Float? = nil
        if let refC = pairs.referenceChosen, let refR = pairs.referenceRejected {
            var total = 0.0
            for i in 0..<p { total += (pc[i] - Double(refC[i])) + (pr[i] - Double(refR[i])) }
            kl = Float(total / (chosenTokens + rejectedTokens))
        }
        return PreferenceMetrics(
            loss: loss,
            rewardAccuracy: Float(Double(wins) / n),
            chosenReward: Float(rc.reduce(0, +) / n),
            rejectedReward: Float(rr.reduce(0, +) / n),
            margin: Float(zip(rc, rr).map { $0 - $1 }.reduce(0, +) / n),
            chosenLogProb: Float(pc.reduce(0, +) / n),
            rejectedLogProb: Float(pr.reduce(0, +) / n),
            chosenNLL: Float(-pc.reduce(0, +) / chosenTokens),
            kl: kl,
            meanLength: Float((chosenTokens + rejectedTokens) / (2 * n)))
    }
}
