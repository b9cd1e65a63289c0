// PPO and GRPO under `mpirun -n 2` against one process with the same global batch,
// on a tiny SFT checkpoint: the rollouts are sampled half on each rank and
// gathered, rewards, advantages (group statistics, GAE and whitening), the KL
// controller and the monitors are computed from the whole batch on every rank, and
// each rank trains one of the step's 2 micro-batches — so losses, every logged
// metric, weights, AdamW moments, the value model and the rollout buffer equal one
// process's bit for bit, with rule rewards and with a reward model (each rank
// scoring its own replies); a PPO run stopped by SIGTERM on 2 ranks resumes on one
// process with the straight run's bits. The launch checks of the other stages (a grad_accum that
// does not split, ranks launched differently) refuse PPO and GRPO too.
// Leaves out: timings, judge and HTTP reward sources under mpirun.

import XCTest
import Foundation
import StrataCore
import StrataCheckpoint
@testable import StrataTrain

final class RLStagesMPITests: MPIRunTestCase {
    var sft = ""
    let capital = "    - {type: regex, pattern: \"^[A-Z]\", weight: 1.0, name: capital}"

    override func setUpWithError() throws {
        try super.setUpWithError()
        _ = try mpirun()
        sft = try tinySFTCheckpoint(positions: 64, context: 64, pretrainSteps: 2, sftSteps: 1, perKind: 2)
        let prompts = ["What is two plus two?", "Name a city.", "Say a number.", "Reverse the list a b c.", "Name a colour.",
                       "Count to three.", "Say hello.", "Name an animal."].map { "{\"prompt\": [{\"role\": \"user\", \"content\": \"\($0)\"}]}" }
        try (prompts.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("prompts.jsonl"), atomically: true, encoding: .utf8)
    }

