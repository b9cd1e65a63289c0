// SpikeGuard: watches each step's loss and gradient norm and decides whether
// the optimizer update may be applied. A loss more than `sigma` standard
// deviations above the mean of the last `window` accepted losses (or a log
// gradient norm more than `grad_sigma` deviations above its window mean) is a
// spike: the update is skipped and the value kept out of the history. NaN/Inf,
// or `max_spikes_before_rollback` spikes within `spike_span` steps, ask for a
// rollback to the last stable checkpoint. The whole state is Codable so a
// resumed run judges exactly as the uninterrupted one would.
// Leaves out: restoring weights (the training loop does that on `.rollback`).

import Foundation

public struct SpikeGuard: Codable, Equatable, Sendable {
    public enum Verdict: Equatable, Sendable {
        /// Apply the update.
        case accept
        /// Do not apply this update; training continues with the next batch.
        case skip(String)
        /// Do not apply this update; restore the last stable checkpoint.
        case rollback(String)

        public var isAccept: Bool { self == .accept }
    }

    public let config: GuardConfig
    /// Accepted losses, oldest first, at most `window`.
    public private(set) var losses: [Double] = []
    /// Logs of accepted gradient norms, oldest first, at most `window`.
    public private(set) var logGradNorms: [Double] = []
    /// Steps of spikes not yet forgotten (within `spike_span` of the latest step).
    public private(set) var spikeSteps: [Int] = []
    /// The step of the latest spike or rollback, if any.
    public private(set) var lastEventStep: Int?
    /// The latest step checked.
    public private(set) var lastStep: Int?
    /// Learning-rate multiplier after rollbacks (product of `lr_factor_on_rollback`).
    public private(set) var lrMultiplier = 1.0
    /// Totals for reports.
    public private(set) var totalSkips = 0
    public private(set) var totalRollbacks = 0

    /// Relative floor on the loss deviation, so a perfectly flat history does not flag tiny rises.
    static let relativeFloor = 1e-3
    /// Floor on the deviation of log gradient norms (0.01 ≈ 1% relative change).
    static let logGradFloor = 1e-2

    public init(config: GuardConfig = GuardConfig()) {
        self.config = config
    }

    /// Judges the step after `lastStep` (or step 0 on the first call).
    public mutating func check(loss: Double, gradNorm: Double) -> Verdict {
        check(step: (lastStep ?? -1) + 1, loss: loss, gradNorm: gradNorm)
    }

    /// Judges optimizer step `step` from its loss and (pre-clipping) global gradient norm.
    public mutating func check(step: Int, loss: Double, gradNorm: Double) -> Verdict {
        lastStep = step
        spikeSteps.removeAll { $0 <= step - config.spikeSpan }
        guard loss.isFinite, gradNorm.isFinite else {
            let what = loss.isFinite ? "gradient norm is \(gradNorm)" : "loss is \(loss)"
            return rollback(step, "\(what) at step \(step)")
        }
        guard config.enabled, let reason = spikeReason(loss: loss, gradNorm: gradNorm) else {
            record(loss: loss, gradNorm: gradNorm)
            return .accept
        }
        spikeSteps.append(step)
        lastEventStep = step
        if spikeSteps.count >= config.maxSpikesBeforeRollback {
            return rollback(step, "\(spikeSteps.count) spikes within \(config.spikeSpan) steps; latest at step \(step): \(reason)")
        }
        totalSkips += 1
        return .skip("step \(step): \(reason)")
    }

    /// Why this loss/grad norm is a spike, or nil when it is not (or history is too short to tell).
    func spikeReason(loss: Double, gradNorm: Double) -> String? {
        guard losses.count >= config.minHistory else { return nil }
        let (lm, ls) = SpikeGuard.meanStd(losses)
        let lossScale = max(ls, SpikeGuard.relativeFloor * abs(lm), 1e-12)
        let lossZ = (loss - lm) / lossScale
        if lossZ > config.sigma {
            return "loss \(fmt(loss)) is \(fmt(lossZ))σ above the mean \(fmt(lm)) of the last \(losses.count) steps"
        }
        let g = log(max(gradNorm, 1e-30))
        let (gm, gs) = SpikeGuard.meanStd(logGradNorms)
        let gradZ = (g - gm) / max(gs, SpikeGuard.logGradFloor)
        if gradZ > config.gradSigma {
            return "gradient norm \(fmt(gradNorm)) is \(fmt(gradZ))σ above the typical \(fmt(exp(gm))) (log scale, last \(logGradNorms.count) steps)"
        }
        return nil
    }

    private mutating func record(loss: Double, gradNorm: Double) {
        losses.append(loss)
        logGradNorms.append(log(max(gradNorm, 1e-30)))
        if losses.count > config.window { losses.removeFirst(losses.count - config.window) }
        if logGradNorms.count > config.window { logGradNorms.removeFirst(logGradNorms.count - config.window) }
    }

    private mutating func rollback(_ step: Int, _ reason: String) -> Verdict {
        lastEventStep = step
        spikeSteps.removeAll()
        return .rollback(reason)
    }

    /// Call after the loop restored a checkpoint on `.rollback`. Lowers the LR
    /// multiplier and clears the history, so the replay is judged afresh (a real
    /// level shift in the loss, such as a mixture change, cannot trap the run in
    /// rollbacks); `step` is the step training resumes from.
    public mutating func didRollback(toStep step: Int) {
        totalRollbacks += 1
        lrMultiplier *= config.lrFactorOnRollback
        losses.removeAll()
        logGradNorms.removeAll()
        spikeSteps.removeAll()
        lastStep = step - 1
    }

    /// True when no spike or rollback happened in the last `stable_steps` steps
    /// (checkpoints saved now can be marked stable).
    public var isStable: Bool { isStable(lastSteps: config.stableSteps) }

    /// True when no spike or rollback happened in the last `n` steps.
    public func isStable(lastSteps n: Int) -> Bool {
        guard let e = lastEventStep else { return true }
        guard let s = lastStep else { return false }
        return s - e >= n
    }

    static func meanStd(_ xs: [Double]) -> (Double, Double) {
        guard !xs.isEmpty else { return (0, 0) }
        let mean = xs.reduce(0, +) / Double(xs.count)
        let v = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(1, xs.count - 1))
        return (mean, v.squareRoot())
    }

    private func fmt(_ x: Double) -> String { String(format: "%.4g", x) }
}
