// Parity of the preference math with PyTorch/TRL: fixtures written by
// tools/fixtures/dpo_parity.py (tiny policy, perturbed reference and a
// GPT2ForSequenceClassification reward model from transformers; per-case losses,
// metrics and gradients; rewards and the Bradley–Terry loss with margins).
// Formula checks feed torch's log-probs in, so they test the math alone at 1e-5;
// end-to-end checks run the Strata models on the same batch.

import XCTest
import Foundation
import StrataCore
import StrataTensor
import StrataCheckpoint
@testable import StrataModel

struct DPOFixture: Decodable {
    struct Config: Decodable { let type: String; let beta: Float; let label_smoothing: Float; let simpo_gamma: Float; let sft_weight: Float }
    struct Case: Decodable { let config: Config; let metrics: [String: Double] }
    struct Reward: Decodable { let rewards: [Float]; let margins: [Float]; let metrics: [String: Double] }
    let rows: Int, time: Int, ids: [Int32], targets: [Int32], lengths: [Int]
    let policy_logps: [Float], reference_logps: [Float]
    let cases: [String: Case]
    let reward: Reward

    static func load() throws -> DPOFixture {
        try StrataJSON.read(DPOFixture.self, at: fixtureDir("dpo_tiny").appendingPathComponent("batch.json"))
    }

    func lossConfig(_ name: String) throws -> PreferenceLossConfig {
        let c = try XCTUnwrap(cases[name]).config
        return PreferenceLossConfig(type: try XCTUnwrap(PreferenceLossType(rawValue: c.type)), beta: c.beta,
                                    labelSmoothing: c.label_smoothing, simpoGamma: c.simpo_gamma, sftWeight: c.sft_weight)
    }
}

/// |a − b| ≤ rel·|b| + abs.
func assertClose(_ a: Float, _ b: Double, rel: Double = 1e-5, abs: Double = 1e-6, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertLessThanOrEqual(Swift.abs(Double(a) - b), rel * Swift.abs(b) + abs, "\(what): Strata \(a), torch \(b)", file: file, line: line)
}

func assertMetrics(_ m: PreferenceMetrics, _ e: [String: Double], rel: Double = 1e-5, abs: Double = 1e-6, _ label: String,
                   file: StaticString = #filePath, line: UInt = #line) {
    let pairs: [(String, Float?)] = [
        ("loss", m.loss), ("rewardAccuracy", m.rewardAccuracy), ("chosenReward", m.chosenReward), ("rejectedReward", m.rejectedReward),
        ("margin", m.margin), ("chosenLogProb", m.chosenLogProb), ("rejectedLogProb", m.rejectedLogProb),
        ("chosenNLL", m.chosenNLL), ("kl", m.kl), ("meanLength", m.meanLength),
    ]
    for (key, value) in pairs {
        guard let expected = e[key] else { XCTFail("\(label): fixture lacks \(key)", file: file, line: line); continue }
        guard let value else { XCTFail("\(label): Strata gave no \(key)", file: file, line: line); continue }
        assertClose(value, expected, rel: rel, abs: abs, "\(label) \(key)", file: file, line: line)
    }
}

final class PreferenceParityTests: XCTestCase {
    let caseNames = ["sigmoid", "sigmoid_smoothed", "ipo", "simpo", "sigmoid_sft"]

    func testLossAndMetricsMatchTorchForEveryCase() throws {
        let fx = try DPOFixture.load()
        XCTAssertEqual(Set(fx.cases.keys), Set(caseNames))
        for name in caseNames {
            let tape = Tape()
            let logps = SequenceLogProbs(logps: Tensor(fx.policy_logps, shape: [fx.rows], requiresGrad: true),
                                         lengths: fx.lengths, tokenLogps: Tensor(zeros: [fx.rows, fx.time]))
            let pairs = try PreferencePairs(policy: logps, reference: fx.reference_logps, tape: tape)
            let out = try PreferenceLoss(fx.lossConfig(name))(pairs, tape: tape)
            assertMetrics(out.metrics, fx.cases[name]!.metrics, name)
        }
    }

    func testSequenceLogProbsMatchTorch() throws {
        let fx = try DPOFixture.load()
        let batch = try ResponseBatch(ids: fx.ids, targets: fx.targets, rows: fx.rows, time: fx.time)
        XCTAssertEqual(batch.responseLengths, fx.lengths)
        for (dir, expected) in [("policy", fx.policy_logps), ("reference", fx.reference_logps)] {
            let model = try GPT2.load(directory: fixtureDir("dpo_tiny").appendingPathComponent(dir))
            let got = try model.sequenceLogProbs(batch, tape: .noGrad()).logps.toArray()
            for i in 0..<fx.rows { assertClose(got[i], Double(expected[i]), "\(dir) row \(i) log-prob") }
        }
    }

