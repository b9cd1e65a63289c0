// Reward-model and DPO stages end to end on a tiny SFT checkpoint: lineage
// (stage, parent, reference, data hash), DPO starting at log 2 with zero implicit
// rewards (policy = reference), held-out reward accuracy rising, bit-exact resume
// of both, the reward checkpoint loading as GPT2ForSequenceClassification and
// scoring files, evaluations before/after in lineage, and the recipe rules.

import XCTest
import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataCheckpoint
import StrataEval
@testable import StrataTrain

final class PreferenceStageTests: WorldTestCase {
    var sftCheckpoint: String!

    override func setUpWithError() throws {
        try super.setUpWithError()
        sftCheckpoint = try tinySFTCheckpoint(positions: 96, context: 96, pretrainSteps: 4, sftSteps: 2, perKind: 4)
        // Small pair files keep the debug-build tests quick: the first n/4 pairs of each of the four types, in file order.
        for (src, dst, n) in [("preferences.jsonl", "pairs.jsonl", 64), ("preferences_test.jsonl", "pairs_test.jsonl", 32)] {
            let lines = try String(contentsOf: dir.appendingPathComponent("world/" + src), encoding: .utf8).split(separator: "\n")
            var taken: [String: Int] = [:]
            let kept = try lines.filter { line in
                let type = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                let t = type?["type"] as? String ?? "-"
                taken[t, default: 0] += 1
                return taken[t]! <= n / 4
            }
            XCTAssertEqual(kept.count, n, "\(src): fewer than \(n / 4) pairs of some type")
            try (kept.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent(dst), atomically: true, encoding: .utf8)
        }
    }

    func recipe(_ name: String, steps: Int = 6, preference: String = "", lr: String = "1.0e-3") throws -> String {
        let text = """
        train: {batch_size: 4, context: 96, steps: \(steps), eval_interval: 3, eval_batches: 4, checkpoint_interval: 3, keep_last: 4, log_interval: 100, seed: 3}
        optim: {lr: \(lr), min_lr: 1.0e-5, warmup_steps: 1}
        run: {dir: \(dir.path)/runs, name: \(name)}
        preference:
          train: \(dir.path)/pairs.jsonl
          validation: \(dir.path)/pairs_test.jsonl
        \(preference)
        """
        let url = dir.appendingPathComponent("\(name).yaml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func stage(_ file: String?, from: String? = nil, resume: String? = nil) -> RunOptions {
        var c = RunOptions(from: from ?? sftCheckpoint, recipeFile: file, resume: resume)
        c.log = { _ in }; c.showProgress = false
        return c
    }

    func metricsLines(_ run: String) throws -> [[String: Any]] {
        try String(contentsOf: runDir(run).appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func testDPOStartsAtLogTwoAndRecordsReferenceAndEvaluations() throws {
        let eval = "  eval: {qa: \(dir.path)/world/qa.jsonl, per_kind: 1, behaviour: \(dir.path)/pairs_test.jsonl, behaviour_per_kind: 2, max_new_tokens: 6}"
        let out = try DPO.run(stage(try recipe("dpo", preference: "  beta: 0.1\n" + eval)))
        let first = try metricsLines("dpo").first { $0["loss"] != nil }!
        XCTAssertEqual(first["loss"] as! Double, log(2), accuracy: 1e-4, "policy = reference at the first step")
        XCTAssertEqual((first["extra"] as? [String: Double])?["margin"] ?? .nan, 0, accuracy: 1e-5)
        let loaded = try TrainingCheckpoint.load(out.lastCheckpoint!)
        let head = loaded.lineage.head!
        XCTAssertEqual(loaded.lineage.entries.map(\.stage.rawValue), ["pretrain", "sft", "dpo"])
        let sft = try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(sftCheckpoint))
        XCTAssertEqual(head.parent, .checkpoint(id: sft.id, sha256: sft.contentHash))
        XCTAssertEqual(head.reference, .checkpoint(id: sft.id, sha256: sft.contentHash))
        XCTAssertEqual(head.recipe.value(at: "preference.loss")?.stringValue, "sigmoid")
        XCTAssertEqual(head.data.first?.sha256, try SHA256.hex(fileAt: dir.appendingPathComponent("pairs.jsonl")))
        for k in ["instruction_before", "instruction", "behaviour_before", "behaviour"] { XCTAssertNotNil(head.evaluations[k], k) }
        XCTAssertNotNil(head.evaluations["validation_loss"]?["reward_acc"])
        // The reference's own held-out log-probs keep their name (they are not a "before" of the policy).
        XCTAssertNotNil(head.evaluations["reference_heldout"]?["chosen_logp"])
        XCTAssertNil(head.evaluations["reference_heldout_before"])
        XCTAssertNotNil(loaded.checkpoint.manifest.files["tokenizer_config.json"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: runDir("dpo").appendingPathComponent(DPO.cacheFile).path))
    }

    func testDPOResumeIsBitExact() throws {
        try resumeCheck(name: "dpo", run: DPO.run)
    }

    func testRewardResumeIsBitExact() throws {
        try resumeCheck(name: "rm", run: Reward.run)
        // Resuming with another stage's command is refused, naming the right one.
        for wrong in [DPO.run, { try SFT.run(RunOptions(resume: $0.resume)) }] as [(RunOptions) throws -> TrainingRun.Outcome] {
            XCTAssertThrowsError(try wrong(stage(nil, resume: runDir("rm-b").path))) {
                XCTAssertTrue(String(describing: $0).contains("strata reward --resume"), "\($0)")
            }
        }
    }

    func resumeCheck(name: String, run: (RunOptions) throws -> TrainingRun.Outcome) throws {
        try assertResumeIsBitExact(steps: 6, stopAtBatch: 3,
            straight: { try run(stage(try recipe(name + "-a"))) },
            interrupted: { hooks in
                var c = stage(try recipe(name + "-b"))
                c.interrupt = hooks.interrupt; c.inject = hooks.inject
                return try run(c)
            },
            resume: { try run(stage(nil, resume: runDir(name + "-b").path)) })
    }

    func testRewardModelLearnsHeldOutPreferencesAndScoresFiles() throws {
        let out = try Reward.run(stage(try recipe("rm", steps: 30, lr: "3.0e-3")))
        let ckpt = out.lastCheckpoint!
        let loaded = try TrainingCheckpoint.load(ckpt)
        XCTAssertNotNil(loaded.reward, "config.json marks it GPT2ForSequenceClassification")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: ckpt.url(for: "config.json"))) as! [String: Any]
        XCTAssertEqual(config["architectures"] as? [String], ["GPT2ForSequenceClassification"])
        let head = loaded.lineage.head!
        XCTAssertEqual(head.stage, .reward)
        let eval = head.evaluations["reward_eval"]!
        // 64 training pairs: well above chance overall, and the pair types that need no knowledge of the world
        // (refusing harmful requests, not refusing benign ones) are learnt first; wrong facts need facts the tiny model lacks.
        // (The world's wrong-fact pairs stay near chance for this tiny model and keep the loss from falling far.)
        XCTAssertLessThan(eval["bt_loss"]!, log(2.0) - 0.05, "held-out Bradley–Terry loss below log 2: \(eval)")
        XCTAssertGreaterThanOrEqual(eval["accuracy"]!, 0.6, "\(eval)")
        XCTAssertGreaterThanOrEqual(eval["accuracy.refusal"]!, 0.75, "\(eval)")
        XCTAssertGreaterThanOrEqual(eval["accuracy.harmful"]!, 0.75, "\(eval)")
        XCTAssertNotNil(eval["accuracy.harmful"])
        // strata score on the held-out pairs agrees with the stage's own accuracy.
        let lines = try Score.run(Score.Config(rewardModel: ckpt.url.path, file: dir.appendingPathComponent("pairs_test.jsonl").path))
        let acc = Double(lines.filter { $0.prefersChosen == true }.count) / Double(lines.count)
        XCTAssertEqual(acc, eval["accuracy"]!, accuracy: 1e-6)
        // Prompt/response records get one score each.
        let single = dir.appendingPathComponent("single.jsonl")
        try "{\"prompt\": \"Who employs Nesis?\", \"completion\": \"Grovane\"}\n".write(to: single, atomically: true, encoding: .utf8)
        let s = try Score.run(Score.Config(rewardModel: ckpt.url.path, file: single.path))
        XCTAssertEqual(s.count, 1)
        XCTAssertNotNil(s[0].score)
        // A reward checkpoint is not a policy to tune.
        XCTAssertThrowsError(try DPO.run(stage(try recipe("dpo-from-rm"), from: ckpt.url.path))) {
            XCTAssertTrue(String(describing: $0).contains("reward model"), "\($0)")
        }
    }

