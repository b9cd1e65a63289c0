// The GRPO stage end to end on a tiny SFT checkpoint: a toy task (replies that
// start with a digit are rewarded, by a regex rule) is learnt; a run stopped
// between the μ updates of one batch resumes bit-exactly; the first step with
// policy = reference has KL 0 and ratio 1; groups with equal rewards give zero
// advantage and no gradient, are counted in frac_reward_zero_std, and dynamic
// sampling refills the batch; bad reward configuration is refused at start
// naming the key; lineage records stage, reference and reward sources.

import XCTest
import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataCheckpoint
import StrataEval
import StrataRL
@testable import StrataTrain

final class GRPOStageTests: RLStageTestCase {
    /// Replies starting with a digit earn 1 (a regex rule).
    static let digitReward = "    - {type: regex, pattern: \"^[0-9]\", weight: 1.0, name: digit}"
    /// Replies starting with a capital letter earn 1 (about one in eight from the tiny SFT model).
    let capital = "    - {type: regex, pattern: \"^[A-Z]\", weight: 1.0, name: capital}"

    func recipe(_ name: String, steps: Int = 4, grpo: String = "", rewards: String = digitReward, lr: String = "1.0e-3",
                accum: Int = 1, group: Int = 4, perStep: Int = 2, maxNewTokens: Int = 4) throws -> String {
        let text = """
        train: {batch_size: 1, grad_accum: \(accum), context: 64, steps: \(steps), eval_interval: 100, eval_batches: 1, checkpoint_interval: 2, keep_last: 4, log_interval: 100, seed: 3}
        optim: {lr: \(lr), min_lr: \(lr), warmup_steps: 0, weight_decay: 0.0}
        run: {dir: \(dir.path)/runs, name: \(name)}
        grpo:
          prompts: \(dir.path)/prompts.jsonl
          group_size: \(group)
          prompts_per_step: \(perStep)
          sampling: {max_new_tokens: \(maxNewTokens), temperature: 1.0, seed: 11}
        \(grpo)
          rewards:
        \(rewards)
        """
        let url = dir.appendingPathComponent("\(name).yaml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func testRewardedRepliesAreLearntWithinAFewDozenSteps() throws {
        // Replies that start with a capital letter earn 1: about one reply in eight at the start.
        let steps = 16
        _ = try GRPO.run(stage(try recipe("learn", steps: steps, rewards: capital, lr: "2.0e-2", group: 8, maxNewTokens: 2)))
        let rewards = try extras("learn").map { $0["reward"]! }
        XCTAssertEqual(rewards.count, steps)
        let first = rewards.prefix(5).reduce(0, +) / 5, last = rewards.suffix(5).reduce(0, +) / 5
        XCTAssertGreaterThan(last, first + 0.3, "reward mean of the first 5 steps \(first), of the last 5 \(last): \(rewards)")
        XCTAssertGreaterThan(last, 0.7, "\(rewards)")
        print("GRPO toy rewards per step:", rewards)
    }

    func testResumeBetweenTheUpdatesOfOneBatchIsBitExact() throws {
        // μ = 2: steps 2 and 3 train on batch 1; stopping after step 3 (batch index 2 of the objective) would be
        // at a batch boundary, so stop after the step fed objective step 2: the first update of batch 1.
        let g = "  iterations: 2\n  beta: 0.05"
        try assertResumeIsBitExact(steps: 6, stopAtBatch: 2,
            straight: { try GRPO.run(stage(try recipe("r-a", steps: 6, grpo: g, accum: 2))) },
            interrupted: { hooks in
                var c = stage(try recipe("r-b", steps: 6, grpo: g, accum: 2))
                c.interrupt = hooks.interrupt; c.inject = hooks.inject
                return try GRPO.run(c)
            },
            resume: { try GRPO.run(stage(nil, resume: runDir("r-b").path)) })
        // The interrupted checkpoint (step 3) sits inside batch 1 and carries that batch.
        let ckpt = runDir("r-b").appendingPathComponent("checkpoints/step-0000003")
        let buffer = try StrataJSON.read(GRPO.Batch.self, at: ckpt.appendingPathComponent(RLStage.bufferFile))
        XCTAssertEqual(buffer.index, 1)
        XCTAssertEqual(buffer.rollouts.count, 8)
        XCTAssertEqual(try extras("r-a").map { $0["reward"]! }, try extras("r-b").map { $0["reward"]! })
    }

    func testEveryLossTypeGivesTheSameStepUnderGradientAccumulation() throws {
        // 16 rows split 6 + 6 + 4: averaging per micro-batch and dividing by K would weigh the last rows more; the
        // step's global normaliser makes the loss and gradient independent of the split.
        for type in GRPOLossType.allCases {
            let g = "  loss_type: \(type.rawValue)\n  advantage: rloo"
            let one = try GRPO.run(stage(try recipe("acc1-\(type.rawValue)", steps: 1, grpo: g, rewards: capital, accum: 1, group: 8)))
            let three = try GRPO.run(stage(try recipe("acc3-\(type.rawValue)", steps: 1, grpo: g, rewards: capital, accum: 3, group: 8)))
            XCTAssertEqual(one.losses[0], three.losses[0], accuracy: 1e-6, type.rawValue)
            let n1 = try metricsLines("acc1-\(type.rawValue)")[0]["grad_norm"] as! Double
            let n3 = try metricsLines("acc3-\(type.rawValue)")[0]["grad_norm"] as! Double
            XCTAssertGreaterThan(n1, 0, "unequal rewards give a gradient")
            XCTAssertEqual(n1, n3, accuracy: 1e-5 * n1, type.rawValue)
        }
    }

    func testFirstStepWithPolicyAsReferenceHasZeroKLAndRatioOne() throws {
        _ = try GRPO.run(stage(try recipe("kl", steps: 1, grpo: "  beta: 0.1\n  iterations: 2")))
        let m = try extras("kl")[0]
        XCTAssertEqual(m["kl"]!, 0, accuracy: 1e-6, "policy = reference before the first update")
        XCTAssertEqual(m["approx_kl"]!, 0, accuracy: 1e-9, "old log-probs = current ones: ratio 1")
        XCTAssertEqual(m["ppo_kl"]!, 0, accuracy: 1e-6)
        XCTAssertEqual(m["clip_ratio/region_mean"]!, 0)
    }

    func testStepSplitIsLoggedOnTheDrawingStepAndUpdatesOnEveryStep() throws {
        _ = try GRPO.run(stage(try recipe("timing", steps: 2, grpo: "  iterations: 2")))
        let m = try extras("timing")
        XCTAssertEqual(m.count, 2)
        XCTAssertGreaterThan(m[0]["timing_s/gen"] ?? 0, 0, "the first step samples the batch")
        XCTAssertGreaterThan(m[0]["timing_s/score"] ?? 0, 0, "and scores it (rewards, old log-probs for μ = 2)")
        XCTAssertNil(m[1]["timing_s/gen"], "the second step reuses the batch: nothing sampled")
        XCTAssertNil(m[1]["timing_s/score"])
        for e in m { XCTAssertGreaterThan(e["timing_s/update"] ?? 0, 0, "every step updates") }
    }

    func testEqualRewardsGiveZeroAdvantageAndNoGradient() throws {
        // A length penalty above any reply's length scores every reply 0: every group has equal rewards.
        let flat = "    - {type: length_penalty, max_tokens: 100, weight: 1.0}"
        _ = try GRPO.run(stage(try recipe("flat", steps: 2, rewards: flat)))
        for line in try metricsLines("flat") where line["extra"] != nil {
            let m = line["extra"] as! [String: Double]
            XCTAssertEqual(m["frac_reward_zero_std"], 1)
            XCTAssertEqual(line["loss"] as? Double ?? .nan, 0, accuracy: 0)
            XCTAssertEqual(line["grad_norm"] as? Double ?? .nan, 0, accuracy: 0, "zero advantage: no gradient")
        }
    }

    /// Scores 1 for every reply to prompts with a "fixed" column, else the reply's character count.
    final class SplitSource: RewardSource {
        let identity = RewardSourceIdentity(kind: .rule, name: "split")
        func score(_ items: [RewardItem]) throws -> [Double] {
            items.map { $0.prompt.columns["fixed"] != nil ? 1 : Double($0.reply.count) + Double($0.replyTokens) / 100 }
        }
    }

    func testDynamicSamplingDropsEqualRewardGroupsAndRefills() throws {
        let loaded = try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(sftCheckpoint))
        let records = (0..<6).map { i in
            PromptRecord.chat([ChatMessage(.user, "Question \(i)?")], columns: i < 4 ? ["fixed": .string("yes")] : [:])
        }
        var g = GRPOConfig()
        g.groupSize = 4; g.promptsPerStep = 2; g.sampling.maxNewTokens = 4; g.sampling.seed = 1
        let engine = try RolloutEngine(model: loaded.model, tokenizer: loaded.tokenizer, config: g.sampling.rolloutConfig)
        let rewards = try WeightedRewards([.init(SplitSource())])
        func batch(dynamic: Bool) throws -> GRPO.Batch {
            g.dynamicSampling = dynamic; g.maxSamplingRounds = 10
            return try GRPO.Objective(g, engine: engine, prompts: PromptDataset(records: records), rewards: rewards, reference: nil,
                                      step: 0, batch: nil).draw(0)
        }
        let plain = try batch(dynamic: false), refilled = try batch(dynamic: true)
        let zero = plain.metrics["frac_reward_zero_std"]!
        XCTAssertGreaterThan(zero, 0, "seeded so that step 0 draws a fixed-reward prompt")
        // Without dynamic sampling the equal-reward group stays, with zero advantage for every member.
        XCTAssertEqual(plain.rollouts.count, 8)
        XCTAssertEqual(plain.metrics["batch_frac_reward_zero_std"], zero)
        let zeroAdvantages = plain.advantages.filter { $0 == 0 }.count
        XCTAssertGreaterThanOrEqual(zeroAdvantages, 4, "a group with equal rewards gives its G members A = 0")
        // With it, the batch is refilled with groups whose rewards differ.
        XCTAssertEqual(refilled.rollouts.count, 8)
        XCTAssertEqual(refilled.metrics["batch_frac_reward_zero_std"], 0)
        XCTAssertEqual(refilled.metrics["frac_reward_zero_std"], zero, "the monitor counts the groups as first sampled")
        XCTAssertGreaterThanOrEqual(refilled.metrics["dynamic_sampling/rounds"]!, 2)
        XCTAssertGreaterThanOrEqual(refilled.metrics["dynamic_sampling/groups_dropped"]!, 1)
    }

