// Sanity and behaviour of the preference code on tiny random models: policy ==
// reference gives DPO's log 2 with zero rewards and KL; a few DPO steps separate a
// batch; SimPO runs without a reference; the SFT term is the chosen NLL; the reward
// model learns a separable toy set; reward checkpoints round-trip in
// GPT2ForSequenceClassification form; bad inputs throw named errors.

import XCTest
import Foundation
import StrataCore
import StrataTensor
import StrataCheckpoint
@testable import StrataModel

final class PreferenceTests: XCTestCase {
    let tiny = GPT2Config(vocabSize: 32, nPositions: 16, nEmbd: 16, nLayer: 1, nHead: 2)

    func pairsBatch() throws -> ResponseBatch {
        let prompts: [[Int32]] = [[3, 4, 5], [6, 7], [8, 9, 10, 11]]
        let chosen: [[Int32]] = [[12, 13, 14], [15, 16], [17]]
        let rejected: [[Int32]] = [[18], [19, 20, 21, 22], [23, 24]]
        return try ResponseBatch(prompts: prompts + prompts, responses: chosen + rejected, padId: 0)
    }

    func tempDir() -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("strata-pref-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: d) }
        return d
    }

    func testPackedBatchLayout() throws {
        let b = try ResponseBatch(prompts: [[5, 6], [7]], responses: [[8, 9], [10, 11, 12]], padId: 0)
        XCTAssertEqual(b.time, 4)
        XCTAssertEqual(b.ids, [5, 6, 8, 9, 7, 10, 11, 12])
        XCTAssertEqual(b.targets, [-100, 8, 9, -100, 10, 11, 12, -100])
        XCTAssertEqual(b.responseLengths, [2, 3])
        XCTAssertEqual(b.lastResponseIndex, [3, 3])
        XCTAssertEqual(RewardModel.lastNonPadIndices([5, 6, 0, 0, 0, 0, 0, 0], rows: 2, time: 4, padId: 0), [1, 0])
    }

    func testPolicyEqualToReferenceGivesLogTwoAndZeroRewards() throws {
        let model = GPT2(tiny, seed: 1)
        let batch = try pairsBatch()
        let ref = try model.sequenceLogProbs(batch, tape: .noGrad()).logps.toArray()
        let tape = Tape()
        let pairs = try PreferencePairs(policy: model.sequenceLogProbs(batch, tape: tape), reference: ref, tape: tape)
        let out = try PreferenceLoss(.init(type: .sigmoid, beta: 0.3))(pairs, tape: tape)
        let m = out.metrics
        XCTAssertEqual(out.loss.item(), Float(log(2.0)), accuracy: 1e-6)
        XCTAssertEqual(m.chosenReward, 0); XCTAssertEqual(m.rejectedReward, 0); XCTAssertEqual(m.margin, 0)
        XCTAssertEqual(m.kl ?? .nan, 0)
        XCTAssertEqual(m.rewardAccuracy, 0, "ties are not wins")
        XCTAssertEqual(m.meanLength, Float(3 + 2 + 1 + 1 + 4 + 2) / 6)
        tape.backward(out.loss)
        XCTAssertGreaterThan(AdamW.gradNorm(model.parameters), 0, "at π = ref the DPO gradient is −β/2·∇(πc − πr), not zero")
        let ipo = try PreferenceLoss(.init(type: .ipo, beta: 0.25))(
            PreferencePairs(policy: model.sequenceLogProbs(batch, tape: .noGrad()), reference: ref, tape: .noGrad()), tape: .noGrad())
        XCTAssertEqual(ipo.loss.item(), 4, accuracy: 1e-5, "h = 0 gives (1/(2β))² = 4")
    }

    func testDPOStepsSeparateTheBatch() throws {
        let model = GPT2(tiny, seed: 2)
        let batch = try pairsBatch()
        let ref = try model.sequenceLogProbs(batch, tape: .noGrad()).logps.toArray()
        let loss = try PreferenceLoss(.init(beta: 0.5))
        let opt = AdamW(model.parameters, config: .init(lr: 1e-2, weightDecay: 0))
        var last: PreferenceMetrics?
        for _ in 0..<15 {
            let tape = Tape()
            let out = try loss(PreferencePairs(policy: model.sequenceLogProbs(batch, tape: tape), reference: ref, tape: tape), tape: tape)
            tape.backward(out.loss)
            opt.update()
            model.zeroGrad()
            last = out.metrics
        }
        let m = try XCTUnwrap(last)
        XCTAssertLessThan(m.loss, Float(log(2.0)) - 0.1)
        XCTAssertEqual(m.rewardAccuracy, 1)
        XCTAssertGreaterThan(m.margin, 0.2)
        XCTAssertGreaterThan(m.chosenReward, m.rejectedReward)
    }

