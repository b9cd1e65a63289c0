// Parity of Strata's RL math with plain-torch references of verl, OpenRLHF and
// TRL (tools/fixtures/rl_parity.py → Fixtures/rl_parity.json): GAE, whitening,
// k1/k2/k3 and their gradients, KL-shaped token rewards, the clipped policy loss
// (plain, clip-higher, dual-clip) and value loss with gradients and metrics, the
// adaptive KL controller, GRPO / Dr. GRPO / RLOO advantages, the GRPO loss for
// each aggregation whole and split into micro-batches, entropy and log-probs.
// Everything within 1e-5 (relative to max(1, |expected|)).

import XCTest
import Foundation
import StrataCore
import StrataTensor
@testable import StrataRL

final class RLParityTests: XCTestCase {
    func testGAEAdvantagesReturnsAndWhiteningMatchVerlFixture() throws {
        let fx = try RLFixture.load().ppo
        let mask = try fx.tokenMask()
        let out = try GAE(gamma: fx.gae.gamma, lambda: fx.gae.lam)(rewards: fx.rewards, values: fx.values, mask: mask)
        assertMatches(out.advantages, fx.gae.advantages, "GAE advantages")
        assertMatches(out.returns, fx.gae.returns, "GAE returns")
        assertMatches(try maskedWhiten(out.advantages, mask: mask), fx.gae.whitened, "whitened advantages")
        assertMatches(try maskedWhiten(out.advantages, mask: mask, keepMean: true), fx.gae.whitened_keep_mean, "whitened, mean kept")
    }

    func testKLEstimatorsMatchFixtureOnArraysAndOnTheTape() throws {
        let fx = try RLFixture.load().ppo
        let mask = try fx.tokenMask()
        XCTAssertEqual(Set(fx.kl.keys), Set(KLEstimator.allCases.map(\.rawValue)))
        for estimator in KLEstimator.allCases {
            let expected = try XCTUnwrap(fx.kl[estimator.rawValue])
            let plain = try estimator.perToken(policy: fx.logp, reference: fx.ref_logp, mask: mask)
            assertMatches(plain, expected.values, "\(estimator) values")
            let (_, grad) = try gradient(of: fx.logp, shape: [fx.rows, fx.time]) { tape, lp in
                tape.sum(try estimator.perToken(policy: lp, reference: fx.ref_logp, mask: mask, tape: tape))
            }
            assertMatches(grad, expected.grad, "\(estimator) gradient")
        }
    }

    func testKLShapedTokenRewardsMatchOpenRLHFFixture() throws {
        let fx = try RLFixture.load().ppo
        let mask = try fx.tokenMask()
        for (name, c) in fx.token_rewards {
            let shaping = try RewardShaping(klCoefficient: c.beta, estimator: try XCTUnwrap(KLEstimator(rawValue: c.estimator)),
                                            whitenScores: c.whiten, scoreClip: c.clip)
            let out = try shaping(scores: fx.scores, policy: fx.old_logp, reference: fx.ref_logp, mask: mask)
            assertMatches(out.rewards, c.rewards, "\(name) rewards")
            assertMatches(out.scores, c.scores, "\(name) shaped scores")
            assertMatches(out.meanSequenceKL, c.mean_sequence_kl, "\(name) mean sequence KL")
            assertMatches(out.meanTokenKL, c.mean_token_kl, "\(name) mean token KL")
        }
    }

    func testClippedPolicyLossMatchesFixtureForPlainClipHigherAndDualClip() throws {
        let fx = try RLFixture.load().ppo
        let mask = try fx.tokenMask()
        let normalizer = try LossNormalizer(.tokenMean, step: [mask])
        XCTAssertEqual(Set(fx.policy_loss.keys), ["plain", "clip_higher", "dual_clip"])
        for (name, c) in fx.policy_loss {
            let loss = PolicyLoss(clip: try PolicyClip(low: c.eps_low, high: c.eps_high, dual: c.dual))
            var metrics: PolicyLossMetrics?
            let (value, grad) = try gradient(of: fx.logp, shape: [fx.rows, fx.time]) { tape, lp in
                let r = try loss(logProbs: lp, oldLogProbs: fx.old_logp, advantages: fx.advantages_in, mask: mask,
                                 normalizer: normalizer, tape: tape)
                metrics = r.metrics
                return r.loss
            }
            assertMatches(value, c.loss, "\(name) loss")
            assertMatches(grad, c.grad, "\(name) gradient w.r.t. log-probs")
            let m = try XCTUnwrap(metrics)
            assertMatches(m.clipFractionLow, c.clip_low, "\(name) clip_ratio/low_mean")
            assertMatches(m.clipFractionHigh, c.clip_high, "\(name) clip_ratio/high_mean")
            assertMatches(m.dualClipFraction, c.dual_frac, "\(name) dual-clip fraction")
            assertMatches(m.approxKL, c.approx_kl, "\(name) approx KL")
            assertMatches(m.ppoKL, c.ppo_kl, "\(name) ppo_kl")
            XCTAssertGreaterThan(m.clipFraction, 0, "\(name): the fixture exercises clipping")
        }
    }

