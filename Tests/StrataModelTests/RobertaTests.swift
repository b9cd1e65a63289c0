// The RoBERTa masked-LM encoder against transformers' RobertaForMaskedLM (fixture
// written by tools/fixtures/roberta_fixture.py: right-padded rows, masked positions):
// logits, loss, every gradient, one AdamW step, save/load; the masking rule's
// proportions on a large sample, special tokens never selected, the same corruption
// for a row whatever batch it is in; config refusals naming the field.

import XCTest
import Foundation
import StrataCore
import StrataTensor
import StrataCheckpoint
@testable import StrataModel
import StrataTestSupport

final class RobertaParityTests: XCTestCase {
    struct Batch: Decodable { let batch: Int, time: Int, ids: [Int32], labels: [Int32], adamw: ParityBatch.Adam }

    func testMaskedLMLogitsLossGradientsAndAdamWMatchTransformers() throws {
        let dir = fixtureDir("roberta_tiny")
        let model = try Roberta.load(directory: dir)
        let b = try StrataJSON.read(Batch.self, at: dir.appendingPathComponent("batch.json"))
        let expected = try SafeTensors.read(dir.appendingPathComponent("expected.safetensors"))
        try model.checkInput(b.ids, batch: b.batch, time: b.time)
        let tape = Tape()
        let logits = model.logits(model.hidden(b.ids, batch: b.batch, time: b.time, tape: tape), tape: tape)
        let loss = tape.crossEntropy(logits, b.labels)
        // Padded positions' logits are whatever the model computes there; transformers computes them the same way.
        XCTAssertLessThan(scaledError(logits.ptr, expected.tensor("logits")!.values), 1e-5, "logits")
        XCTAssertEqual(loss.item(), expected.tensor("loss")!.values[0], accuracy: 1e-5 * abs(loss.item()))
        tape.backward(loss)
        XCTAssertEqual(model.parameters.count, expected.names.filter { $0.hasPrefix("grad.") }.count)
        for p in model.parameters {
            let ref = try XCTUnwrap(expected.tensor("grad." + p.name!), p.name!)
            if ref.values.allSatisfy({ abs($0) < 1e-6 }) {
                // The key bias shifts every score of a query by the same q·b, which softmax ignores: its gradient is
                // exactly zero, and both sides hold rounding noise of ~1e-9 that no relative comparison can use.
                XCTAssertTrue(p.name!.hasSuffix("attention.self.key.bias"), "unexpectedly zero gradient: \(p.name!)")
                XCTAssertLessThan(p.grad!.toArray().map(abs).max()!, 1e-6, "gradient of \(p.name!)")
                continue
            }
            XCTAssertLessThan(scaledError(p.grad!.ptr, ref.values), 1e-4, "gradient of \(p.name!)")
        }
        for p in model.parameters { p.grad!.copy(from: Tensor(expected.tensor("grad." + p.name!)!.values, shape: p.shape)) }
        let a = b.adamw
        AdamW(model.parameters, config: .init(lr: a.lr, beta1: a.beta1, beta2: a.beta2, eps: a.eps, weightDecay: a.weight_decay)).update()
        for p in model.parameters {
            XCTAssertLessThan(scaledError(p.ptr, expected.tensor("adamw." + p.name!)!.values), 1e-5, "after AdamW: \(p.name!)")
        }
    }

    func testSavedEncoderLoadsBackEqual() throws {
        let model = try Roberta.load(directory: fixtureDir("roberta_tiny"))
        let out = try scratchDirectory()
        try model.save(directory: out)
        let back = try Roberta.load(directory: out)
        XCTAssertEqual(back.config, model.config)
        for (p, q) in zip(model.parameters, back.parameters) { XCTAssertEqual(p.toArray(), q.toArray(), p.name!) }
    }

    func testPositionIDsFollowTransformers() throws {
        let model = try Roberta.load(directory: fixtureDir("roberta_tiny"))   // pad_token_id 1
        XCTAssertEqual(model.positionIDs([0, 17, 4, 2, 1, 1], time: 6), [2, 3, 4, 5, 1, 1])
    }