    func testSimPOIsReferenceFreeAndSFTTermIsChosenNLL() throws {
        let model = GPT2(tiny, seed: 3)
        let batch = try pairsBatch()
        let lp = try model.sequenceLogProbs(batch, tape: .noGrad())
        let simpo = try PreferenceLoss(.init(type: .simpo, beta: 2, simpoGamma: 0.5))(
            PreferencePairs(policy: lp, reference: nil, tape: .noGrad()), tape: .noGrad())
        XCTAssertNil(simpo.metrics.kl)
        let v = lp.logps.toArray(), n = lp.lengths
        let z = (0..<3).map { 2 * (Double(v[$0]) / Double(n[$0]) - Double(v[$0 + 3]) / Double(n[$0 + 3])) - 0.5 }
        let expected = z.map { log1p(exp(-$0)) }.reduce(0, +) / 3
        XCTAssertEqual(Double(simpo.loss.item()), expected, accuracy: 1e-5)
        let ref = v.map { $0 + 0.1 }
        let plain = try PreferenceLoss(.init())(PreferencePairs(policy: lp, reference: ref, tape: .noGrad()), tape: .noGrad())
        let withSFT = try PreferenceLoss(.init(sftWeight: 0.4))(PreferencePairs(policy: lp, reference: ref, tape: .noGrad()), tape: .noGrad())
        XCTAssertEqual(withSFT.loss.item() - plain.loss.item(), 0.4 * plain.metrics.chosenNLL, accuracy: 1e-5)
        XCTAssertThrowsError(try PreferenceLoss(.init())(PreferencePairs(policy: lp, reference: nil, tape: .noGrad()), tape: .noGrad())) {
            XCTAssertEqual(($0 as? StrataError)?.kind, .config, "sigmoid needs a reference")
        }
    }

    /// Chosen responses carry token 2, rejected ones token 3; the rest is noise. Accuracy on held-out pairs.
    func toyPairs(_ count: Int, _ rng: inout StrataRNG) throws -> ResponseBatch {
        var prompts = [[Int32]](), chosen = [[Int32]](), rejected = [[Int32]]()
        func noise(_ k: Int) -> [Int32] { (0..<k).map { _ in Int32(4 + rng.int(below: 12)) } }
        for _ in 0..<count {
            prompts.append(noise(2))
            var c = noise(3), r = noise(3)
            c[rng.int(below: 3)] = 2; r[rng.int(below: 3)] = 3
            chosen.append(c); rejected.append(r)
        }
        return try ResponseBatch(prompts: prompts + prompts, responses: chosen + rejected, padId: 0)
    }

    func testRewardModelLearnsASeparableToySet() throws {
        let cfg = GPT2Config(vocabSize: 16, nPositions: 8, nEmbd: 16, nLayer: 1, nHead: 2)
        let rm = RewardModel(trunk: GPT2(cfg, seed: 4), padTokenId: 0, head: .normal(seed: 5))
        var rng = StrataRNG(seed: 6)
        let train = try toyPairs(16, &rng), heldOut = try toyPairs(32, &rng)
        let opt = AdamW(rm.parameters, config: .init(lr: 1e-2, weightDecay: 0))
        let before = try BradleyTerry.loss(rewards: rm.rewards(heldOut, tape: .noGrad()), tape: .noGrad()).metrics
        for _ in 0..<40 {  // held-out accuracy passes 0.95 after ~10-20 steps
            let tape = Tape()
            let (loss, _) = try BradleyTerry.loss(rewards: rm.rewards(train, tape: tape), tape: tape)
            tape.backward(loss)
            opt.update()
            rm.zeroGrad()
        }
        let after = try BradleyTerry.loss(rewards: rm.rewards(heldOut, tape: .noGrad()), tape: .noGrad()).metrics
        XCTAssertGreaterThan(after.accuracy, 0.95, "held-out accuracy \(before.accuracy) → \(after.accuracy)")
        XCTAssertLessThan(after.loss, before.loss)
        XCTAssertGreaterThan(after.margin, 1)
    }

