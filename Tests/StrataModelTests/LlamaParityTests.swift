// Parity of the Llama family with transformers' LlamaForCausalLM: fixtures written by
// tools/fixtures/llama_fixture.py (llama_gqa: 4 query heads over 2 key/value heads,
// untied head, rope_theta from rope_parameters; llama_tied: tied head, attention and MLP
// biases, one key/value head, head_dim ≠ hidden/heads). Also checkpoint round trips,
// KV-cache decoding against full recomputation, greedy generation against
// transformers', and config.json refusals naming the field.

import XCTest
import Foundation
import StrataCore
import StrataTensor
import StrataCheckpoint
@testable import StrataModel
import StrataTestSupport

struct LlamaFixtureBatch: Decodable {
    let batch: Int, time: Int, ids: [Int32], targets: [Int32], adamw: ParityBatch.Adam, prompts: [[Int32]], greedy: [[Int32]]
}

final class LlamaParityTests: XCTestCase {
    func fixture(_ name: String) throws -> (Llama, LlamaFixtureBatch, SafeTensorsFile) {
        let dir = fixtureDir(name)
        return (try Llama.load(directory: dir), try StrataJSON.read(LlamaFixtureBatch.self, at: dir.appendingPathComponent("batch.json")),
                try SafeTensors.read(dir.appendingPathComponent("expected.safetensors")))
    }

    func checkAgainstTransformers(_ name: String) throws {
        let (model, batch, expected) = try fixture(name)
        let tape = Tape()
        let logits = model.logits(model.hidden(batch.ids, batch: batch.batch, time: batch.time, tape: tape), tape: tape)
        let loss = tape.crossEntropy(logits, batch.targets)
        XCTAssertLessThan(scaledError(logits.ptr, expected.tensor("logits")!.values), 1e-5, "\(name) logits")
        XCTAssertEqual(loss.item(), expected.tensor("loss")!.values[0], accuracy: 1e-5 * abs(loss.item()), "\(name) loss")
        tape.backward(loss)
        for p in model.parameters {
            let ref = try XCTUnwrap(expected.tensor("grad." + p.name!), p.name!)
            XCTAssertLessThan(scaledError(p.grad!.ptr, ref.values), 1e-4, "\(name) gradient of \(p.name!)")
        }
        // The AdamW step starts from transformers' gradients: its first step is lr·g/(|g|+eps) per element, which
        // turns float-rounding differences in near-zero gradients (|g| ~ eps) into visible parameter differences.
        for p in model.parameters { p.grad!.copy(from: Tensor(expected.tensor("grad." + p.name!)!.values, shape: p.shape)) }
        let a = batch.adamw
        AdamW(model.parameters, config: .init(lr: a.lr, beta1: a.beta1, beta2: a.beta2, eps: a.eps, weightDecay: a.weight_decay)).update()
        for p in model.parameters {
            let ref = try XCTUnwrap(expected.tensor("adamw." + p.name!), p.name!)
            XCTAssertLessThan(scaledError(p.ptr, ref.values), 1e-5, "\(name) parameter after AdamW: \(p.name!)")
        }
    }

    func testGQALogitsLossGradientsAndAdamWMatchTransformers() throws { try checkAgainstTransformers("llama_gqa") }

    func testTiedBiasedHeadDimLogitsLossGradientsAndAdamWMatchTransformers() throws { try checkAgainstTransformers("llama_tied") }

    func testFusedChunkedLossEqualsLogitsCrossEntropy() throws {
        let (model, batch, expected) = try fixture("llama_gqa")
        let loss = model.loss(batch.ids, targets: batch.targets, batch: batch.batch, time: batch.time, tape: Tape.noGrad())
        XCTAssertEqual(loss.item(), expected.tensor("loss")!.values[0], accuracy: 1e-5 * abs(loss.item()))
    }

    func testConfigReadsRopeParametersAndFields() throws {
        let (model, _, _) = try fixture("llama_gqa")
        let c = model.config
        XCTAssertEqual([c.vocabSize, c.hiddenSize, c.intermediateSize, c.numHiddenLayers, c.numAttentionHeads, c.kvHeads, c.headSize],
                       [100, 64, 96, 2, 4, 2, 16])
        XCTAssertEqual(c.rotaryBase, 1000)
        XCTAssertFalse(c.tieWordEmbeddings)
        XCTAssertEqual(c.eosTokenId?.ids, [2])
    }

