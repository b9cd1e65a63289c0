// LoRA adapters: identity at start, merge equivalence, frozen base under AdamW,
// overfitting a batch through adapters alone, PEFT-style save/load, config
// errors, and a finite-difference check of the adapter path's gradient.

import XCTest
import StrataTestSupport
import Foundation
import StrataCore
import StrataTensor
import StrataCheckpoint
@testable import StrataModel

final class LoRATests: XCTestCase {
    let tiny = GPT2Config(vocabSize: 32, nPositions: 16, nEmbd: 32, nLayer: 2, nHead: 4)
    let ids: [Int32] = [1, 5, 9, 2, 7, 3, 30, 11, 4, 4, 0, 19, 8, 6, 21, 13]

    func logits(_ m: GPT2) -> [Float] {
        let t = Tape.noGrad()
        return m.logits(m.hidden(ids, batch: 2, time: 8, tape: t), tape: t).toArray()
    }

    /// Give every adapter random nonzero A and B (B is zero after attach).
    func randomizeAdapters(_ m: GPT2, seed: UInt64) {
        var rng = StrataRNG(seed: seed)
        for p in LoRA.parameters(of: m) { for k in 0..<p.count { p.ptr[k] = rng.normal() * 0.2 } }
    }

    func tempDir() -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("strata-lora-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: d) }
        return d
    }

    func testAttachStartsAsIdentityAndFreezesBase() throws {
        let model = GPT2(tiny, seed: 1)
        let before = logits(model)
        let params = try LoRA.attach(to: model, config: LoRAConfig(r: 4, targets: ["c_attn", "c_proj", "c_fc"]), seed: 3)
        XCTAssertEqual(params.count, 2 * 4 * tiny.nLayer, "A and B on four Linears per block")
        XCTAssertEqual(logits(model), before, "B = 0 makes the adapted model compute exactly the base")
        XCTAssertTrue(model.parameters.allSatisfy { !$0.requiresGrad })
        XCTAssertTrue(params.allSatisfy(\.requiresGrad))
        let a = model.blocks[0].attn.adapter!.a
        XCTAssertEqual(a.shape, [tiny.nEmbd, 4])
        let bound = 1 / Float(tiny.nEmbd).squareRoot()
        XCTAssertTrue(a.toArray().allSatisfy { abs($0) <= bound } && a.toArray().contains { $0 != 0 })
        XCTAssertEqual(model.blocks[0].fcProj.adapter!.b.toArray(), [Float](repeating: 0, count: 4 * tiny.nEmbd))
        LoRA.detach(from: model)
        XCTAssertFalse(LoRA.isAttached(model))
        XCTAssertTrue(model.parameters.allSatisfy(\.requiresGrad))
    }

    func testTargetsMatchDottedSuffixes() throws {
        let model = GPT2(tiny, seed: 1)
        try LoRA.attach(to: model, config: LoRAConfig(targets: ["attn.c_proj"]), seed: 1)
        XCTAssertEqual(LoRA.adapted(model).map(\.moduleName), ["transformer.h.0.attn.c_proj", "transformer.h.1.attn.c_proj"])
        LoRA.detach(from: model)
        try LoRA.attach(to: model, config: LoRAConfig(targets: ["c_proj"]), seed: 1)
        XCTAssertEqual(LoRA.adapted(model).count, 4, "c_proj matches attn.c_proj and mlp.c_proj")
    }

    func testBadConfigsThrowNamedErrors() throws {
        let model = GPT2(tiny, seed: 1)
        func kind(_ c: LoRAConfig) -> StrataError.Kind? {
            do { try LoRA.attach(to: model, config: c, seed: 0); LoRA.detach(from: model); return nil } catch let e as StrataError {
                return e.kind
            } catch { return nil }
        }
        XCTAssertEqual(kind(LoRAConfig(r: 0)), .config)
        XCTAssertEqual(kind(LoRAConfig(alpha: -1)), .config)
        XCTAssertEqual(kind(LoRAConfig(dropout: 1)), .config)
        XCTAssertEqual(kind(LoRAConfig(targets: [])), .config)
        XCTAssertEqual(kind(LoRAConfig(targets: ["c_attn", "q_proj"])), .config)
        XCTAssertFalse(LoRA.isAttached(model), "a failed attach leaves no adapters")
        try LoRA.attach(to: model, config: LoRAConfig(), seed: 0)
        XCTAssertThrowsError(try LoRA.attach(to: model, config: LoRAConfig(), seed: 0)) { e in
            XCTAssertEqual((e as? StrataError)?.kind, .state)
        }
    }

