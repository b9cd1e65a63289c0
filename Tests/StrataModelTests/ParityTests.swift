// Parity with PyTorch/transformers: fixtures written by tools/fixtures/gpt2_parity.py
// (a tiny GPT-2 built by transformers, its logits, loss, gradients, and parameters
// after one torch.optim.AdamW step on a fixed batch).

import XCTest
import Foundation
import StrataCore
import StrataTensor
import StrataCheckpoint
@testable import StrataModel
import StrataTestSupport

struct ParityBatch: Decodable {
    struct Adam: Decodable { let lr: Float; let beta1: Float; let beta2: Float; let eps: Float; let weight_decay: Float }
    let batch: Int, time: Int, ids: [Int32], targets: [Int32], adamw: Adam
}

func fixtureDir(_ name: String) -> URL {
    Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent(name)
}

/// max |a − b| / max |b|: relative to the reference tensor's scale.
func scaledError(_ a: UnsafePointer<Float>, _ b: [Float]) -> Float {
    var diff: Float = 0, scale: Float = 1e-30
    for i in 0..<b.count { diff = max(diff, abs(a[i] - b[i])); scale = max(scale, abs(b[i])) }
    return diff / scale
}

final class ParityTests: XCTestCase {
    func testLogitsLossGradientsAndAdamWMatchTransformers() throws {
        let dir = fixtureDir("gpt2_tiny")
        let model = try GPT2.load(directory: dir)
        let batch = try StrataJSON.read(ParityBatch.self, at: dir.appendingPathComponent("batch.json"))
        let expected = try SafeTensors.read(dir.appendingPathComponent("expected.safetensors"))

        let tape = Tape()
        let logits = model.logits(model.hidden(batch.ids, batch: batch.batch, time: batch.time, tape: tape), tape: tape)
        let loss = tape.crossEntropy(logits, batch.targets)
        XCTAssertLessThan(scaledError(logits.ptr, expected.tensor("logits")!.values), 1e-5, "logits")
        XCTAssertEqual(loss.item(), expected.tensor("loss")!.values[0], accuracy: 1e-5 * abs(loss.item()))
        tape.backward(loss)
        for p in model.parameters {
            let ref = try XCTUnwrap(expected.tensor("grad." + p.name!), p.name!)
            XCTAssertLessThan(scaledError(p.grad!.ptr, ref.values), 1e-4, "gradient of \(p.name!)")
        }
        let a = batch.adamw
        let opt = AdamW(model.parameters, config: .init(lr: a.lr, beta1: a.beta1, beta2: a.beta2, eps: a.eps, weightDecay: a.weight_decay))
        opt.update()
        for p in model.parameters {
            let ref = try XCTUnwrap(expected.tensor("adamw." + p.name!), p.name!)
            XCTAssertLessThan(scaledError(p.ptr, ref.values), 1e-4, "parameter after AdamW: \(p.name!)")
        }
    }

    func testSavedCheckpointReloadsIdentically() throws {
        let cfg = GPT2Config(vocabSize: 40, nPositions: 12, nEmbd: 16, nLayer: 2, nHead: 2)
        let model = GPT2(cfg, seed: 3)
        let dir = try scratchDirectory()
        try model.save(directory: dir)
        let back = try GPT2.load(directory: dir)
        XCTAssertEqual(back.config, cfg)
        for (p, q) in zip(model.parameters, back.parameters) { XCTAssertEqual(p.toArray(), q.toArray(), p.name!) }
    }

    func testShapeMismatchNamesTheTensorAndField() throws {
        let dir = try scratchDirectory()
        try GPT2(GPT2Config(vocabSize: 40, nPositions: 12, nEmbd: 16, nLayer: 1, nHead: 2), seed: 1).save(directory: dir)
        let other = GPT2(GPT2Config(vocabSize: 48, nPositions: 12, nEmbd: 16, nLayer: 1, nHead: 2), seed: 1)
        XCTAssertThrowsError(try other.loadWeights(from: dir.appendingPathComponent("model.safetensors"))) { e in
            let msg = String(describing: e)
            XCTAssertTrue(msg.contains("transformer.wte.weight") && msg.contains("vocab_size"), msg)
        }
    }

    func testConfigValidationNamesTheField() {
        var cfg = GPT2Config(vocabSize: 10, nPositions: 8, nEmbd: 10, nLayer: 1, nHead: 3)
        XCTAssertThrowsError(try cfg.validate()) { XCTAssertTrue(String(describing: $0).contains("n_embd")) }
        cfg.nHead = 2; cfg.activationFunction = "relu"
        XCTAssertThrowsError(try cfg.validate()) { XCTAssertTrue(String(describing: $0).contains("activation_function")) }
    }
}
