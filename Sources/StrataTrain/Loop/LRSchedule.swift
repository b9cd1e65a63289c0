// Learning-rate schedules as pure functions of the step: linear warmup, then
// cosine / linear decay to a floor, warmup–stable–decay (WSD) with a chosen
// decay curve, constant, or an anneal from the current LR to a floor.
//
// Steps are 0-based optimizer updates 0..<totalSteps. Warmup step s uses
// lr·(s+1)/warmup, so the last warmup step is exactly at the peak. A decay over
// D steps starting at step d uses progress p = (s − d + 1)/D, so the last step of
// the run is exactly at the floor and no step repeats the peak.
// Leaves out: per-parameter-group schedules, restarts.

import Foundation

public struct LRSchedule: Equatable, Sendable {
    public var kind: ScheduleKind
    /// Peak learning rate (for anneal: the LR the anneal starts from).
    public var peak: Double
    /// Floor reached at the last step (unused by constant).
    public var floor: Double
    public var warmupSteps: Int
    public var totalSteps: Int
    /// WSD: fraction of all steps spent decaying.
    public var decayFraction: Double
    /// Curve of the WSD and anneal decays.
    public var decayShape: DecayShape

    public init(kind: ScheduleKind, peak: Double, floor: Double, warmupSteps: Int, totalSteps: Int,
                decayFraction: Double = 0.2, decayShape: DecayShape = .oneMinusSqrt) {
        self.kind = kind
        self.peak = peak
        self.floor = floor
        self.warmupSteps = max(0, warmupSteps)
        self.totalSteps = max(1, totalSteps)
        self.decayFraction = decayFraction
        self.decayShape = decayShape
    }

    /// The schedule a recipe describes. `startLR` is the LR an anneal starts from
    /// (the starting checkpoint's last LR); other schedules peak at `optim.lr`.
    public init(recipe: Recipe, startLR: Double? = nil) {
        let o = recipe.optim
        self.init(kind: o.schedule, peak: o.schedule == .anneal ? (startLR ?? o.lr) : o.lr, floor: o.minLR,
                  warmupSteps: o.warmupSteps, totalSteps: recipe.totalSteps,
                  decayFraction: o.decayFraction, decayShape: o.decayShape)
    }

    /// An anneal from the LR a checkpoint ended at down to `floor` over `steps` steps.
    public static func anneal(from start: Double, to floor: Double, steps: Int, shape: DecayShape = .oneMinusSqrt) -> LRSchedule {
        LRSchedule(kind: .anneal, peak: start, floor: floor, warmupSteps: 0, totalSteps: steps, decayShape: shape)
    }

    /// Decay steps of a WSD run: the fraction of all steps, rounded, at least 1.
    public static func wsdDecaySteps(total: Int, fraction: Double) -> Int {
        max(1, min(total, Int((fraction * Double(total)).rounded())))
    }

    /// First step of the decay phase.
    public var decayStart: Int {
        switch kind {
        case .cosine, .linear: return min(warmupSteps, totalSteps - 1)
        case .wsd: return max(min(warmupSteps, totalSteps - 1), totalSteps - LRSchedule.wsdDecaySteps(total: totalSteps, fraction: decayFraction))
        case .anneal: return min(warmupSteps, totalSteps - 1)
        case .constant: return totalSteps
        }
    }

    /// Learning rate for optimizer step `step` (0-based).
    public func lr(_ step: Int) -> Double {
        let s = max(0, step)
        if s < warmupSteps && s < totalSteps {
            return peak * Double(s + 1) / Double(warmupSteps)
        }
        if kind == .constant { return peak }
        let start = decayStart
        if s < start { return peak }
        let length = totalSteps - start
        let p = min(1, Double(s - start + 1) / Double(length))
        if p >= 1 { return floor }
        return floor + (peak - floor) * LRSchedule.remaining(shape, p)
    }

    private var shape: DecayShape {
        switch kind {
        case .cosine: return .cosine
        case .linear: return .linear
        case .wsd, .anneal, .constant: return decayShape
        }
    }

    /// Fraction of the (peak − floor) gap left at progress p ∈ [0, 1]: 1 at p = 0, 0 at p = 1.
    public static func remaining(_ shape: DecayShape, _ p: Double) -> Double {
        let q = min(1, max(0, p))
        switch shape {
        case .linear: return 1 - q
        case .cosine: return 0.5 * (1 + cos(Double.pi * q))
        case .oneMinusSqrt: return 1 - q.squareRoot()
        }
    }
}