    /// A PPO or GRPO recipe: `section` is the stage's section body (indented two spaces).
    func recipe(_ stage: String, accum: Int, steps: Int, section: String, rewards: String? = nil) throws -> String {
        let text = """
        train: {batch_size: 1, grad_accum: \(accum), context: 64, steps: \(steps), eval_interval: 100, eval_batches: 1, checkpoint_interval: 2, keep_last: 4, log_interval: 1, seed: 3}
        optim: {lr: 1.0e-2, min_lr: 1.0e-2, warmup_steps: 0, weight_decay: 0.0}
        run: {dir: \(dir.path)/runs}
        \(stage):
          prompts: \(dir.path)/prompts.jsonl
          sampling: {max_new_tokens: 3, temperature: 1.0, seed: 11, max_batch_rows: 32}
        \(section)
          rewards:
        \(rewards ?? capital)
        """
        let url = dir.appendingPathComponent("\(stage).yaml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// Every metric of every step but the timings.
    func stepMetrics(_ run: String) throws -> [[String: Double]] {
        let text = try String(contentsOf: runDir(run).appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map { line in
            let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            var m = ((o["extra"] as? [String: Double]) ?? [:]).filter { !$0.key.hasPrefix("timing_s/") }
            for k in ["loss", "grad_norm", "lr", "tokens_seen"] { m[k] = o[k] as? Double }
            return m
        }
    }

    /// Runs the stage alone and on 2 ranks; asserts equal metrics, checkpoint tensors and the files in `extraFiles`, bit for bit.
    func assertTwoRanksEqualOneProcess(_ args: [String], steps: Int, extraFiles: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let one = try strata(ranks: nil, args + ["--set", "run.name=one"])
        XCTAssertEqual(one.status, 0, one.output, file: file, line: line)
        let two = try strata(ranks: 2, args + ["--set", "run.name=two"])
        XCTAssertEqual(two.status, 0, two.output, file: file, line: line)
        let a = try stepMetrics("one"), b = try stepMetrics("two")
        XCTAssertEqual(a.count, steps, file: file, line: line)
        XCTAssertEqual(a, b, "metrics of 1 process and 2 ranks", file: file, line: line)
        let x = try finalTensors("one"), y = try finalTensors("two")
        XCTAssertEqual(x.keys.sorted(), y.keys.sorted(), file: file, line: line)
        for k in x.keys.sorted() { XCTAssertEqual(x[k], y[k], "\(k) differs", file: file, line: line) }
        for name in extraFiles {
            let p = try Data(contentsOf: try latest("one").appendingPathComponent(name))
            let q = try Data(contentsOf: try latest("two").appendingPathComponent(name))
            XCTAssertEqual(p, q, "\(name) differs", file: file, line: line)
        }
        let lineage = try String(contentsOf: try latest("two").appendingPathComponent("lineage.json"), encoding: .utf8)
        XCTAssertTrue(lineage.contains("data parallel on 2 ranks"), "lineage records the split", file: file, line: line)
    }

    func testPPOOnTwoRanksEqualsOneProcessBitForBit() throws {
        // 8 prompts per batch, 2 epochs × 2 minibatches: 8 steps are 2 rollout batches, the adaptive KL controller
        // moving between them; each minibatch of 4 rows is 2 micro-batches, one per rank.
        let file = try recipe("ppo", accum: 2, steps: 8, section: """
          prompts_per_batch: 8
          ppo_epochs: 2
          minibatches: 2
          kl_coef: 0.05
          kl_target: 0.01
        """)
        try assertTwoRanksEqualOneProcess(["ppo", "--from", sft, "--config", file], steps: 8,
                                          extraFiles: [PPO.valueWeightsFile, RLStage.bufferFile])
        let kl = try stepMetrics("two").compactMap { $0["objective/kl_coef"] }
        XCTAssertEqual(kl.count, 8)
        XCTAssertNotEqual(kl.first, kl.last, "the controller moved between the batches")
    }

    func testGRPOOnTwoRanksEqualsOneProcessBitForBit() throws {
        // 4 prompts × groups of 4 per batch (2 whole groups sampled on each rank), μ = 2 (old log-probs), β > 0
        // (reference log-probs), dynamic sampling (a second round of prompts when groups have equal rewards).
        let file = try recipe("grpo", accum: 2, steps: 4, section: """
          group_size: 4
          prompts_per_step: 4
          iterations: 2
          beta: 0.05
          dynamic_sampling: true
          max_sampling_rounds: 2
        """)
        try assertTwoRanksEqualOneProcess(["grpo", "--from", sft, "--config", file], steps: 4, extraFiles: [])
        // The saved batch: the same rollouts (rows, seeds, tokens) in the same order. The log-probabilities the sampler
        // recorded may differ in the last bit: a rank's prefill packs fewer rows together than one process does, so
        // attention sums in another order (they feed no loss: μ > 1 recomputes old log-probs in a pass of its own).
        let one = try StrataJSON.read(GRPO.Batch.self, at: try latest("one").appendingPathComponent(RLStage.bufferFile))
        let buffer = try StrataJSON.read(GRPO.Batch.self, at: try latest("two").appendingPathComponent(RLStage.bufferFile))
        XCTAssertEqual(buffer.rollouts.count, one.rollouts.count)
        XCTAssertEqual(buffer.rollouts.count % 4, 0, "whole groups")
        for (x, y) in zip(one.rollouts, buffer.rollouts) {
            XCTAssertEqual([x.row, x.promptIndex, x.sampleIndex], [y.row, y.promptIndex, y.sampleIndex])
            XCTAssertEqual(x.seed, y.seed); XCTAssertEqual(x.completionTokens, y.completionTokens)
            XCTAssertEqual(x.logProbs.count, y.logProbs.count)
            for (u, v) in zip(x.logProbs, y.logProbs) { XCTAssertEqual(u, v, accuracy: 1e-5 * max(1, abs(u))) }
        }
        XCTAssertEqual(buffer.advantages, one.advantages); XCTAssertEqual(buffer.oldLogProbs, one.oldLogProbs)
        XCTAssertEqual(buffer.referenceLogProbs, one.referenceLogProbs)
        XCTAssertEqual(buffer.rollouts.map(\.row), buffer.rollouts.map(\.row).sorted(), "rollouts gathered in row order")
    }

    func testPPOWithARewardModelOnTwoRanksEqualsOneProcessBitForBit() throws {
        // Each rank scores its own replies with the reward model (a smaller batch than one process's), and the value
        // model starts from the reward model (value_init auto).
        let pairs = try String(contentsOf: dir.appendingPathComponent("world/preferences.jsonl"), encoding: .utf8).split(separator: "\n")
        try (pairs.prefix(16).joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("pairs.jsonl"), atomically: true, encoding: .utf8)
        let rm = """
        train: {batch_size: 4, context: 64, steps: 2, eval_interval: 2, eval_batches: 1, checkpoint_interval: 2, keep_last: 2, log_interval: 100, seed: 3}
        optim: {lr: 1.0e-3, warmup_steps: 0}
        run: {dir: \(dir.path)/runs, name: rm}
        preference: {train: \(dir.path)/pairs.jsonl}
        """
        try rm.write(to: dir.appendingPathComponent("rm.yaml"), atomically: true, encoding: .utf8)
        var options = RunOptions(from: sft, recipeFile: dir.appendingPathComponent("rm.yaml").path)
        options.log = { _ in }; options.showProgress = false
        _ = try Reward.run(options)
        let file = try recipe("ppo", accum: 2, steps: 4, section: """
          prompts_per_batch: 8
          ppo_epochs: 2
          minibatches: 2
          kl_coef: 0.05
        """, rewards: "    - {type: reward_model, checkpoint: \(runDir("rm").path), weight: 1.0, name: rm}\n" + capital)
        try assertTwoRanksEqualOneProcess(["ppo", "--from", sft, "--config", file], steps: 4,
                                          extraFiles: [PPO.valueWeightsFile, RLStage.bufferFile])
        XCTAssertNotNil(try stepMetrics("two").first?["rewards/rm/mean"], "the reward model scored the replies")
    }

    func testPPOStoppedBySIGTERMOnTwoRanksResumesOnOneProcessWithTheBitsOfTheStraightRun() throws {
        // 4 updates per rollout batch: a stop after step 3 or later usually lands inside a batch, whose buffer
        // rank 0 saved; the resumed process reads it and trains on without sampling it again.
        let file = try recipe("ppo", accum: 2, steps: 16, section: """
          prompts_per_batch: 8
          ppo_epochs: 2
          minibatches: 2
          kl_coef: 0.05
          kl_target: 0.01
        """)
        let args = ["ppo", "--from", sft, "--config", file]
        let straight = try strata(ranks: nil, args + ["--set", "run.name=straight"])
        XCTAssertEqual(straight.status, 0, straight.output)
        let log = dir.appendingPathComponent("stopped.log")
        let p = try start(ranks: 2, args + ["--set", "run.name=stopped"], log: log)
        XCTAssertTrue(waitForMetrics("stopped", lines: 3), "the run did not start")
        kill(try XCTUnwrap(try ranks(of: p)[1], "rank 1's process"), SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
        XCTAssertLessThan(try stepMetrics("stopped").count, 16, "the signal stopped the run early")
        let resumed = try strata(ranks: nil, ["ppo", "--resume", runDir("stopped").path])
        XCTAssertEqual(resumed.status, 0, resumed.output)
        let a = try stepMetrics("straight").map { $0["loss"] }, b = try stepMetrics("stopped").map { $0["loss"] }
        XCTAssertEqual(a, b, "losses of the straight run and of the stopped-and-resumed one")
        let x = try finalTensors("straight"), y = try finalTensors("stopped")
        for k in x.keys.sorted() { XCTAssertEqual(x[k], y[k], "\(k) differs") }
        for name in [PPO.valueWeightsFile, RLStage.bufferFile] {
            XCTAssertEqual(try Data(contentsOf: try latest("straight").appendingPathComponent(name)),
                           try Data(contentsOf: try latest("stopped").appendingPathComponent(name)), name)
        }
    }

    func testPPOAndGRPOAreRefusedWhenGradAccumDoesNotSplitOrTheRanksDiffer() throws {
        let ppo = try recipe("ppo", accum: 1, steps: 2, section: "  prompts_per_batch: 4\n  minibatches: 1")
        let refused = try strata(ranks: 2, ["ppo", "--from", sft, "--config", ppo])
        XCTAssertNotEqual(refused.status, 0, refused.output)
        XCTAssertTrue(refused.output.contains("train.grad_accum 1 does not split over 2 ranks"), refused.output)
        let grpo = try recipe("grpo", accum: 2, steps: 2, section: "  group_size: 2\n  prompts_per_step: 2")
        let args = ["grpo", "--from", sft, "--config", grpo, "--set", "run.name=bad"]
        let differ = try strata(ranks: 2, args, mpmd: args + ["--set", "grpo.beta=0.1"])
        XCTAssertNotEqual(differ.status, 0, differ.output)
        XCTAssertTrue(differ.output.contains("not launched with the same stage, recipe and options"), differ.output)
        XCTAssertFalse(FileManager.default.fileExists(atPath: runDir("bad").path), "nothing written")
    }
}