    /// The whole path (model → log-probs → loss → backward) against torch's gradients.
    func testEndToEndGradientsMatchTorch() throws {
        let fx = try DPOFixture.load()
        let dir = fixtureDir("dpo_tiny")
        let policy = try GPT2.load(directory: dir.appendingPathComponent("policy"))
        let reference = try GPT2.load(directory: dir.appendingPathComponent("reference"))
        let expected = try SafeTensors.read(dir.appendingPathComponent("expected.safetensors"))
        let batch = try ResponseBatch(ids: fx.ids, targets: fx.targets, rows: fx.rows, time: fx.time)
        let refLogps = try reference.sequenceLogProbs(batch, tape: .noGrad()).logps.toArray()
        let params = policy.namedParameters
        for name in caseNames {
            policy.zeroGrad()
            let tape = Tape()
            let pairs = try PreferencePairs(policy: policy.sequenceLogProbs(batch, tape: tape), reference: refLogps, tape: tape)
            let out = try PreferenceLoss(fx.lossConfig(name))(pairs, tape: tape)
            assertMetrics(out.metrics, fx.cases[name]!.metrics, rel: 1e-4, abs: 1e-5, "\(name) end-to-end")
            tape.backward(out.loss)
            let keys = expected.names.filter { $0.hasPrefix(name + ".grad.") }
            XCTAssertEqual(keys.count, 4, "\(name): gradients recorded for four parameters")
            for key in keys {
                let pname = String(key.dropFirst(name.count + ".grad.".count))
                let p = try XCTUnwrap(params[pname], pname)
                XCTAssertLessThan(scaledError(p.grad!.ptr, expected.tensor(key)!.values), 1e-4, "\(name): gradient of \(pname)")
            }
        }
    }

    func testRewardModelLoadsTransformersCheckpointAndMatchesBradleyTerry() throws {
        let fx = try DPOFixture.load()
        let dir = fixtureDir("dpo_tiny")
        let rm = try RewardModel.load(directory: dir.appendingPathComponent("reward"))
        XCTAssertEqual(rm.padTokenId, 0)
        let tape = Tape()
        let rewards = try rm.rewards(fx.ids, rows: fx.rows, time: fx.time, tape: tape)
        XCTAssertLessThan(scaledError(rewards.ptr, fx.reward.rewards), 1e-5, "rewards")
        let batch = try ResponseBatch(ids: fx.ids, targets: fx.targets, rows: fx.rows, time: fx.time)
        XCTAssertEqual(try rm.rewards(batch, tape: .noGrad()).toArray(), rewards.toArray(), "last response token = last non-pad token")
        let (loss, m) = try BradleyTerry.loss(rewards: rewards, margins: fx.reward.margins, tape: tape)
        let e = fx.reward.metrics
        for (key, value) in [("loss", m.loss), ("accuracy", m.accuracy), ("margin", m.margin), ("rewardMean", m.rewardMean), ("rewardStd", m.rewardStd)] {
            assertClose(value, e[key]!, rel: 1e-5, abs: 1e-5, "Bradley–Terry \(key)")
        }
        tape.backward(loss)
        let expected = try SafeTensors.read(dir.appendingPathComponent("expected.safetensors"))
        var params = rm.trunk.namedParameters
        params[RewardModel.scoreName] = rm.score
        let keys = expected.names.filter { $0.hasPrefix("reward.grad.") }
        XCTAssertEqual(keys.count, 3, "reward gradients recorded for three parameters")
        for key in keys {
            let pname = String(key.dropFirst("reward.grad.".count))
            let p = try XCTUnwrap(params[pname], pname)
            XCTAssertLessThan(scaledError(p.grad!.ptr, expected.tensor(key)!.values), 1e-4, "reward gradient of \(pname)")
        }
        // The formula alone, fed torch's rewards: tight tolerance.
        let exact = try BradleyTerry.loss(rewards: Tensor(fx.reward.rewards, shape: [fx.rows]), margins: fx.reward.margins, tape: .noGrad())
        assertClose(exact.metrics.loss, e["loss"]!, "Bradley–Terry loss from torch rewards")
        assertClose(exact.metrics.rewardStd, e["rewardStd"]!, "reward std from torch rewards")
    }
}