    func testClippedValueLossAndExplainedVarianceMatchFixture() throws {
        let fx = try RLFixture.load().ppo
        let mask = try fx.tokenMask()
        let loss = try ValueLoss(clipRange: fx.value_loss.clip)
        var clipFraction: Float = -1
        let (value, grad) = try gradient(of: fx.new_values, shape: [fx.rows, fx.time]) { tape, v in
            let r = try loss(values: v, oldValues: fx.values, returns: fx.gae.returns, mask: mask,
                             normalizer: try LossNormalizer(.tokenMean, step: [mask]), tape: tape)
            clipFraction = r.clipFraction
            return r.loss
        }
        assertMatches(value, fx.value_loss.loss, "value loss")
        assertMatches(grad, fx.value_loss.grad, "value loss gradient")
        assertMatches(clipFraction, fx.value_loss.clipfrac, "value clip fraction")
        let ev = try XCTUnwrap(try explainedVariance(values: fx.values, returns: fx.gae.returns, mask: mask))
        assertMatches(ev, fx.value_loss.explained_variance, "explained variance")
    }

    func testAdaptiveKLControllerFollowsVerlUpdates() throws {
        let c = try RLFixture.load().ppo.kl_controller
        var controller = try KLController.makeAdaptive(initial: c.initial, target: c.target, horizon: c.horizon)
        for (k, (kl, n)) in zip(c.observed, c.samples).enumerated() {
            controller.update(observedKL: kl, samples: n)
            XCTAssertEqual(controller.coefficient, c.values[k], accuracy: 1e-12, "update \(k)")
        }
    }

    func testGroupAdvantagesMatchGRPODrGRPOAndRLOOFixture() throws {
        let fx = try RLFixture.load().grpo
        for estimator in GroupAdvantageEstimator.allCases {
            let g = try GroupAdvantages(rewards: fx.rewards, groupSize: fx.group_size, estimator: estimator)
            assertMatches(g.advantages, try XCTUnwrap(fx.advantages[estimator.rawValue]), "\(estimator) advantages")
            assertMatches(g.groupMeans, fx.group_means, "group means")
            assertMatches(g.groupStds, fx.group_stds, "group stds")
            XCTAssertEqual(g.zeroStd, fx.zero_std)
            XCTAssertEqual(Double(g.fractionZeroStd), fx.frac_reward_zero_std, accuracy: 1e-7)
        }
    }

    func testGRPOLossMatchesFixtureForEveryAggregation() throws {
        let fx = try RLFixture.load().grpo
        let mask = try fx.tokenMask()
        let advantages = try GroupAdvantages(rewards: fx.rewards, groupSize: fx.group_size, estimator: .grpo).perToken(mask)
        let loss = try grpoLoss(fx)
        let trlName: [String: String] = ["token_mean": "dapo", "sequence_mean": "grpo", "constant": "dr_grpo"]
        for (name, aggregation) in aggregations(fx) {
            let expected = try XCTUnwrap(fx.losses[name])
            let normalizer = try LossNormalizer(aggregation, step: [mask])
            XCTAssertEqual(normalizer.denominator, expected.denominator, "\(name) denominator")
            let (value, grad) = try gradient(of: fx.logp, shape: [fx.rows, fx.time]) { tape, lp in
                try loss(logProbs: lp, oldLogProbs: fx.old_logp, advantages: advantages, referenceLogProbs: fx.ref_logp,
                         mask: mask, normalizer: normalizer, tape: tape).loss
            }
            assertMatches(value, expected.loss, "\(name) loss")
            assertMatches(value, try XCTUnwrap(fx.trl[trlName[name]!]), "\(name) equals TRL's \(trlName[name]!) on one micro-batch")
            assertMatches(grad, expected.grad, "\(name) gradient")
        }
    }