    func testRecipeAndStartRules() throws {
        XCTAssertThrowsError(try DPO.run(stage(try recipe("b", preference: "  beta: 0")))) {
            XCTAssertTrue(String(describing: $0).contains("preference.beta"), "\($0)")
        }
        XCTAssertThrowsError(try DPO.run(stage(try recipe("l", preference: "  loss: kto")))) {
            XCTAssertTrue(String(describing: $0).contains("kto") && String(describing: $0).contains("simpo"), "\($0)")
        }
        XCTAssertThrowsError(try DPO.run(stage(try recipe("s", preference: "  loss: simpo\n  reference: \(sftCheckpoint!)")))) {
            XCTAssertTrue(String(describing: $0).contains("preference.reference"), "\($0)")
        }
        // A base model without chat tokens is refused with the fix.
        let base = runDir("base").path
        XCTAssertThrowsError(try DPO.run(stage(try recipe("nochat"), from: base))) {
            XCTAssertTrue(String(describing: $0).contains("SFT checkpoint"), "\($0)")
        }
        // A bad line stops the stage before training, naming file and line.
        let bad = dir.appendingPathComponent("bad.jsonl")
        try "{\"prompt\": \"q\", \"chosen\": \"a\", \"rejected\": \"a\"}\n".write(to: bad, atomically: true, encoding: .utf8)
        let text = try String(contentsOfFile: try recipe("bad2")).replacingOccurrences(of: "\(dir.path)/pairs.jsonl", with: bad.path)
        try text.write(toFile: dir.appendingPathComponent("bad2.yaml").path, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try DPO.run(stage(dir.appendingPathComponent("bad2.yaml").path))) {
            XCTAssertTrue(String(describing: $0).contains("bad.jsonl:1"), "\($0)")
        }
        // Epochs over the pairs resolve to steps: half an epoch of the 64 pairs (none is too long) at 4 per step.
        let epochText = try String(contentsOfFile: try recipe("ep")).replacingOccurrences(of: "steps: 6, ", with: "")
            + "  epochs: 0.5\n"
        try epochText.write(toFile: dir.appendingPathComponent("ep.yaml").path, atomically: true, encoding: .utf8)
        let ep = try Reward.run(stage(dir.appendingPathComponent("ep.yaml").path))
        XCTAssertEqual(ep.step, 8)
        // SimPO needs no reference and writes no cache.
        let out = try DPO.run(stage(try recipe("simpo", steps: 2, preference: "  loss: simpo")))
        XCTAssertNil(try TrainingCheckpoint.load(out.lastCheckpoint!).lineage.head!.reference)
        XCTAssertFalse(FileManager.default.fileExists(atPath: runDir("simpo").appendingPathComponent(DPO.cacheFile).path))
    }
}