    func testBadRewardConfigurationIsRefusedAtStartNamingTheKey() throws {
        let cases: [(String, [String])] = [
            ("    - {type: instruktion}", ["grpo.rewards[0]", "did you mean \"instruction\""]),
            ("    - {type: one_word}\n    - {type: exact_match, pattern: \"x\"}", ["grpo.rewards[1]", "pattern"]),
            ("    - {type: reward_model}", ["grpo.rewards[0]", "checkpoint"]),
            ("    - {type: exact_match}", ["grpo.rewards[0]", "answer"]),          // the prompts carry no answer column
            ("    - {type: instruction, kind: one_wrd}", ["grpo.rewards[0]", "did you mean \"one_word\""]),
            ("    - {type: one_word, judge_template: t.json}", ["grpo.rewards[0]", "judge_template", "does not apply"]),
        ]
        for (i, (rewards, expected)) in cases.enumerated() {
            XCTAssertThrowsError(try GRPO.run(stage(try recipe("bad\(i)", rewards: rewards)))) { err in
                for e in expected { XCTAssertTrue("\(err)".contains(e), "\(e) not in: \(err)") }
            }
            XCTAssertFalse(FileManager.default.fileExists(atPath: runDir("bad\(i)").appendingPathComponent("checkpoints").path))
        }
        XCTAssertThrowsError(try GRPO.run(stage(try recipe("bad-g", grpo: "  iterations: 0")))) {
            XCTAssertTrue("\($0)".contains("grpo.iterations is 0"), "\($0)")
        }
        // A prompt filter that keeps nothing names its key and the values the column holds.
        XCTAssertThrowsError(try GRPO.run(stage(try recipe("bad-f", grpo: "  prompt_filter: {column: kind, values: [addition]}")))) {
            XCTAssertTrue("\($0)".contains("grpo.prompt_filter"), "\($0)")
        }
    }

