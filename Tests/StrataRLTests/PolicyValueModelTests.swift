// The model-facing pieces on a tiny random GPT-2: per-token completion log-probs
// agree with DPO's sequence log-probs, entropies agree with the logits, the
// temperature divides the logits, gradients reach the model; the value head's
// token values agree with the reward model's pooled reward at the same position
// and their gradients (head and trunk) match finite differences.

import XCTest
import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataTestSupport
@testable import StrataRL

final class PolicyValueModelTests: XCTestCase {
    private func tinyModel(seed: UInt64 = 7) -> GPT2 {
        var cfg = GPT2Config(vocabSize: 24, nPositions: 12, nEmbd: 16, nLayer: 1, nHead: 2)
        cfg.residPdrop = 0; cfg.embdPdrop = 0; cfg.attnPdrop = 0
        return GPT2(cfg, seed: seed)
    }

    private func batch() throws -> ResponseBatch {
        try ResponseBatch(prompts: [[3, 5, 7], [2], [9, 1]], responses: [[4, 4, 11], [6, 8, 10, 12, 13], [20]], padId: 0)
    }

    func testCompletionLogProbsAgreeWithSequenceLogProbsAndLogits() throws {
        let model = tinyModel(), b = try batch()
        let out = try model.completionLogProbs(b, tape: .noGrad())
        let seq = try model.sequenceLogProbs(b, tape: .noGrad())
        XCTAssertEqual(out.logProbs.shape, [b.rows, b.time])
        assertMatches(out.logProbs.toArray(), seq.tokenLogps.toArray(), tol: 1e-6, "per-token log-probs")
        XCTAssertEqual(out.mask, TokenMask(b))
        XCTAssertEqual(out.mask.rowCounts, [3, 5, 1])
        // Entropy from the logits directly, at completion positions only.
        let logits = model.logits(model.hidden(b.ids, batch: b.rows, time: b.time, tape: .noGrad()), tape: .noGrad())
        let direct = Tape.noGrad().tokenEntropy(logits).toArray()
        let ent = try XCTUnwrap(out.entropy).toArray()
        for i in 0..<(b.rows * b.time) {
            XCTAssertEqual(ent[i], out.mask.active[i] ? direct[i] : 0, accuracy: 1e-6, "entropy at \(i)")
        }
        XCTAssertNotNil(out.meanEntropy)
    }

    func testTemperatureDividesTheLogits() throws {
        let model = tinyModel(), b = try batch()
        let hot = try model.completionLogProbs(b, tape: .noGrad(), temperature: 0.5, entropy: false)
        XCTAssertNil(hot.entropy)
        let logits = model.logits(model.hidden(b.ids, batch: b.rows, time: b.time, tape: .noGrad()), tape: .noGrad())
        let scaled = Tape.noGrad().tokenLogProbs(Tape.noGrad().scale(logits, 2), b.targets).toArray()
        assertMatches(hot.logProbs.toArray(), scaled, tol: 1e-6, "log-probs at temperature 0.5")
        XCTAssertThrowsError(try model.completionLogProbs(b, tape: .noGrad(), temperature: 0))
    }

    func testPolicyLossGradientReachesTheModelAndMatchesFiniteDifferences() throws {
        let model = tinyModel(), b = try batch()
        let mask = TokenMask(b)
        let old = try model.completionLogProbs(b, tape: .noGrad(), entropy: false).logProbs.toArray()
        let adv = (0..<mask.count).map { mask.active[$0] ? Float($0 % 3) - 1 : 0 }
        let loss = PolicyLoss(clip: try PolicyClip())
        let normalizer = try LossNormalizer(.tokenMean, step: [mask])
        // d loss / d ln_f.bias by finite differences, through log-probs and entropy of the whole model.
        gradCheck([model.lnF.bias], eps: 1e-2, tol: 2e-2) { tape, _ in
            let out = try! model.completionLogProbs(b, tape: tape)
            let pg = try! loss(logProbs: out.logProbs, oldLogProbs: old, advantages: adv, mask: mask, normalizer: normalizer, tape: tape).loss
            return tape.add(pg, tape.scale(tape.weightedSum(out.entropy!, normalizer.weights(for: mask)), -0.01))
        }
    }

    func testTokenValuesMatchPooledRewardsAndHeadGradientMatchesFiniteDifferences() throws {
        let rm = RewardModel(trunk: tinyModel(seed: 9), padTokenId: 0, head: .normal(seed: 3))
        let b = try batch()
        let values = try rm.tokenValues(b, tape: .noGrad())
        XCTAssertEqual(values.shape, [b.rows, b.time])
        let pooled = try rm.rewards(b, tape: .noGrad()).toArray()
        for r in 0..<b.rows {
            XCTAssertEqual(values.toArray()[r * b.time + b.lastResponseIndex[r]], pooled[r], accuracy: 1e-6, "row \(r)")
        }
        let w = (0..<(b.rows * b.time)).map { Float($0 % 5) * 0.3 - 0.5 }
        gradCheck([rm.score], eps: 1e-2, tol: 1e-2) { tape, _ in tape.weightedSum(try! rm.tokenValues(b, tape: tape), w) }
        gradCheck([(rm.trunk as! GPT2).lnF.weight], eps: 1e-2, tol: 2e-2) { tape, _ in tape.weightedSum(try! rm.tokenValues(b, tape: tape), w) }
        XCTAssertThrowsError(try rm.tokenValues([1, 2, 99], rows: 1, time: 3, tape: .noGrad())) {
            XCTAssertTrue("\($0)".contains("id 99 outside vocabulary"), "\($0)")
        }
    }
}
