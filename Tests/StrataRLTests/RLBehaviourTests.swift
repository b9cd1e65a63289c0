// Claims about the RL math that need no outside reference: policy = reference
// gives KL 0 and ratio 1; on-policy (μ = 1) the policy gradient is A·∇log π;
// an equal-reward group gives zero advantage and no gradient; every hand-written
// slope (k1/k2/k3 including k3's clamps, the clipped surrogate, the clipped value
// loss) matches finite differences; the KL controller survives a JSON round trip;
// bad input throws a StrataError naming the field.

import XCTest
import Foundation
import StrataCore
import StrataTensor
import StrataTestSupport
@testable import StrataRL

final class RLBehaviourTests: XCTestCase {
    /// Two rows of T = 4: row 0 active at 1...3, row 1 at 0...1.
    private func smallMask() throws -> TokenMask {
        try TokenMask(rows: 2, time: 4, active: [false, true, true, true, true, true, false, false])
    }

    func testPolicyEqualToReferenceGivesZeroKLAndUnitRatio() throws {
        let mask = try smallMask()
        let lp: [Float] = [0, -1.2, -0.3, -2.5, -0.7, -4, 0, 0]
        for estimator in KLEstimator.allCases {
            XCTAssertEqual(try estimator.perToken(policy: lp, reference: lp, mask: mask), [Float](repeating: 0, count: 8), "\(estimator)")
        }
        let loss = PolicyLoss(clip: try PolicyClip(), klTerm: try KLLossTerm(beta: 0.1))
        let adv: [Float] = [0, 1, -2, 0.5, 3, -1, 0, 0]
        let r = try loss(logProbs: Tensor(lp, shape: [2, 4]), oldLogProbs: lp, advantages: adv, referenceLogProbs: lp,
                         mask: mask, normalizer: try LossNormalizer(.tokenMean, step: [mask]), tape: .noGrad())
        XCTAssertEqual(r.metrics.clipFraction, 0)
        XCTAssertEqual(r.metrics.approxKL, 0)
        XCTAssertEqual(r.metrics.ppoKL, 0)
        XCTAssertEqual(r.metrics.referenceKL, 0)
        let meanAdvantage: Float = (1 - 2 + 0.5 + 3 - 1) / 5
        XCTAssertEqual(r.loss.item(), -meanAdvantage, accuracy: 1e-7, "ratio 1: loss = −mean A")
    }

    func testOnPolicyGradientIsAdvantageTimesWeights() throws {
        // μ = 1: old log-probs are the current ones, so ∂loss/∂log π_t = −A_t · w_t for every aggregation.
        let mask = try smallMask()
        let lp: [Float] = [0, -1.2, -0.3, -2.5, -0.7, -4, 0, 0], adv: [Float] = [0, 1, -2, 0.5, 3, -1, 0, 0]
        let loss = PolicyLoss(clip: try PolicyClip(low: 0.2, high: 0.28, dual: 3))
        for aggregation in [LossAggregation.tokenMean, .sequenceMean, .constant(10)] {
            let normalizer = try LossNormalizer(aggregation, step: [mask])
            let (_, grad) = try gradient(of: lp, shape: [2, 4]) { tape, x in
                try loss(logProbs: x, oldLogProbs: lp, advantages: adv, mask: mask, normalizer: normalizer, tape: tape).loss
            }
            let w = normalizer.weights(for: mask)
            assertMatches(grad, (0..<8).map { -adv[$0] * w[$0] }, tol: 1e-7, "\(aggregation)")
        }
    }

