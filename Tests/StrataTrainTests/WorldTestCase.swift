// Shared fixture for training tests: a small synthetic world in a temporary
// directory, recipe files for a tiny GPT-2, and helpers to compare checkpoints.

import XCTest
import Foundation
import StrataCore
import StrataData
import StrataEval
import StrataCheckpoint
@testable import StrataTrain

class WorldTestCase: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("strata-pretrain-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var cfg = SyntheticWorld.Config(seed: 3, size: 120_000)
        cfg.minRenderings = 3; cfg.maxRenderings = 5
        _ = try SyntheticWorld.generate(cfg).write(to: dir.appendingPathComponent("world"))
    }

    override func tearDownWithError() throws { if ProcessInfo.processInfo.environment["KEEPDIR"] == nil { try? FileManager.default.removeItem(at: dir) } else { print("KEPT", dir.path) } }

    func recipe(name: String, steps: Int = 12, extra: String = "",
                tokenizer: String = "tokenizer: {train: {vocab_size: 300}}",
                sources: String? = nil) throws -> String {
        let text = """
        model: {n_layer: 2, n_head: 2, n_embd: 32, n_positions: 32, vocab_size: from_tokenizer}
        \(tokenizer)
        data:
          sources:
        \(sources ?? "    - {name: world, path: \(dir.path)/world/before_cutoff.jsonl, weight: 1.0}")
          validation: {fraction: 0.05}
        train: {batch_size: 4, context: 32, steps: \(steps), eval_interval: 4, eval_batches: 2, checkpoint_interval: 4, keep_last: 3, log_interval: 100, seed: 7}
        optim: {lr: 3.0e-3, min_lr: 3.0e-4, warmup_steps: 2}
        run: {dir: \(dir.path)/runs, name: \(name)}
        \(extra)
        """
        let url = dir.appendingPathComponent("\(name).yaml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func config(_ file: String?, resume: String? = nil) -> RunOptions {
        var c = RunOptions(recipeFile: file, resume: resume)
        c.log = { _ in }; c.showProgress = false
        return c
    }

    func runDir(_ name: String) -> URL { dir.appendingPathComponent("runs/\(name)") }

    /// A tiny pretrained GPT-2 (runs/base) fine-tuned on world instruction tasks (runs/sft); its checkpoint path.
    /// `context` is the SFT context (pretraining uses 64).
    func tinySFTCheckpoint(positions: Int, context: Int, pretrainSteps: Int, sftSteps: Int, perKind: Int) throws -> String {
        let base = """
        model: {n_layer: 2, n_head: 2, n_embd: 32, n_positions: \(positions), vocab_size: from_tokenizer}
        tokenizer: {train: {vocab_size: 400}}
        data:
          sources:
            - {name: world, path: \(dir.path)/world/before_cutoff.jsonl, weight: 1.0}
        train: {batch_size: 4, context: 64, steps: \(pretrainSteps), eval_interval: \(pretrainSteps), eval_batches: 1, checkpoint_interval: \(pretrainSteps), keep_last: 2, log_interval: 100, seed: 7}
        optim: {lr: 3.0e-3, warmup_steps: 1}
        run: {dir: \(dir.path)/runs, name: base}
        """
        try base.write(to: dir.appendingPathComponent("base.yaml"), atomically: true, encoding: .utf8)
        let pre = try Pretrain.run(config(dir.appendingPathComponent("base.yaml").path)).lastCheckpoint!
        let qa = try ChatStage.readQA(dir.appendingPathComponent("world/qa.jsonl"))
        try InstructionTasks.trlJSONL(InstructionTasks.training(qa: qa, seed: 1, perKind: perKind))
            .write(to: dir.appendingPathComponent("sft.jsonl"), atomically: true, encoding: .utf8)
        let sft = """
        train: {batch_size: 4, context: \(context), steps: \(sftSteps), eval_interval: \(sftSteps), eval_batches: 1, checkpoint_interval: \(sftSteps), keep_last: 2, log_interval: 100}
        optim: {lr: 1.0e-3, warmup_steps: 0}
        run: {dir: \(dir.path)/runs, name: sft}
        sft: {train: \(dir.path)/sft.jsonl, validation_fraction: 0}
        """
        try sft.write(to: dir.appendingPathComponent("sft.yaml"), atomically: true, encoding: .utf8)
        var c = RunOptions(from: pre.url.path, recipeFile: dir.appendingPathComponent("sft.yaml").path)
        c.log = { _ in }; c.showProgress = false
        return try SFT.run(c).lastCheckpoint!.url.path
    }

    /// Parameters and AdamW moments of a checkpoint, as raw bytes per tensor.
    func tensorsBytes(_ ckpt: URL) throws -> [String: [Float]] {
        var out: [String: [Float]] = [:]
        for file in ["model.safetensors", "optimizer.safetensors"] {
            let f = try SafeTensors.read(ckpt.appendingPathComponent(file))
            for n in f.names { out[file + ":" + n] = f.tensor(n)!.values }
        }
        return out
    }

    /// Runs a stage straight through, then again stopped by SIGINT raised while it trains on `stopAtBatch`
    /// and resumed; asserts the losses and every checkpointed tensor (weights and moments) are identical.
    func assertResumeIsBitExact(steps: Int, stopAtBatch: Int, straight: () throws -> TrainingRun.Outcome,
                                interrupted: (RunOptions) throws -> TrainingRun.Outcome,
                                resume: () throws -> TrainingRun.Outcome, file: StaticString = #filePath, line: UInt = #line) throws {
        let full = try straight()
        let flag = InterruptFlag()
        var hooks = RunOptions()
        hooks.interrupt = flag
        hooks.inject = { batch in if batch == stopAtBatch { flag.raise(SIGINT) }; return nil }
        let first = try interrupted(hooks)
        XCTAssertTrue(first.interrupted, file: file, line: line)
        XCTAssertLessThan(first.step, steps, file: file, line: line)
        let resumed = try resume()
        XCTAssertEqual(resumed.step, steps, file: file, line: line)
        XCTAssertEqual(first.losses + resumed.losses, full.losses, file: file, line: line)
        let a = try tensorsBytes(full.lastCheckpoint!.url), b = try tensorsBytes(resumed.lastCheckpoint!.url)
        XCTAssertEqual(a.keys.sorted(), b.keys.sorted(), file: file, line: line)
        for k in a.keys { XCTAssertEqual(a[k]!, b[k]!, k, file: file, line: line) }
    }
}
