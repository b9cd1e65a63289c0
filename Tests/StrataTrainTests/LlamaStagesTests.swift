// The stages on a tiny Llama (model.family: llama): pretraining writes LlamaForCausalLM
// checkpoints whose config, lineage recipe and model card name the family, resumes bit
// exactly, continues, fine-tunes (full and LoRA) with chat tokens added to both the
// embedding and the untied head, evaluates and generates; DPO runs from the Llama SFT
// checkpoint, and GRPO, the reward stage (LlamaForSequenceClassification) and PPO with it.

import XCTest
import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataCheckpoint
import StrataEval
@testable import StrataTrain

final class LlamaStagesTests: WorldTestCase {
    let llamaModel = "model: {family: llama, n_layer: 2, n_head: 4, n_kv_head: 2, n_embd: 32, n_inner: 48, n_positions: 96, vocab_size: from_tokenizer}"

    func pretrainRecipe(_ name: String, steps: Int) throws -> String {
        let text = """
        \(llamaModel)
        tokenizer: {train: {vocab_size: 400}}
        data:
          sources:
            - {name: world, path: \(dir.path)/world/before_cutoff.jsonl, weight: 1.0}
          validation: {fraction: 0.05}
        train: {batch_size: 4, context: 64, steps: \(steps), eval_interval: 4, eval_batches: 1, checkpoint_interval: 4, keep_last: 3, log_interval: 100, seed: 7}
        optim: {lr: 3.0e-3, min_lr: 3.0e-4, warmup_steps: 1}
        run: {dir: \(dir.path)/runs, name: \(name)}
        """
        let url = dir.appendingPathComponent("\(name).yaml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func stageRecipe(_ name: String, steps: Int, section: String) throws -> String {
        let text = """
        train: {batch_size: 4, context: 64, steps: \(steps), eval_interval: \(steps), eval_batches: 1, checkpoint_interval: \(steps), keep_last: 2, log_interval: 100, seed: 5}
        optim: {lr: 2.0e-3, min_lr: 2.0e-4, warmup_steps: 1}
        run: {dir: \(dir.path)/runs, name: \(name)}
        \(section)
        """
        let url = dir.appendingPathComponent("\(name).yaml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func options(_ recipe: String?, from: String? = nil, resume: String? = nil) -> RunOptions {
        var c = RunOptions(from: from, recipeFile: recipe, resume: resume)
        c.log = { _ in }; c.showProgress = false
        return c
    }

    func sftSection() throws -> String {
        let qa = try ChatStage.readQA(dir.appendingPathComponent("world/qa.jsonl"))
        try InstructionTasks.trlJSONL(InstructionTasks.training(qa: qa, seed: 1, perKind: 4))
            .write(to: dir.appendingPathComponent("sft.jsonl"), atomically: true, encoding: .utf8)
        return "sft: {train: \(dir.path)/sft.jsonl, validation_fraction: 0.2}"
    }

    func testPretrainContinueSFTEvalAndGenerateOnATinyLlama() throws {
        let pre = try Pretrain.run(options(try pretrainRecipe("base", steps: 4)))
        let base = try TrainingCheckpoint.load(pre.lastCheckpoint!)
        let llama = try XCTUnwrap(base.model as? Llama, "a llama recipe trains a Llama")
        XCTAssertEqual([llama.config.kvHeads, llama.config.numAttentionHeads, llama.config.intermediateSize], [2, 4, 48])
        let cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: base.checkpoint.url(for: "config.json"))) as! [String: Any]
        XCTAssertEqual(cfg["model_type"] as? String, "llama")
        XCTAssertEqual(cfg["architectures"] as? [String], ["LlamaForCausalLM"])
        XCTAssertEqual(base.lineage.head?.recipe.value(at: "model.family")?.stringValue, "llama")
        let summary = Lineage.recipeSummary(base.lineage.head!.recipe, randomInit: true) ?? ""
        XCTAssertTrue(summary.hasPrefix("llama: 2 layers × d 32, 4 heads (2 key/value)"), summary)
        let card = try String(contentsOf: base.checkpoint.url(for: ModelCard.fileName), encoding: .utf8)
        XCTAssertTrue(card.contains("A Llama language model (LlamaForCausalLM)"), card)
        XCTAssertTrue(pre.losses.allSatisfy(\.isFinite) && pre.losses.last! < pre.losses.first!, "\(pre.losses)")

        // Continued pretraining from the Llama checkpoint.
        let cont = try Continue.run(options(try pretrainRecipe("cont", steps: 2).replacingTokenizer(), from: base.checkpoint.url.path))
        let contLoaded = try TrainingCheckpoint.load(cont.lastCheckpoint!)
        XCTAssertTrue(contLoaded.model is Llama)
        XCTAssertEqual(contLoaded.lineage.entries.map(\.stage.rawValue), ["pretrain", "continue"])

        // SFT, full fine-tuning: chat tokens grow both the embedding and the untied head.
        let sft = try SFT.run(options(try stageRecipe("sft", steps: 2, section: try sftSection()), from: base.checkpoint.url.path))
        let tuned = try TrainingCheckpoint.load(sft.lastCheckpoint!)
        let tunedLlama = try XCTUnwrap(tuned.model as? Llama)
        XCTAssertEqual(tunedLlama.vocabSize, llama.vocabSize + 2)
        XCTAssertEqual(tunedLlama.head.shape, [llama.vocabSize + 2, 32])
        XCTAssertEqual(tuned.lineage.entries.map(\.stage.rawValue), ["pretrain", "sft"])

        // Evaluation and generation read the family from config.json.
        let evalCkpt = try EvalCheckpoint.load(sft.lastCheckpoint!.url)
        XCTAssertTrue(evalCkpt.model is Llama)
        let shard = try XCTUnwrap(try EvalCheckpoint.load(base.checkpoint.url).runValidationShards().first, "the pretraining run wrote validation shards")
        let loss = try ValidationLoss.evaluate(model: evalCkpt.model, shard: try Shard(contentsOf: shard.url), name: shard.name,
                                               config: .init(windows: 4, context: 32, batch: 2))
        XCTAssertTrue(loss.loss.isFinite && loss.loss > 0)
        let prompt = tuned.tokenizer.encode("The capital of").map(Int32.init)
        let outs = tuned.model.generate(prompts: [prompt], sampling: SamplingConfig(maxNewTokens: 5, temperature: 0))
        XCTAssertEqual(outs[0].tokens.count, 5)
    }