    func testEqualRewardGroupGivesZeroAdvantageAndNoGradient() throws {
        let g = try GroupAdvantages(rewards: [1, 1, 1, 0.5, 0, 1], groupSize: 3, estimator: .grpo)
        XCTAssertEqual(g.zeroStd, [true, false])
        XCTAssertEqual(g.fractionZeroStd, 0.5)
        XCTAssertEqual(Array(g.advantages[0..<3]), [0, 0, 0])
        for estimator in GroupAdvantageEstimator.allCases {
            let e = try GroupAdvantages(rewards: [2, 2, 2, 2], groupSize: 2, estimator: estimator)
            XCTAssertEqual(e.advantages, [0, 0, 0, 0], "\(estimator)")
        }
        let mask = try TokenMask(rows: 6, time: 2, active: [Bool](repeating: true, count: 12))
        let adv = try g.perToken(mask)
        let lp = (0..<12).map { -Float($0) * 0.1 - 0.2 }, old = lp.map { $0 + 0.05 }
        let (_, grad) = try gradient(of: lp, shape: [6, 2]) { tape, x in
            try PolicyLoss(clip: try PolicyClip())(logProbs: x, oldLogProbs: old, advantages: adv, mask: mask,
                                                   normalizer: try LossNormalizer(.tokenMean, step: [mask]), tape: tape).loss
        }
        XCTAssertEqual(Array(grad[0..<6]), [Float](repeating: 0, count: 6), "the equal-reward group moves nothing")
        XCTAssertTrue(grad[6...].contains { $0 != 0 })
    }

    func testKLEstimatorSlopesMatchFiniteDifferencesIncludingK3Clamps() {
        for estimator in KLEstimator.allCases {
            for x in [-3.0, -0.7, -0.01, 0.2, 1.5, 2.9] {
                let h = 1e-6
                let numeric = (estimator.evaluate(logRatio: x + h).value - estimator.evaluate(logRatio: x - h).value) / (2 * h)
                XCTAssertEqual(estimator.evaluate(logRatio: x).slope, numeric, accuracy: 1e-6, "\(estimator) at \(x)")
            }
        }
        // k3 saturates at 10 for x ≪ 0 (e^{−x} large): flat, so zero slope, as torch's clamp.
        XCTAssertEqual(KLEstimator.k3.evaluate(logRatio: -5).value, 10)
        XCTAssertEqual(KLEstimator.k3.evaluate(logRatio: -5).slope, 0)
        XCTAssertEqual(KLEstimator.k3.evaluate(logRatio: 25).slope, 0, "inner clamp at ±20")
        XCTAssertEqual(KLEstimator.k3.evaluate(logRatio: 0.5).value, exp(-0.5) - 1 + 0.5, accuracy: 1e-15)
    }

    func testPolicyAndValueLossSlopesMatchFiniteDifferences() throws {
        let policy = PolicyLoss(clip: try PolicyClip(low: 0.2, high: 0.28, dual: 3))
        var regions = Set<String>()
        for a in [-1.5, -0.3, 0.4, 2.0] {
            for x in [-1.0, -0.3, -0.1, 0.05, 0.2, 0.4, 1.3] {
                let h = 1e-6, s = policy.surrogate(logRatio: x, advantage: a)
                let numeric = (policy.surrogate(logRatio: x + h, advantage: a).value - policy.surrogate(logRatio: x - h, advantage: a).value) / (2 * h)
                XCTAssertEqual(s.slope, numeric, accuracy: 1e-6, "surrogate at x \(x), A \(a)")
                regions.insert("\(s.region)")
            }
        }
        XCTAssertEqual(regions, ["unclipped", "clippedLow", "clippedHigh", "dualClipped"])
        let value = try ValueLoss(clipRange: 0.2)
        var clippedSeen = false
        for v in [-1.0, -0.15, 0.1, 0.35, 0.9] {
            for ret in [-0.5, 0.3, 1.2] {
                let h = 1e-6, t = value.perToken(value: v, oldValue: 0.1, target: ret)
                let numeric = (value.perToken(value: v + h, oldValue: 0.1, target: ret).value
                               - value.perToken(value: v - h, oldValue: 0.1, target: ret).value) / (2 * h)
                XCTAssertEqual(t.slope, numeric, accuracy: 1e-6, "value loss at v \(v), R \(ret)")
                clippedSeen = clippedSeen || t.clipped
            }
        }
        XCTAssertTrue(clippedSeen)
    }