    func testGreedyGenerationEqualsTransformers() throws {
        for name in ["llama_gqa", "llama_tied"] {
            let (model, batch, _) = try fixture(name)
            let outs = model.generate(prompts: batch.prompts, sampling: SamplingConfig(maxNewTokens: batch.greedy[0].count, temperature: 0))
            XCTAssertEqual(outs.map(\.tokens), batch.greedy, name)
            // One prompt at a time gives the same tokens as the batch.
            for (p, g) in zip(batch.prompts, batch.greedy) {
                XCTAssertEqual(model.generate(prompts: [p], sampling: SamplingConfig(maxNewTokens: g.count, temperature: 0))[0].tokens, g, name)
            }
        }
    }

    func testKVCacheDecodingEqualsFullRecomputation() throws {
        let (model, _, _) = try fixture("llama_gqa")
        let seq: [Int32] = [5, 17, 42, 9, 63, 2, 88, 31, 7]
        for batched in [true, false] {
            model.batchedDecoding = batched
            let cache = model.makeCache(batch: 2)
            // Row 1 gets a different prompt so rows must not mix; row 0 is fed 4 tokens, then one at a time.
            _ = model.decode(rows: [0, 1], tokens: [Array(seq[0..<4]), [11, 12]], cache: cache)
            for n in 4..<seq.count {
                let step = model.decode(rows: [0], tokens: [[seq[n]]], cache: cache)
                let full = model.logits(model.hidden(Array(seq[0...n]), batch: 1, time: n + 1, tape: Tape.noGrad()), tape: Tape.noGrad())
                let lastRow = Array(full.toArray()[(n * 100)..<((n + 1) * 100)])
                XCTAssertLessThan(scaledError(step.ptr, lastRow), 1e-5, "position \(n), batched \(batched)")
            }
        }
    }

    func testSavedCheckpointLoadsBackEqual() throws {
        for name in ["llama_gqa", "llama_tied"] {
            let (model, _, _) = try fixture(name)
            let dir = try scratchDirectory()
            try model.save(directory: dir)
            let back = try Llama.load(directory: dir)
            XCTAssertEqual(back.config.rotaryBase, model.config.rotaryBase)
            XCTAssertEqual(back.config.headSize, model.config.headSize)
            XCTAssertEqual(back.parameters.map(\.name), model.parameters.map(\.name))
            for (p, q) in zip(model.parameters, back.parameters) { XCTAssertEqual(p.toArray(), q.toArray(), p.name!) }
            XCTAssertTrue(try loadCausalLM(directory: dir) is Llama)
        }
    }

    func testUnsupportedConfigFieldsAreRefusedByName() throws {
        let base = try Data(contentsOf: fixtureDir("llama_gqa").appendingPathComponent("config.json"))
        func refused(_ edit: (inout [String: Any]) -> Void, _ needles: [String]) throws {
            var json = try JSONSerialization.jsonObject(with: base) as! [String: Any]
            edit(&json)
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("strata-llama-cfg-\(UUID().uuidString).json")
            defer { try? FileManager.default.removeItem(at: url) }
            try JSONSerialization.data(withJSONObject: json).write(to: url)
            XCTAssertThrowsError(try LlamaConfig.read(from: url)) { e in
                let msg = String(describing: e)
                for n in needles { XCTAssertTrue(msg.contains(n), "'\(n)' not in: \(msg)") }
            }
        }
        try refused({ $0["rope_parameters"] = ["rope_type": "yarn", "rope_theta": 10000, "factor": 4] }, ["rope_parameters.rope_type", "'yarn'"])
        try refused({ $0["rope_scaling"] = ["type": "linear", "factor": 2] }, ["rope_scaling.rope_type", "'linear'"])
        try refused({ $0["sliding_window"] = 4096 }, ["sliding_window", "4096"])
        try refused({ $0["num_key_value_heads"] = 3 }, ["num_key_value_heads", "(3)", "num_attention_heads (4)"])
        try refused({ $0["hidden_act"] = "gelu" }, ["hidden_act", "'gelu'"])
        try refused({ $0["model_type"] = "mistral" }, ["model_type", "'mistral'"])
    }

    func testWeightsThatDisagreeWithConfigAreRefusedByName() throws {
        let dir = fixtureDir("llama_gqa")
        var cfg = try LlamaConfig.read(from: dir.appendingPathComponent("config.json"))
        cfg.attentionBias = true
        XCTAssertThrowsError(try Llama(cfg, seed: 0).loadWeights(from: dir.appendingPathComponent("model.safetensors"))) { e in
            let msg = String(describing: e)
            XCTAssertTrue(msg.contains("self_attn.") && msg.contains(".bias") && msg.contains("attention_bias"), msg)
        }
        cfg.attentionBias = false; cfg.numKeyValueHeads = 4
        XCTAssertThrowsError(try Llama(cfg, seed: 0).loadWeights(from: dir.appendingPathComponent("model.safetensors"))) { e in
            let msg = String(describing: e)
            XCTAssertTrue(msg.contains("k_proj.weight") && msg.contains("num_key_value_heads"), msg)
        }
    }