    func testSFTWithLoRAOnLlamaProjections() throws {
        let base = try Pretrain.run(options(try pretrainRecipe("base", steps: 2))).lastCheckpoint!
        let section = try sftSection().replacingOccurrences(of: "}", with: ", lora: {r: 4, alpha: 8, dropout: 0, target_modules: [q_proj, v_proj]}}")
        let out = try SFT.run(options(try stageRecipe("lora", steps: 2, section: section), from: base.url.path))
        let ckpt = out.lastCheckpoint!
        XCTAssertNotNil(ckpt.manifest.files[LoRA.checkpointWeightsFile])
        let merged = try Llama.load(directory: ckpt.url)        // merged weights: a plain LlamaForCausalLM
        let parent = try Llama.load(directory: base.url).growingVocabulary(to: merged.vocabSize)
        for (p, q) in zip(merged.parameters, parent.parameters) {
            let same = (0..<p.count).allSatisfy { p.ptr[$0] == q.ptr[$0] }
            XCTAssertEqual(same, !(p.name!.hasSuffix("q_proj.weight") || p.name!.hasSuffix("v_proj.weight")), p.name!)
        }
        let adapterConfig = try JSONSerialization.jsonObject(with: Data(contentsOf: ckpt.url(for: LoRA.checkpointConfigFile))) as! [String: Any]
        XCTAssertEqual(adapterConfig["fan_in_fan_out"] as? Bool, false, "PEFT: nn.Linear targets")
    }

    func testPretrainResumesBitExactly() throws {
        try assertResumeIsBitExact(steps: 8, stopAtBatch: 5,
            straight: { try Pretrain.run(options(try pretrainRecipe("a", steps: 8))) },
            interrupted: { hooks in
                var c = options(try pretrainRecipe("b", steps: 8))
                c.interrupt = hooks.interrupt; c.inject = hooks.inject
                return try Pretrain.run(c)
            },
            resume: { try Pretrain.run(options(nil, resume: runDir("b").path)) })
    }

    /// runs/base (pretrain, 2 steps) then runs/sft (SFT, 2 steps) on the tiny Llama; the SFT checkpoint's path.
    func llamaSFTCheckpoint() throws -> String {
        let base = try Pretrain.run(options(try pretrainRecipe("base", steps: 2))).lastCheckpoint!
        return try SFT.run(options(try stageRecipe("sft", steps: 2, section: try sftSection()), from: base.url.path)).lastCheckpoint!.url.path
    }