    func testRewardCheckpointRoundTripsInSequenceClassificationForm() throws {
        let lmDir = tempDir()
        var cfg = tiny
        cfg.eosTokenId = 31
        try GPT2(cfg, seed: 7).save(directory: lmDir)
        let rm = try RewardModel.fromLanguageModel(directory: lmDir, head: .normal(seed: 8))
        XCTAssertEqual(rm.padTokenId, 31, "pad defaults to eos")
        let head = rm.score.toArray()
        let std = (head.map { $0 * $0 }.reduce(0, +) / Float(head.count)).squareRoot()
        XCTAssertEqual(std, 1 / Float(cfg.nEmbd).squareRoot(), accuracy: 0.12)
        let batch = try pairsBatch()
        let rewards = try rm.rewards(batch.ids, rows: batch.rows, time: batch.time, tape: .noGrad()).toArray()
        let dir = tempDir()
        try rm.save(directory: dir)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("config.json"))) as! [String: Any]
        XCTAssertEqual(json["architectures"] as? [String], ["GPT2ForSequenceClassification"])
        XCTAssertEqual(json["id2label"] as? [String: String], ["0": "LABEL_0"])
        XCTAssertEqual(json["label2id"] as? [String: Int], ["LABEL_0": 0])
        XCTAssertEqual(json["pad_token_id"] as? Int, 31)
        let names = try SafeTensors.read(dir.appendingPathComponent("model.safetensors")).names
        XCTAssertTrue(names.contains("score.weight") && names.contains("transformer.wte.weight") && !names.contains("lm_head.weight"))
        let back = try RewardModel.load(directory: dir)
        XCTAssertEqual(try back.rewards(batch.ids, rows: batch.rows, time: batch.time, tape: .noGrad()).toArray(), rewards)
        if let export = ProcessInfo.processInfo.environment["STRATA_EXPORT_REWARD"] {  // for dpo_parity.py --check-reward
            try rm.save(directory: URL(fileURLWithPath: export))
            let ref: [String: Any] = ["ids": batch.ids.map(Int.init), "rows": batch.rows, "time": batch.time, "rewards": rewards]
            try JSONSerialization.data(withJSONObject: ref).write(to: URL(fileURLWithPath: export).appendingPathComponent("strata_rewards.json"))
        }
        let zero = RewardModel(trunk: rm.trunk, padTokenId: 0, head: .zero)
        XCTAssertEqual(try zero.rewards(batch.ids, rows: batch.rows, time: batch.time, tape: .noGrad()).toArray(), [Float](repeating: 0, count: 6))
        XCTAssertThrowsError(try RewardModel.load(directory: lmDir), "a language-model checkpoint is not a reward model")
    }

    /// One read rule (transformers' rightmost non-pad token) over rows laid out as TRL tokenises them: a plain row
    /// ending in EOS with pad = EOS is read at its last response token; a conversational row at the template's
    /// trailing newline, which carries no loss. TRL's plain pairs used to be refused here.
    func testRewardIsReadWhereTransformersReadsItEvenWhenPadIsEOS() throws {
        let eos: Int32 = 31, endOfTurn: Int32 = 30, newline: Int32 = 10
        let rm = RewardModel(trunk: GPT2(tiny, seed: 4), padTokenId: Int(eos), head: .normal(seed: 5))
        let plain = try ResponseBatch(prompts: [[3, 4], [6]], responses: [[12, 13, eos], [15, 16, 17, eos]], padId: eos)
        XCTAssertEqual(plain.lastResponseIndex, [4, 4], "the loss covers the EOS")
        let got = try rm.rewards(plain, tape: .noGrad()).toArray()
        XCTAssertEqual(got, try rm.rewards(plain.ids, rows: 2, time: plain.time, tape: .noGrad()).toArray(), "transformers' rule")
        XCTAssertEqual(got, try rm.rewards(plain.ids, rows: 2, time: plain.time, tape: .noGrad(), positions: [3, 3]).toArray(),
                       "read at the last response token before the trailing EOS")
        // prompt, response (content + end of turn), the untrained newline suffix, then padding.
        let ids: [Int32] = [3, 12, endOfTurn, newline, eos, eos]
        let targets: [Int32] = [12, endOfTurn, -100, -100, -100, -100]
        let chat = try ResponseBatch(ids: ids, targets: targets, rows: 1, time: 6)
        XCTAssertEqual(try rm.rewards(chat, tape: .noGrad()).toArray(),
                       try rm.rewards(ids, rows: 1, time: 6, tape: .noGrad(), positions: [3]).toArray(), "read at the trailing newline")
        let onlyPad = try ResponseBatch(prompts: [[3, 4]], responses: [[eos]], padId: eos)
        XCTAssertThrowsError(try rm.rewards(onlyPad, tape: .noGrad())) { e in
            XCTAssertTrue("\(e)".contains("before the response"), "\(e)")
        }
    }

    func testBadInputsThrowNamedErrors() throws {
        func kind(_ body: () throws -> Void) -> StrataError.Kind? {
            do { try body(); return nil } catch let e as StrataError { return e.kind } catch { return nil }
        }
        XCTAssertEqual(kind { _ = try PreferenceLoss(.init(beta: 0)) }, .config)
        XCTAssertEqual(kind { _ = try PreferenceLoss(.init(labelSmoothing: 0.5)) }, .config)
        XCTAssertEqual(kind { _ = try PreferenceLoss(.init(type: .ipo, labelSmoothing: 0.1)) }, .config)
        XCTAssertEqual(kind { _ = try PreferenceLoss(.init(sftWeight: -1)) }, .config)
        XCTAssertEqual(kind { _ = try ResponseBatch(prompts: [[1]], responses: [[]], padId: 0) }, .data)
        XCTAssertEqual(kind { _ = try ResponseBatch(prompts: [[]], responses: [[1]], padId: 0) }, .data)
        XCTAssertEqual(kind { _ = try ResponseBatch(prompts: [[1, 2]], responses: [[3, 4]], padId: 0, time: 3) }, .data)
        XCTAssertEqual(kind { _ = try ResponseBatch(ids: [1, 2, 3], targets: [3, -100, -100], rows: 1, time: 3) }, .data)
        XCTAssertEqual(kind { _ = try ResponseBatch(ids: [1, 2], targets: [2], rows: 1, time: 2) }, .shape)
        let model = GPT2(tiny, seed: 9)
        XCTAssertEqual(kind { _ = try model.sequenceLogProbs(ResponseBatch(prompts: [[1]], responses: [[40]], padId: 0), tape: .noGrad()) }, .data)
        let zeroLength = PreferencePairs(chosen: Tensor([-1], shape: [1]), rejected: Tensor([-2], shape: [1]), referenceChosen: [-1],
                                         referenceRejected: [-2], chosenLengths: [0], rejectedLengths: [2])
        XCTAssertEqual(kind { _ = try PreferenceLoss(.init())(zeroLength, tape: .noGrad()) }, .data)
        let nanRef = PreferencePairs(chosen: Tensor([-1], shape: [1]), rejected: Tensor([-2], shape: [1]), referenceChosen: [.nan],
                                     referenceRejected: [-2], chosenLengths: [1], rejectedLengths: [2])
        XCTAssertEqual(kind { _ = try PreferenceLoss(.init())(nanRef, tape: .noGrad()) }, .numeric)
        XCTAssertEqual(kind { _ = try BradleyTerry.loss(rewards: Tensor([1, 2, 3], shape: [3]), tape: .noGrad()) }, .shape)
        XCTAssertEqual(kind { _ = try BradleyTerry.loss(rewards: Tensor([1, 2], shape: [2]), margins: [1, 2], tape: .noGrad()) }, .data)
        // A response made only of pad tokens would be read inside the prompt: refused. (One ending in the pad id is
        // read before it, as transformers reads it: testRewardIsReadWhereTransformersReadsItEvenWhenPadIsEOS.)
        let rm = RewardModel(trunk: model, padTokenId: 5, head: .zero)
        let onlyPad = try ResponseBatch(prompts: [[1, 2]], responses: [[5, 5]], padId: 5)
        XCTAssertEqual(kind { _ = try rm.rewards(onlyPad, tape: .noGrad()) }, .data)
        XCTAssertEqual(kind { _ = try rm.rewards([1, 2], rows: 1, time: 2, tape: .noGrad(), positions: [2]) }, .data)
        XCTAssertEqual(kind { _ = try rm.rewards([1, 99], rows: 1, time: 2, tape: .noGrad()) }, .data)
    }
}