    func testLossesThroughTheTapeMatchFiniteDifferences() throws {
        let mask = try smallMask()
        var rng = StrataRNG(seed: 41)
        let old = (0..<8).map { _ in rng.normal() * 0.3 - 1 }, ref = old.map { $0 + 0.1 }
        let adv = (0..<8).map { _ in rng.normal() }
        let lp = Tensor(zip(old, (0..<8).map { _ in rng.normal() * 0.5 }).map { $0 + $1 }, shape: [2, 4], requiresGrad: true)
        let loss = PolicyLoss(clip: try PolicyClip(low: 0.2, high: 0.28, dual: 3), klTerm: try KLLossTerm(beta: 0.3))
        let normalizer = try LossNormalizer(.sequenceMean, step: [mask])
        gradCheck([lp], eps: 1e-3, tol: 1e-2) { tape, x in
            try! loss(logProbs: x[0], oldLogProbs: old, advantages: adv, referenceLogProbs: ref, mask: mask,
                      normalizer: normalizer, tape: tape).loss
        }
        let v = Tensor((0..<8).map { _ in rng.normal() }, shape: [2, 4], requiresGrad: true)
        let returns = (0..<8).map { _ in rng.normal() }, oldV = (0..<8).map { _ in rng.normal() * 0.5 }
        gradCheck([v], eps: 1e-3, tol: 1e-2) { tape, x in
            try! ValueLoss(clipRange: 0.2)(values: x[0], oldValues: oldV, returns: returns, mask: mask,
                                           normalizer: normalizer, tape: tape).loss
        }
    }