    func testMergeMatchesAdaptedModelAndExportsPlainGPT2() throws {
        let model = GPT2(tiny, seed: 2)
        let base = logits(model)
        try LoRA.attach(to: model, config: LoRAConfig(r: 4, alpha: 8, dropout: 0.1, targets: ["c_attn", "c_proj", "c_fc"]), seed: 5)
        randomizeAdapters(model, seed: 6)
        let adapted = logits(model)
        XCTAssertGreaterThan(scaledError(adapted, base), 1e-3, "random adapters must change the output")
        LoRA.merge(into: model)
        XCTAssertFalse(LoRA.isAttached(model))
        XCTAssertTrue(model.parameters.allSatisfy(\.requiresGrad))
        XCTAssertLessThan(scaledError(logits(model), adapted), 1e-5)
        // The merged model is an ordinary checkpoint: save, reload without any LoRA code path, same logits.
        let dir = tempDir()
        try model.save(directory: dir)
        let names = try SafeTensors.read(dir.appendingPathComponent("model.safetensors")).names
        XCTAssertFalse(names.contains { $0.contains("lora") })
        XCTAssertEqual(logits(try GPT2.load(directory: dir)), logits(model))
    }

    func testOnlyAdaptersGetGradientsAndChange() throws {
        let model = GPT2(tiny, seed: 3)
        let params = try LoRA.attach(to: model, config: LoRAConfig(r: 2, dropout: 0.1, targets: ["c_attn", "c_fc"]), seed: 4)
        let baseBytes = model.parameters.map { $0.toArray() }
        let startAdapters = params.map { $0.toArray() }
        let opt = AdamW(params, config: .init(lr: 1e-2, weightDecay: 0.1))
        for step in 0..<3 {
            let tape = Tape(seed: UInt64(step))
            tape.backward(model.loss(ids, targets: ids.map { ($0 + 1) % 32 }, batch: 2, time: 8, tape: tape))
            XCTAssertTrue(model.parameters.allSatisfy { $0.grad == nil }, "frozen base parameters get no gradient")
            XCTAssertTrue(params.allSatisfy { $0.grad != nil })
            opt.update()
            LoRA.zeroGrad(model)
        }
        for (p, b) in zip(model.parameters, baseBytes) {
            XCTAssertTrue(p.toArray().withUnsafeBytes { x in b.withUnsafeBytes { x.elementsEqual($0) } }, "\(p.name!) changed")
        }
        for (p, s) in zip(params, startAdapters) { XCTAssertNotEqual(p.toArray(), s, "\(p.name!) did not train") }
    }

    func testLoRAOverfitsOneBatch() throws {
        // The frozen tied head bounds the logits by |h|·|wte row|; at GPT-2's 0.02 init that is < 1, so no
        // adapter could fit anything. A wider init stands in for a trained base's larger embeddings.
        var cfg = tiny
        cfg.initializerRange = 0.3
        let model = GPT2(cfg, seed: 7)
        let params = try LoRA.attach(to: model, config: LoRAConfig(r: 8, alpha: 16, dropout: 0, targets: ["c_attn", "c_fc"]), seed: 8)
        let opt = AdamW(params, config: .init(lr: 2e-2, weightDecay: 0))
        var rng = StrataRNG(seed: 9)
        let targets = (0..<16).map { _ in Int32(rng.int(below: 32)) }
        var first: Float = 0, last: Float = 0
        for step in 0..<40 {
            let tape = Tape()
            let loss = model.loss(ids, targets: targets, batch: 2, time: 8, tape: tape)
            tape.backward(loss)
            AdamW.clipGradNorm(params, maxNorm: 1)
            opt.update()
            LoRA.zeroGrad(model)
            if step == 0 { first = loss.item() }
            last = loss.item()
        }
        XCTAssertGreaterThan(first, 3)
        XCTAssertLessThan(last, 0.1, "loss went from \(first) to \(last)")
    }

