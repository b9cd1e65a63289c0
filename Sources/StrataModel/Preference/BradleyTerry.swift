// Bradley–Terry pairwise loss for reward models, as TRL's RewardTrainer computes
// it: mean over pairs of −logσ(r_c − r_r − m) with an optional per-pair margin m,
// plus metrics (accuracy: r_c > r_r strictly; mean margin r_c − r_r; mean and
// population standard deviation of all 2P rewards).
// Leaves out: TRL's center_rewards_coefficient term, ties.

import Foundation
import StrataCore
import StrataTensor

public struct BradleyTerryMetrics: Codable, Equatable, Sendable {
    public var loss: Float
    public var accuracy: Float
    /// Mean of r_c − r_r (without the margin input).
    public var margin: Float
    public var rewardMean: Float
    public var rewardStd: Float
}

public enum BradleyTerry {
    /// Loss [1] and metrics for rewards of P chosen and P rejected responses (tensors [P] with gradient).
    public static func loss(chosen: Tensor, rejected: Tensor, margins: [Float]? = nil, tape: Tape) throws -> (loss: Tensor, metrics: BradleyTerryMetrics) {
        let p = chosen.count, op = "Bradley–Terry loss"
        guard p > 0, rejected.count == p, chosen.rank == 1, rejected.rank == 1 else {
            throw StrataError.shape(op, "chosen \(chosen.shape) and rejected \(rejected.shape) rewards", fix: "give [P] rewards on both sides")
        }
        if let margins, margins.count != p || margins.contains(where: { !$0.isFinite }) {
            throw StrataError.data(op, "\(margins.count) margins for \(p) pairs (all must be finite)", fix: "give one finite margin per pair")
        }
        var diff = tape.sub(chosen, rejected)
        if let margins { diff = tape.sub(diff, Tensor(margins, shape: [p])) }
        let loss = tape.scale(tape.mean(tape.logSigmoid(diff)), -1)
        return (loss, metrics(chosen.toArray(), rejected.toArray(), loss: loss.item()))
    }

    /// Same, for 2P rewards laid out as P chosen then P rejected.
    public static func loss(rewards: Tensor, margins: [Float]? = nil, tape: Tape) throws -> (loss: Tensor, metrics: BradleyTerryMetrics) {
        let n = rewards.count
        guard n > 0, n % 2 == 0 else {
            throw StrataError.shape("Bradley–Terry loss", "\(n) rewards cannot be split into chosen and rejected halves",
                                    fix: "lay out P chosen rows followed by P rejected rows")
        }
        let flat = tape.reshape(rewards, [n])
        return try loss(chosen: tape.gatherRows(flat, Array(0..<(n / 2))), rejected: tape.gatherRows(flat, Array((n / 2)..<n)),
                        margins: margins, tape: tape)
    }

    static func metrics(_ rc: [Float], _ rr: [Float], loss: Float) -> BradleyTerryMetrics {
        let p = Double(rc.count)
        let all = (rc + rr).map(Double.init)
        let mean = all.reduce(0, +) / Double(all.count)
        let variance = all.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(all.count)
        return BradleyTerryMetrics(
            loss: loss,
            accuracy: Float(Double(zip(rc, rr).filter { $0 > $1 }.count) / p),
            margin: Float(zip(rc, rr).map { Double($0) - Double($1) }.reduce(0, +) / p),
            rewardMean: Float(mean),
            rewardStd: Float(variance.squareRoot()))
    }
}