    func testDPOGRPORewardAndPPORunOnALlama() throws {
        let sft = try llamaSFTCheckpoint()
        for (src, dst) in [("preferences.jsonl", "pairs.jsonl"), ("preferences_test.jsonl", "pairs_test.jsonl")] {
            let lines = try String(contentsOf: dir.appendingPathComponent("world/" + src), encoding: .utf8).split(separator: "\n")
            try (lines.prefix(16).joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent(dst), atomically: true, encoding: .utf8)
        }
        let pairs = "preference: {train: \(dir.path)/pairs.jsonl, validation: \(dir.path)/pairs_test.jsonl, beta: 0.1}"
        let dpo = try DPO.run(options(try stageRecipe("dpo", steps: 2, section: pairs), from: sft))
        let dpoLoaded = try TrainingCheckpoint.load(dpo.lastCheckpoint!)
        XCTAssertTrue(dpoLoaded.model is Llama)
        XCTAssertEqual(dpoLoaded.lineage.entries.map(\.stage.rawValue), ["pretrain", "sft", "dpo"])
        XCTAssertEqual(Double(dpo.losses[0]), log(2), accuracy: 1e-3, "policy = reference at the first step")

        let prompts = ["What is two plus two?", "Name a city."].map { "{\"prompt\": [{\"role\": \"user\", \"content\": \"\($0)\"}]}" }
        try (prompts.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("prompts.jsonl"), atomically: true, encoding: .utf8)
        let grpo = """
        grpo:
          prompts: \(dir.path)/prompts.jsonl
          group_size: 4
          prompts_per_step: 2
          sampling: {max_new_tokens: 4, temperature: 1.0, seed: 11}
          rewards:
            - {type: regex, pattern: "^[A-Z]", weight: 1.0, name: capital}
        """
        let rl = try GRPO.run(options(try stageRecipe("grpo", steps: 2, section: grpo).replacingBatch(), from: sft))
        let rlLoaded = try TrainingCheckpoint.load(rl.lastCheckpoint!)
        XCTAssertTrue(rlLoaded.model is Llama)
        XCTAssertEqual(rlLoaded.lineage.entries.map(\.stage.rawValue), ["pretrain", "sft", "grpo"])

        // Reward model: LlamaForSequenceClassification (score.weight, no lm_head), then PPO with it as reward and value init.
        let rm = try Reward.run(options(try stageRecipe("rm", steps: 2, section: pairs), from: sft)).lastCheckpoint!
        let rmLoaded = try TrainingCheckpoint.load(rm)
        let reward = try XCTUnwrap(rmLoaded.reward, "config.json marks it LlamaForSequenceClassification")
        XCTAssertTrue(reward.trunk is Llama)
        let rmConfig = try JSONSerialization.jsonObject(with: Data(contentsOf: rm.url(for: "config.json"))) as! [String: Any]
        XCTAssertEqual(rmConfig["architectures"] as? [String], ["LlamaForSequenceClassification"])
        let names = try SafeTensors.read(rm.url(for: "model.safetensors")).names
        XCTAssertTrue(names.contains("score.weight") && !names.contains("lm_head.weight"), "\(names)")

        let ppo = """
        ppo:
          prompts: \(dir.path)/prompts.jsonl
          prompts_per_batch: 4
          ppo_epochs: 1
          minibatches: 1
          sampling: {max_new_tokens: 3, temperature: 1.0, seed: 11}
          rewards:
            - {type: reward_model, checkpoint: \(rm.url.path), weight: 1.0, name: rm}
        """
        let ppoRun = try PPO.run(options(try stageRecipe("ppo", steps: 2, section: ppo).replacingBatch(), from: sft))
        let ppoLoaded = try TrainingCheckpoint.load(ppoRun.lastCheckpoint!)
        XCTAssertTrue(ppoLoaded.model is Llama)
        XCTAssertEqual(ppoLoaded.lineage.entries.map(\.stage.rawValue), ["pretrain", "sft", "ppo"])
        XCTAssertTrue(ppoRun.losses.allSatisfy(\.isFinite), "\(ppoRun.losses)")
    }
}

private extension String {
    /// GRPO trains one prompt group per micro-batch: batch_size 1.
    func replacingBatch() throws -> String {
        let text = try String(contentsOfFile: self, encoding: .utf8).replacingOccurrences(of: "batch_size: 4", with: "batch_size: 1")
        try text.write(toFile: self, atomically: true, encoding: .utf8)
        return self
    }

    /// A continued stage keeps its parent's tokenizer: drop the recipe's tokenizer line.
    func replacingTokenizer() throws -> String {
        let text = try String(contentsOfFile: self, encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("tokenizer:") }.joined(separator: "\n")
        try text.write(toFile: self, atomically: true, encoding: .utf8)
        return self
    }
}

final class LlamaRecipeTests: XCTestCase {
    func refusal(_ model: String) -> String {
        do {
            let yaml = "model: \(model)\ndata: {sources: [{name: a, path: a.jsonl}]}\ntrain: {steps: 200}\n"
            let recipe = try RecipeLoader.load(yaml: yaml, file: "t.yaml", overrides: [])
            try Pretrain.checkFamilyKeys(recipe.model)
            return "accepted"
        } catch { return String(describing: error) }
    }

    func testFamilyKeysAreCheckedInTheRecipesOwnNames() {
        XCTAssertEqual(refusal("{family: llama, n_head: 4, n_kv_head: 2, n_embd: 32}"), "accepted")
        let kv = refusal("{family: llama, n_head: 4, n_kv_head: 3, n_embd: 32}")
        XCTAssertTrue(kv.contains("model.n_kv_head (3) must divide n_head (4)") && kv.contains("1, 2, 4"), kv)
        let gpt2 = refusal("{family: gpt2, n_kv_head: 2}")
        XCTAssertTrue(gpt2.contains("model.n_kv_head") && gpt2.contains("family llama"), gpt2)
        let odd = refusal("{family: llama, n_head: 4, n_embd: 12}")
        XCTAssertTrue(odd.contains("head size of 3"), odd)
        let family = refusal("{family: mistral}")
        XCTAssertTrue(family.contains("mistral") && family.contains("llama"), family)
    }
}