    func testGrowingVocabularyKeepsLogitsOfOldTokens() throws {
        let (model, batch, _) = try fixture("llama_gqa")
        let grown = try model.growingVocabulary(to: 104)
        let a = model.logits(model.hidden(batch.ids, batch: 2, time: 8, tape: Tape.noGrad()), tape: Tape.noGrad())
        let b = grown.logits(grown.hidden(batch.ids, batch: 2, time: 8, tape: Tape.noGrad()), tape: Tape.noGrad())
        for r in 0..<16 { for j in 0..<100 { XCTAssertEqual(a.ptr[r * 100 + j], b.ptr[r * 104 + j]) } }
    }
}

final class LlamaLoRATests: XCTestCase {
    func testLoRAOnLlamaProjectionsMergesToTheAdaptedModel() throws {
        let dir = fixtureDir("llama_gqa")
        let model = try Llama.load(directory: dir)
        let ids: [Int32] = [3, 14, 15, 92, 65, 35]
        let before = model.logits(model.hidden(ids, batch: 1, time: 6, tape: Tape.noGrad()), tape: Tape.noGrad()).toArray()
        let params = try LoRA.attach(to: model, config: LoRAConfig(r: 2, alpha: 4, dropout: 0, targets: ["q_proj", "self_attn.v_proj", "down_proj"]), seed: 1)
        XCTAssertEqual(params.count, 2 * 3 * 2)   // A and B on 3 modules × 2 layers
        XCTAssertEqual(model.logits(model.hidden(ids, batch: 1, time: 6, tape: Tape.noGrad()), tape: Tape.noGrad()).toArray(), before)
        var rng = StrataRNG(seed: 2)
        for l in LoRA.adapted(model) { for k in 0..<l.adapter!.b.count { l.adapter!.b.ptr[k] = 0.1 * rng.normal() } }
        let adapted = model.logits(model.hidden(ids, batch: 1, time: 6, tape: Tape.noGrad()), tape: Tape.noGrad())
        XCTAssertGreaterThan(scaledError(adapted.ptr, before), 1e-3, "the adapters change the output")
        LoRA.merge(into: model)
        let merged = model.logits(model.hidden(ids, batch: 1, time: 6, tape: Tape.noGrad()), tape: Tape.noGrad())
        XCTAssertLessThan(scaledError(merged.ptr, adapted.toArray()), 1e-5)
        XCTAssertThrowsError(try LoRA.attach(to: model, config: LoRAConfig(targets: ["c_attn"]), seed: 1)) { e in
            let msg = String(describing: e)
            XCTAssertTrue(msg.contains("'c_attn'") && msg.contains("llama") && msg.contains("q_proj"), msg)
        }
    }
}

final class LlamaRewardParityTests: XCTestCase {
    struct RewardBatch: Decodable { let rows: Int, time: Int, ids: [Int32] }

    func testLlamaForSequenceClassificationRewardsAndGradientsMatchTransformers() throws {
        let dir = fixtureDir("llama_reward")
        let rm = try RewardModel.load(directory: dir)
        XCTAssertTrue(rm.trunk is Llama)
        XCTAssertEqual(rm.architectureName, "LlamaForSequenceClassification")
        let batch = try StrataJSON.read(RewardBatch.self, at: dir.appendingPathComponent("batch.json"))
        let expected = try SafeTensors.read(dir.appendingPathComponent("expected.safetensors"))
        let tape = Tape()
        let r = try rm.rewards(batch.ids, rows: batch.rows, time: batch.time, tape: tape)
        XCTAssertLessThan(scaledError(r.ptr, expected.tensor("rewards")!.values), 1e-5, "rewards \(r.toArray())")
        tape.backward(tape.sum(r))
        XCTAssertEqual(rm.parameters.count, expected.names.filter { $0.hasPrefix("grad.") }.count, "no lm_head in the reward model")
        for p in rm.parameters {
            let ref = try XCTUnwrap(expected.tensor("grad." + p.name!), p.name!)
            XCTAssertLessThan(scaledError(p.grad!.ptr, ref.values), 1e-4, "gradient of \(p.name!)")
        }
        // Saved by Strata, it loads back with the same rewards and the transformers config fields.
        let out = try scratchDirectory()
        try rm.save(directory: out)
        let back = try RewardModel.load(directory: out)
        XCTAssertEqual(try back.rewards(batch.ids, rows: batch.rows, time: batch.time, tape: Tape.noGrad()).toArray(), r.toArray())
        let cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("config.json"))) as! [String: Any]
        XCTAssertEqual(cfg["architectures"] as? [String], ["LlamaForSequenceClassification"])
        XCTAssertEqual(cfg["pad_token_id"] as? Int, 0)
    }
}