    func testBadInputAndConfigAreRefusedByName() throws {
        let model = try Roberta.load(directory: fixtureDir("roberta_tiny"))
        XCTAssertThrowsError(try model.checkInput([0, 100], batch: 1, time: 2)) { XCTAssertTrue("\($0)".contains("id 100 outside the vocabulary of 100"), "\($0)") }
        XCTAssertThrowsError(try model.checkInput([Int32](repeating: 5, count: 33), batch: 1, time: 33)) {
            XCTAssertTrue("\($0)".contains("32 positions"), "\($0)")
        }
        var cfg = model.config
        cfg.positionEmbeddingType = "relative_key"
        XCTAssertThrowsError(try cfg.validate()) { XCTAssertTrue("\($0)".contains("position_embedding_type"), "\($0)") }
        cfg = model.config; cfg.hiddenAct = "relu"
        XCTAssertThrowsError(try cfg.validate()) { XCTAssertTrue("\($0)".contains("hidden_act"), "\($0)") }
    }
}

final class MaskingRuleTests: XCTestCase {
    func testProportionsOnALargeSampleAndSpecialTokensNeverSelected() {
        let rule = MaskingRule(), special: Set<Int32> = [0, 1, 2, 4]
        var rng = StrataRNG(seed: 1)
        var positions = 0, selected = 0, masked = 0, random = 0, kept = 0
        for row in 0..<400 {
            let ids: [Int32] = [0] + (0..<254).map { _ in Int32(5 + rng.int(below: 995)) } + [2]
            let (inputs, labels) = rule.apply(ids, maskID: 4, vocabSize: 1000, special: special, seed: 7, row: UInt64(row))
            XCTAssertEqual(labels[0], -100); XCTAssertEqual(labels[255], -100)
            XCTAssertEqual(inputs[0], 0); XCTAssertEqual(inputs[255], 2)
            for i in 1..<255 {
                positions += 1
                guard labels[i] != -100 else { XCTAssertEqual(inputs[i], ids[i]); continue }
                XCTAssertEqual(labels[i], ids[i])
                selected += 1
                if inputs[i] == 4 { masked += 1 } else if inputs[i] == ids[i] { kept += 1 } else { random += 1 }
            }
        }
        // 101,600 positions: binomial standard deviations are ~0.11% (selection) and ~0.3-0.4% (shares); allow 4σ.
        let sel = Double(selected) / Double(positions)
        XCTAssertEqual(sel, 0.15, accuracy: 4 * (0.15 * 0.85 / Double(positions)).squareRoot(), "selected \(sel)")
        func share(_ n: Int) -> Double { Double(n) / Double(selected) }
        let sd = { (p: Double) in 4 * (p * (1 - p) / Double(selected)).squareRoot() }
        XCTAssertEqual(share(masked), 0.8, accuracy: sd(0.8))
        // A random draw equal to the original (1 in 995) counts as kept: 0.1·(1/995) moves between the two shares.
        XCTAssertEqual(share(random), 0.1 * 994 / 995, accuracy: sd(0.1))
        XCTAssertEqual(share(kept), 0.1 + 0.1 / 995, accuracy: sd(0.1))
    }

    func testARowIsCorruptedTheSameWayWhateverItsBatch() {
        let rule = MaskingRule(), ids: [Int32] = (0..<64).map { Int32(10 + $0) }
        let a = rule.apply(ids, maskID: 4, vocabSize: 100, special: [], seed: 3, row: 12)
        let b = rule.apply(ids, maskID: 4, vocabSize: 100, special: [], seed: 3, row: 12)
        let c = rule.apply(ids, maskID: 4, vocabSize: 100, special: [], seed: 3, row: 13)
        XCTAssertEqual(a.inputs, b.inputs); XCTAssertEqual(a.labels, b.labels)
        XCTAssertNotEqual(a.labels, c.labels)
    }

    func testInvalidProportionsAreRefusedByName() {
        XCTAssertThrowsError(try MaskingRule(selectProbability: 1.5).validate()) { XCTAssertTrue("\($0)".contains("select_probability"), "\($0)") }
        XCTAssertThrowsError(try MaskingRule(maskFraction: 0.95, randomFraction: 0.1).validate()) { XCTAssertTrue("\($0)".contains("above 1"), "\($0)") }
    }
}
