// The PPO stage end to end on a tiny SFT checkpoint: a toy task (replies that
// start with a capital letter are rewarded, by a regex rule) is learnt; a run
// stopped between the minibatch updates of one rollout batch resumes
// bit-exactly (policy, value model and every AdamW moment); the first step with
// policy = reference has KL 0 and ratio 1; the value model (policy trunk, zero
// head by default without a reward model) is saved under transformers' names
// while the optimizer keys its moments "value." + name; bad reward
// configuration is refused naming the key; lineage records stage, reference
// and reward sources; with LoRA only the adapter (and the value model) trains.

import XCTest
import Foundation
import StrataCore
import StrataCheckpoint
import StrataModel
@testable import StrataTrain

final class PPOStageTests: RLStageTestCase {
    static let capitalReward = "    - {type: regex, pattern: \"^[A-Z]\", weight: 1.0, name: capital}"

    func recipe(_ name: String, steps: Int = 4, ppo: String = "", rewards: String = capitalReward, lr: String = "1.0e-3",
                accum: Int = 1, perBatch: Int = 8, minibatches: Int = 2, maxNewTokens: Int = 2) throws -> String {
        let text = """
        train: {batch_size: 1, grad_accum: \(accum), context: 64, steps: \(steps), eval_interval: 100, eval_batches: 1, checkpoint_interval: 2, keep_last: 4, log_interval: 100, seed: 3}
        optim: {lr: \(lr), min_lr: \(lr), warmup_steps: 0, weight_decay: 0.0}
        run: {dir: \(dir.path)/runs, name: \(name)}
        ppo:
          prompts: \(dir.path)/prompts.jsonl
          prompts_per_batch: \(perBatch)
          ppo_epochs: 2
          minibatches: \(minibatches)
          sampling: {max_new_tokens: \(maxNewTokens), temperature: 1.0, seed: 11}
        \(ppo)
          rewards:
        \(rewards)
        """
        let url = dir.appendingPathComponent("\(name).yaml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func testRewardedRepliesAreLearntWithinAFewDozenSteps() throws {
        let steps = 24   // 12 rollout batches of 16 replies, 2 epochs of one minibatch each
        _ = try PPO.run(stage(try recipe("learn", steps: steps, ppo: "  kl_coef: 0.01", lr: "3.0e-2", perBatch: 16, minibatches: 1)))
        let rewards = try extras("learn").map { $0["reward"]! }
        XCTAssertEqual(rewards.count, steps)
        let first = rewards.prefix(4).reduce(0, +) / 4, last = rewards.suffix(4).reduce(0, +) / 4
        print("PPO toy rewards per step:", rewards)
        XCTAssertGreaterThan(last, first + 0.3, "reward mean of the first 2 batches \(first), of the last 2 \(last): \(rewards)")
        XCTAssertGreaterThan(last, 0.7, "\(rewards)")
    }

    func testResumeBetweenTheUpdatesOfOneRolloutBatchIsBitExact() throws {
        // 4 updates per batch: stopping after the step fed objective step 5 leaves batch 1 half trained.
        try assertResumeIsBitExact(steps: 8, stopAtBatch: 5,
            straight: { try PPO.run(stage(try recipe("r-a", steps: 8, ppo: "  kl_target: 0.01", accum: 2))) },
            interrupted: { hooks in
                var c = stage(try recipe("r-b", steps: 8, ppo: "  kl_target: 0.01", accum: 2))
                c.interrupt = hooks.interrupt; c.inject = hooks.inject
                return try PPO.run(c)
            },
            resume: { try PPO.run(stage(nil, resume: runDir("r-b").path)) })
        let a = try SafeTensors.read(runDir("r-a").appendingPathComponent("checkpoints/step-0000008/\(PPO.valueWeightsFile)"))
        let b = try SafeTensors.read(runDir("r-b").appendingPathComponent("checkpoints/step-0000008/\(PPO.valueWeightsFile)"))
        XCTAssertEqual(a.names.sorted(), b.names.sorted())
        for n in a.names { XCTAssertEqual(a.tensor(n)!.values, b.tensor(n)!.values, n) }
        let buffer = try StrataJSON.read(PPO.Batch.self,
                                         at: runDir("r-b").appendingPathComponent("checkpoints/step-0000006/\(RLStage.bufferFile)"))
        XCTAssertEqual(buffer.index, 1, "the interrupted checkpoint carries the batch it stopped inside")
        XCTAssertEqual(try extras("r-a").map { $0["objective/kl_coef"]! }, try extras("r-b").map { $0["objective/kl_coef"]! })
    }

    func testFirstStepWithPolicyAsReferenceHasZeroKLAndRatioOne() throws {
        _ = try PPO.run(stage(try recipe("kl", steps: 1)))
        let m = try extras("kl")[0]
        XCTAssertEqual(m["objective/kl"]!, 0, "policy = reference: the same log-probs")
        XCTAssertEqual(m["policy/approxkl_avg"]!, 0, accuracy: 1e-9, "old log-probs = current: ratio 1")
        XCTAssertEqual(m["policy/clipfrac_avg"]!, 0)
        XCTAssertNotNil(m["val/explained_variance"] ?? 0)
    }

    func testWithLoRAOnlyTheAdapterAndTheValueModelTrainAndTheRunResumesBitExactly() throws {
        let lora = "  lora: {r: 4, alpha: 8, dropout: 0.0, target_modules: [c_attn]}"
        try assertResumeIsBitExact(steps: 6, stopAtBatch: 3,
            straight: { try PPO.run(stage(try recipe("lora-a", steps: 6, ppo: lora))) },
            interrupted: { hooks in
                var c = stage(try recipe("lora-b", steps: 6, ppo: lora))
                c.interrupt = hooks.interrupt; c.inject = hooks.inject
                return try PPO.run(c)
            },
            resume: { try PPO.run(stage(nil, resume: runDir("lora-b").path)) })
        let last = runDir("lora-a").appendingPathComponent("checkpoints/step-0000006")
        XCTAssertTrue(FileManager.default.fileExists(atPath: last.appendingPathComponent(LoRA.checkpointWeightsFile).path))
        let opt = try SafeTensors.read(last.appendingPathComponent("optimizer.safetensors"))
        let policyMoments = opt.names.filter { $0.hasPrefix("exp_avg.") && !$0.hasPrefix("exp_avg.value.") }
        XCTAssertFalse(policyMoments.isEmpty)
        XCTAssertTrue(policyMoments.allSatisfy { $0.contains("lora") }, "only adapter tensors of the policy train: \(policyMoments)")
        XCTAssertNotNil(opt.tensor("exp_avg.value.score.weight"), "the value model trains in full")
        // The base under the adapter is the SFT checkpoint's, unchanged.
        let sft = try SafeTensors.read(try TrainingCheckpoint.resolve(sftCheckpoint).url.appendingPathComponent("model.safetensors"))
        let base = try SafeTensors.read(last.appendingPathComponent(LoRA.baseFile))
        XCTAssertFalse(base.names.isEmpty)
        for n in base.names { XCTAssertEqual(base.tensor(n)!.values, sft.tensor(n)?.values, n) }
    }

    func testValueModelIsSavedUnderItsOwnNamesAndStartsFromThePolicyTrunk() throws {
        let out = try PPO.run(stage(try recipe("val", steps: 2)))
        let start = runDir("val").appendingPathComponent("checkpoints/step-0000000")
        let value = try SafeTensors.read(start.appendingPathComponent(PPO.valueWeightsFile))
        XCTAssertTrue(value.tensor("score.weight")!.values.allSatisfy { $0 == 0 }, "policy trunk with a zero head")
        let policy = try SafeTensors.read(start.appendingPathComponent("model.safetensors"))
        for n in policy.names { XCTAssertEqual(value.tensor(n)?.values, policy.tensor(n)!.values, n) }
        let opt = try SafeTensors.read(out.lastCheckpoint!.url.appendingPathComponent("optimizer.safetensors"))
        XCTAssertNotNil(opt.tensor("exp_avg.value.score.weight"))
        XCTAssertNotNil(opt.tensor("exp_avg.value." + policy.names[0]))
        XCTAssertNotNil(opt.tensor("exp_avg." + policy.names[0]))
        let trained = try SafeTensors.read(out.lastCheckpoint!.url.appendingPathComponent(PPO.valueWeightsFile))
        XCTAssertFalse(trained.tensor("score.weight")!.values.allSatisfy { $0 == 0 }, "the value head trains")
    }

    func testBadRewardConfigurationIsRefusedAtStartNamingTheKey() throws {
        XCTAssertThrowsError(try PPO.run(stage(try recipe("bad", rewards: "    - {type: rgex, pattern: x}")))) {
            XCTAssertTrue("\($0)".contains("ppo.rewards[0]") && "\($0)".contains("did you mean \"regex\""), "\($0)")
        }
        XCTAssertThrowsError(try PPO.run(stage(try recipe("bad-v", ppo: "  value_init: reward_model")))) {
            XCTAssertTrue("\($0)".contains("ppo.value_init"), "\($0)")
        }
    }

    func testLineageRecordsStageReferenceAndRewardSources() throws {
        let out = try PPO.run(stage(try recipe("lin", steps: 2)))
        let loaded = try TrainingCheckpoint.load(out.lastCheckpoint!)
        let head = loaded.lineage.head!
        let sft = try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(sftCheckpoint))
        XCTAssertEqual(loaded.lineage.entries.map(\.stage.rawValue), ["pretrain", "sft", "ppo"])
        XCTAssertEqual(head.reference, .checkpoint(id: sft.id, sha256: sft.contentHash))
        XCTAssertEqual(head.rewardSources?.map(\.name), ["capital"])
        XCTAssertEqual(head.recipe.value(at: "ppo.kl_estimator")?.stringValue, "k1")
        let m = try extras("lin")[0]
        for k in ["reward", "rewards/capital/mean", "kl", "entropy", "loss/value_avg", "val/clipfrac_avg", "policy/approxkl_avg",
                  "completions/mean_length", "completions/clipped_ratio", "refusal_rate", "hedging_rate"] {
            XCTAssertNotNil(m[k], k)
        }
    }
}