    func testSaveLoadRoundTripInPEFTLayout() throws {
        let model = GPT2(tiny, seed: 10)
        let config = LoRAConfig(r: 3, alpha: 6, dropout: 0.05, targets: ["c_attn", "mlp.c_proj"])
        try LoRA.attach(to: model, config: config, seed: 11)
        randomizeAdapters(model, seed: 12)
        let dir = tempDir()
        try LoRA.save(model, to: dir, baseModel: "gpt2")

        let file = try SafeTensors.read(dir.appendingPathComponent(LoRA.weightsFile))
        XCTAssertEqual(file.names.count, 2 * 2 * tiny.nLayer, "adapters only, no base weights")
        let a = try file.tensor("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight", shape: [3, tiny.nEmbd])
        _ = try file.tensor("base_model.model.transformer.h.1.mlp.c_proj.lora_B.weight", shape: [tiny.nEmbd, 3])
        let mem = model.blocks[0].attn.adapter!.a   // [in, r] in memory, [r, in] on disk
        XCTAssertEqual(a.values[1 * tiny.nEmbd + 5], mem.ptr[5 * 3 + 1])
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent(LoRA.configFile))) as! [String: Any]
        XCTAssertEqual(json["peft_type"] as? String, "LORA")
        XCTAssertEqual(json["r"] as? Int, 3)
        XCTAssertEqual(json["target_modules"] as? [String], ["c_attn", "mlp.c_proj"])
        XCTAssertEqual(json["fan_in_fan_out"] as? Bool, true)

        let fresh = GPT2(tiny, seed: 10)
        let params = try LoRA.load(into: fresh, from: dir)
        XCTAssertEqual(LoRA.config(of: fresh), config)
        XCTAssertEqual(params.map { $0.toArray() }, LoRA.parameters(of: model).map { $0.toArray() })
        XCTAssertEqual(logits(fresh), logits(model))
        XCTAssertTrue(fresh.parameters.allSatisfy { !$0.requiresGrad })
    }

    func testLoadRejectsMismatchedAdapterFiles() throws {
        let model = GPT2(tiny, seed: 13)
        try LoRA.attach(to: model, config: LoRAConfig(r: 2, targets: ["c_attn", "c_fc"]), seed: 1)
        let dir = tempDir()
        try LoRA.save(model, to: dir)
        // Rank mismatch: config says r = 4, the file holds r = 2.
        let cfgURL = dir.appendingPathComponent(LoRA.configFile)
        func editConfig(_ edit: (inout [String: Any]) -> Void) throws {
            var json = try JSONSerialization.jsonObject(with: Data(contentsOf: cfgURL)) as! [String: Any]
            edit(&json)
            try JSONSerialization.data(withJSONObject: json).write(to: cfgURL)
        }
        try editConfig { $0["r"] = 4 }
        let fresh = GPT2(tiny, seed: 13)
        XCTAssertThrowsError(try LoRA.load(into: fresh, from: dir)) { e in XCTAssertEqual((e as? StrataError)?.kind, .shape) }
        XCTAssertFalse(LoRA.isAttached(fresh), "a failed load leaves the model as it was")
        XCTAssertTrue(fresh.parameters.allSatisfy(\.requiresGrad))
        // Fewer targets than the file holds: the extra tensors are an error, not silently dropped.
        try editConfig { $0["r"] = 2; $0["target_modules"] = ["c_attn"] }
        XCTAssertThrowsError(try LoRA.load(into: fresh, from: dir)) { e in XCTAssertEqual((e as? StrataError)?.kind, .format) }
        // target_modules as one string (PEFT allows it) decodes: the failure is again the unadapted c_fc tensors.
        try editConfig { $0["target_modules"] = "c_attn"; $0["lora_alpha"] = nil }
        XCTAssertThrowsError(try LoRA.load(into: fresh, from: dir)) { e in
            XCTAssertTrue((e as? StrataError)?.message.contains("mlp.c_fc.lora_") == true, "\(e)")
        }
        try editConfig { $0["target_modules"] = ["c_fc", "c_attn"] }
        XCTAssertNoThrow(try LoRA.load(into: fresh, from: dir))
        XCTAssertEqual(LoRA.config(of: fresh)?.alpha, 8, "PEFT's default lora_alpha when the field is absent")
        LoRA.detach(from: fresh)
        // PEFT variants Strata would misread are refused by name.
        for (key, value) in [("use_rslora", true as Any), ("use_dora", true), ("rank_pattern", ["c_fc": 8]), ("bias", "all")] {
            try editConfig { $0[key] = value }
            XCTAssertThrowsError(try LoRA.load(into: fresh, from: dir)) { e in
                XCTAssertTrue((e as? StrataError)?.message.contains(key) == true, "\(e)")
            }
            try editConfig { $0[key] = nil }
        }
        XCTAssertNoThrow(try LoRA.load(into: fresh, from: dir))
        LoRA.detach(from: fresh)
        XCTAssertThrowsError(try LoRA.save(fresh, to: dir)) { e in XCTAssertEqual((e as? StrataError)?.kind, .state) }
    }

    func testAdapterPathGradientMatchesFiniteDifferences() {
        var rng = StrataRNG(seed: 14)
        let linear = Linear(5, 6, name: "transformer.h.0.mlp.c_fc", std: 0.5, rng: &rng)
        linear.weight.requiresGrad = false; linear.bias?.requiresGrad = false
        let adapter = LoRAAdapter(inFeatures: 5, outFeatures: 6, module: linear.moduleName,
                                  config: LoRAConfig(r: 3, alpha: 5, dropout: 0), rng: &rng)
        for k in 0..<adapter.b.count { adapter.b.ptr[k] = rng.normal() }   // B = 0 would zero A's gradient
        linear.adapter = adapter
        let x = Tensor((0..<(2 * 4 * 5)).map { _ in rng.normal() }, shape: [2, 4, 5], requiresGrad: true)
        gradCheck([x, adapter.a, adapter.b]) { t, _ in linear(x, t) }
        XCTAssertNil(linear.weight.grad, "a frozen base weight gets no gradient")
    }
}