    func testLineageRecordsStageReferenceAndRewardSources() throws {
        let out = try GRPO.run(stage(try recipe("lin", steps: 2, grpo: "  beta: 0.05")))
        let loaded = try TrainingCheckpoint.load(out.lastCheckpoint!)
        let head = loaded.lineage.head!
        let sft = try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(sftCheckpoint))
        XCTAssertEqual(loaded.lineage.entries.map(\.stage.rawValue), ["pretrain", "sft", "grpo"])
        XCTAssertEqual(head.parent, .checkpoint(id: sft.id, sha256: sft.contentHash))
        XCTAssertEqual(head.reference, .checkpoint(id: sft.id, sha256: sft.contentHash))
        XCTAssertEqual(head.rewardSources?.map(\.name), ["digit"])
        XCTAssertEqual(head.rewardSources?.first?.parameters["pattern"], "^[0-9]")
        XCTAssertEqual(head.recipe.value(at: "grpo.group_size")?.intValue, 4)
        XCTAssertNotNil(loaded.checkpoint.manifest.files[RLStage.bufferFile])
        // Without β no reference is loaded or recorded.
        let plain = try TrainingCheckpoint.load(try GRPO.run(stage(try recipe("lin0", steps: 1))).lastCheckpoint!)
        XCTAssertNil(plain.lineage.head!.reference)
        // Old lineage files (no reward_sources key) still decode.
        var json = try JSONSerialization.jsonObject(with: try StrataJSON.encode(plain.lineage.head!)) as! [String: Any]
        XCTAssertNotNil(json.removeValue(forKey: "reward_sources"))
        let old = try StrataJSON.decode(LineageEntry.self, from: try JSONSerialization.data(withJSONObject: json), file: "lineage")
        XCTAssertNil(old.rewardSources)
        let m = try extras("lin")[0]
        for k in ["reward", "reward_std", "rewards/digit/mean", "rewards/digit/std", "entropy", "kl", "clip_ratio/low_mean",
                  "clip_ratio/high_mean", "completions/mean_length", "completions/clipped_ratio", "refusal_rate", "hedging_rate",
                  "frac_reward_zero_std"] {
            XCTAssertNotNil(m[k], k)
        }
    }
}