    func testGRPOMicroBatchLossesSumToTheStepLossForEveryAggregation() throws {
        let fx = try RLFixture.load().grpo
        let mask = try fx.tokenMask()
        let advantages = try GroupAdvantages(rewards: fx.rewards, groupSize: fx.group_size, estimator: .grpo).perToken(mask)
        let loss = try grpoLoss(fx)
        for (name, aggregation) in aggregations(fx) {
            let expected = try XCTUnwrap(fx.losses[name])
            let ranges = [0..<expected.split, expected.split..<fx.rows]
            let micros = try ranges.map { try mask.rows($0) }
            let normalizer = try LossNormalizer(aggregation, step: micros)        // the step's, from every micro-batch
            XCTAssertEqual(normalizer.denominator, expected.denominator, "\(name) step denominator")
            var total: Double = 0, grads = [Float](), parts = [PolicyLossMetrics]()
            for (k, range) in ranges.enumerated() {
                let cut = { (a: [Float]) in try mask.rows(range, of: a) }
                let (value, grad) = try gradient(of: try cut(fx.logp), shape: [range.count, fx.time]) { tape, lp in
                    let r = try loss(logProbs: lp, oldLogProbs: try cut(fx.old_logp), advantages: try cut(advantages),
                                     referenceLogProbs: try cut(fx.ref_logp), mask: micros[k], normalizer: normalizer, tape: tape)
                    parts.append(r.metrics)
                    return r.loss
                }
                assertMatches(value, expected.micro[k].loss, "\(name) micro-batch \(k) loss")
                assertMatches(grad, expected.micro[k].grad, "\(name) micro-batch \(k) gradient")
                total += Double(value); grads += grad
            }
            assertMatches(total, expected.loss, "\(name): micro-batch losses sum to the step loss")
            assertMatches(grads, expected.grad, "\(name): micro-batch gradients tile the step gradient")
            let whole = try loss(logProbs: Tensor(fx.logp, shape: [fx.rows, fx.time]), oldLogProbs: fx.old_logp, advantages: advantages,
                                 referenceLogProbs: fx.ref_logp, mask: mask, normalizer: normalizer, tape: .noGrad()).metrics
            let combined = PolicyLossMetrics.combined(parts)
            XCTAssertEqual(combined.tokens, whole.tokens)
            for (a, b) in [(combined.clipFraction, whole.clipFraction), (combined.clipFractionHigh, whole.clipFractionHigh),
                           (combined.approxKL, whole.approxKL), (combined.referenceKL!, whole.referenceKL!)] {
                XCTAssertEqual(a, b, accuracy: 1e-6, "\(name): combined micro-batch metrics equal the step's")
            }
        }
    }

    func testEntropyAndLogProbsOfLogitsMatchTorch() throws {
        let fx = try RLFixture.load().entropy
        let logits = Tensor(fx.logits, shape: [fx.rows, fx.vocab], requiresGrad: true)
        let tape = Tape()
        let h = tape.tokenEntropy(logits)
        assertMatches(h.toArray(), fx.entropy, "entropy")
        tape.backward(tape.weightedSum(h, fx.weights))
        assertMatches(try XCTUnwrap(logits.grad).toArray(), fx.grad, "entropy gradient")
        assertMatches(Tape.noGrad().tokenLogProbs(logits, fx.targets).toArray(), fx.logp, "log-probs")
    }

    // MARK: helpers

    private func grpoLoss(_ fx: RLFixture.GRPO) throws -> PolicyLoss {
        PolicyLoss(clip: try PolicyClip(low: fx.eps_low, high: fx.eps_high), klTerm: try KLLossTerm(beta: fx.beta, estimator: .k3))
    }

    private func aggregations(_ fx: RLFixture.GRPO) -> [(String, LossAggregation)] {
        [("token_mean", .tokenMean), ("sequence_mean", .sequenceMean), ("constant", .constant(Double(fx.rows * fx.time)))]
    }
}