/// PEFT parity: an adapter saved by peft (tools/fixtures/lora_peft_parity.py) loaded into the same base
/// gives transformers+peft's logits.
final class LoRAPEFTParityTests: XCTestCase {
    struct Expected: Decodable { let batch: Int; let time: Int; let ids: [Int32]; let logits: [Float] }

    func testPEFTAdapterLoadsAndMatchesPEFTLogits() throws {
        let dir = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/lora_tiny")
        let model = try GPT2.load(directory: dir.appendingPathComponent("base"))
        _ = try LoRA.load(into: model, from: dir.appendingPathComponent("adapter"))
        let e = try JSONDecoder().decode(Expected.self, from: Data(contentsOf: dir.appendingPathComponent("expected.json")))
        let tape = Tape.noGrad()
        let logits = model.logits(model.hidden(e.ids, batch: e.batch, time: e.time, tape: tape), tape: tape)
        XCTAssertLessThan(scaledError(logits.ptr, e.logits), 1e-5)
        // Merging gives the same function as a plain GPT-2.
        LoRA.merge(into: model)
        let merged = model.logits(model.hidden(e.ids, batch: e.batch, time: e.time, tape: tape), tape: tape)
        XCTAssertLessThan(scaledError(merged.ptr, e.logits), 1e-5)
    }
}
