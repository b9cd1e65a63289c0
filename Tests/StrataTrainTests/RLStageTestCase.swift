// Shared fixture of the RL stage tests (GRPO, PPO): a tiny pretrained + SFT
// checkpoint that speaks ChatML, a four-prompt conversational prompt file, and
// readers of a run's metrics.jsonl.

import XCTest
import Foundation
import StrataCore
import StrataData
import StrataEval
@testable import StrataTrain

class RLStageTestCase: WorldTestCase {
    var sftCheckpoint: String!

    override func setUpWithError() throws {
        try super.setUpWithError()
        let base = """
        model: {n_layer: 2, n_head: 2, n_embd: 32, n_positions: 64, vocab_size: from_tokenizer}
        tokenizer: {train: {vocab_size: 400}}
        data:
          sources:
            - {name: world, path: \(dir.path)/world/before_cutoff.jsonl, weight: 1.0}
        train: {batch_size: 4, context: 64, steps: 2, eval_interval: 2, eval_batches: 1, checkpoint_interval: 2, keep_last: 2, log_interval: 100, seed: 7}
        optim: {lr: 3.0e-3, warmup_steps: 1}
        run: {dir: \(dir.path)/runs, name: base}
        """
        try base.write(to: dir.appendingPathComponent("base.yaml"), atomically: true, encoding: .utf8)
        let pre = try Pretrain.run(config(dir.appendingPathComponent("base.yaml").path)).lastCheckpoint!
        let qa = try ChatStage.readQA(dir.appendingPathComponent("world/qa.jsonl"))
        try InstructionTasks.trlJSONL(InstructionTasks.training(qa: qa, seed: 1, perKind: 2))
            .write(to: dir.appendingPathComponent("sft.jsonl"), atomically: true, encoding: .utf8)
        let sft = """
        train: {batch_size: 4, context: 64, steps: 1, eval_interval: 1, eval_batches: 1, checkpoint_interval: 1, keep_last: 2, log_interval: 100}
        optim: {lr: 1.0e-3, warmup_steps: 0}
        run: {dir: \(dir.path)/runs, name: sft}
        sft: {train: \(dir.path)/sft.jsonl, validation_fraction: 0}
        """
        try sft.write(to: dir.appendingPathComponent("sft.yaml"), atomically: true, encoding: .utf8)
        var c = RunOptions(from: pre.url.path, recipeFile: dir.appendingPathComponent("sft.yaml").path)
        c.log = { _ in }; c.showProgress = false
        sftCheckpoint = try SFT.run(c).lastCheckpoint!.url.path
        let prompts = ["What is two plus two?", "Name a city.", "Say a number.", "Reverse the list a b c."].map {
            "{\"prompt\": [{\"role\": \"user\", \"content\": \"\($0)\"}]}"
        }
        try (prompts.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("prompts.jsonl"), atomically: true, encoding: .utf8)
    }

    func stage(_ file: String?, resume: String? = nil) -> RunOptions {
        var c = RunOptions(from: sftCheckpoint, recipeFile: file, resume: resume)
        c.log = { _ in }; c.showProgress = false
        return c
    }

    func metricsLines(_ run: String) throws -> [[String: Any]] {
        try String(contentsOf: runDir(run).appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func extras(_ run: String) throws -> [[String: Double]] {
        try metricsLines(run).compactMap { $0["extra"] as? [String: Double] }
    }
}