    func testKLControllerRoundTripsThroughJSONAndRejectsBadState() throws {
        var adaptive = try KLController.makeAdaptive(initial: 0.1, target: 6, horizon: 10_000)
        adaptive.update(observedKL: 9, samples: 64)
        for c in [adaptive, try KLController.makeFixed(0.05)] {
            let data = try StrataJSON.encode(c)
            XCTAssertEqual(try StrataJSON.decode(KLController.self, from: data, file: "state.json"), c)
        }
        var fixed = try KLController.makeFixed(0.05)
        fixed.update(observedKL: 100, samples: 1000)
        XCTAssertEqual(fixed.coefficient, 0.05)
        let bad = Data(#"{"type": "adaptive", "coefficient": 0.1, "target": 0, "horizon": 100}"#.utf8)
        XCTAssertThrowsError(try StrataJSON.decode(KLController.self, from: bad, file: "state.json")) {
            XCTAssertTrue("\($0)".contains("target_kl = 0"), "\($0)")
        }
        XCTAssertThrowsError(try KLController.makeAdaptive(initial: 0.1, target: 6, horizon: -1))
        XCTAssertThrowsError(try KLController.makeFixed(-0.1))
    }

    func testBadInputThrowsNamingTheField() throws {
        let mask = try smallMask()
        func expect(_ fragment: String, _ body: () throws -> Void, line: UInt = #line) {
            XCTAssertThrowsError(try body(), line: line) { e in
                XCTAssertTrue(e is StrataError && "\(e)".contains(fragment), "\(e)", line: line)
            }
        }
        let ok = [Float](repeating: -1, count: 8)
        expect("values has 7 values") { _ = try GAE(gamma: 1, lambda: 0.95)(rewards: ok, values: Array(ok.prefix(7)), mask: mask) }
        expect("rewards is nan") { var r = ok; r[2] = .nan; _ = try GAE(gamma: 1, lambda: 0.95)(rewards: r, values: ok, mask: mask) }
        expect("lambda = 1.5") { _ = try GAE(gamma: 1, lambda: 1.5) }
        expect("group_size = 1") { _ = try GroupAdvantages(rewards: [1, 2], groupSize: 1, estimator: .grpo) }
        expect("5 rewards do not split into groups of 2") { _ = try GroupAdvantages(rewards: [1, 2, 3, 4, 5], groupSize: 2, estimator: .rloo) }
        expect("clip epsilon_low = 1.2") { _ = try PolicyClip(low: 1.2) }
        expect("dual clip c = 0.5") { _ = try PolicyClip(dual: 0.5) }
        expect("constant loss normaliser = 0") { _ = try LossNormalizer(.constant(0), step: [mask]) }
        expect("no reference log-probs") {
            _ = try PolicyLoss(clip: try PolicyClip(), klTerm: try KLLossTerm(beta: 0.1))(
                logProbs: Tensor(ok, shape: [2, 4]), oldLogProbs: ok, advantages: ok, mask: mask,
                normalizer: try LossNormalizer(.tokenMean, step: [mask]), tape: .noGrad())
        }
        expect("log-probs has shape [8]") {
            _ = try PolicyLoss(clip: try PolicyClip())(logProbs: Tensor(ok, shape: [8]), oldLogProbs: ok, advantages: ok, mask: mask,
                                                       normalizer: try LossNormalizer(.tokenMean, step: [mask]), tape: .noGrad())
        }
        expect("whitening needs at least 2") {
            _ = try maskedWhiten([1, 2], mask: try TokenMask(rows: 1, time: 2, active: [true, false]))
        }
        expect("row 1 has no completion tokens") {
            let m = try TokenMask(rows: 2, time: 2, active: [true, true, false, false])
            _ = try RewardShaping(klCoefficient: 0.1)(scores: [1, 2], policy: [0, 0, 0, 0], reference: [0, 0, 0, 0], mask: m)
        }
        expect("kl coefficient = -1") { _ = try RewardShaping(klCoefficient: -1) }
    }

    func testOverlongPenaltyIsZeroUntilTheBufferThenLinearToMinusFactor() throws {
        let p = try OverlongPenalty(maxLength: 20, buffer: 8, factor: 0.5)
        XCTAssertEqual(p(length: 3), 0)
        XCTAssertEqual(p(length: 12), 0)
        XCTAssertEqual(p(length: 16), -0.25, accuracy: 1e-7)
        XCTAssertEqual(p(length: 20), -0.5, accuracy: 1e-7)
        XCTAssertThrowsError(try OverlongPenalty(maxLength: 20, buffer: 30))
    }

    func testTurningOffTruncatedRowsRemovesThemFromEveryCount() throws {
        let mask = try smallMask()
        let off = try mask.turningOff(rows: [false, true])
        XCTAssertEqual(off.rowCounts, [3, 0])
        XCTAssertEqual(off.tokenCount, 3)
        XCTAssertEqual(off.sequenceCount, 1)
        XCTAssertEqual(try LossNormalizer(.sequenceMean, step: [off]).denominator, 1)
        XCTAssertEqual(try mask.rows(1..<2, of: (0..<8).map(Float.init)), [4, 5, 6, 7])
        XCTAssertThrowsError(try mask.turningOff(rows: [true]))
    }

    func testAllMaskedStepGivesZeroLossNotADivisionByZero() throws {
        let empty = try TokenMask(rows: 1, time: 3, active: [false, false, false])
        for aggregation in [LossAggregation.tokenMean, .sequenceMean] {
            let normalizer = try LossNormalizer(aggregation, step: [empty])
            let r = try PolicyLoss(clip: try PolicyClip())(logProbs: Tensor([-1, -1, -1], shape: [1, 3]), oldLogProbs: [0, 0, 0],
                                                         advantages: [1, 1, 1], mask: empty, normalizer: normalizer, tape: .noGrad())
            XCTAssertEqual(r.loss.item(), 0)
        }
    }
}
