// Data parallel over MPI (`mpirun -n 2 strata ...`) against one process: 2 ranks
// with one micro-batch each give the bits of one process with grad_accum 2 —
// losses, weights and AdamW moments — in pretraining, SFT, reward modelling and
// DPO; SIGTERM on one rank saves one checkpoint and every rank exits 0; the run
// resumes bit-exactly on 2 ranks and on 1 process; a killed rank ends every
// process with an error in seconds, leaving the last checkpoint intact; ranks
// launched differently, and a grad_accum that does not split, are refused.
// Why the bits agree (per-micro-batch gradient sums) is isolated without MPI in
// MicroBatchGradientsTests. Leaves out: timings (strata bench data-parallel).

import XCTest
import Foundation
import StrataCore
import StrataCheckpoint
import StrataEval
@testable import StrataTrain

final class DataParallelTests: MPIRunTestCase {
    let accum2 = ["--set", "train.grad_accum=2"]

    /// Runs `args` alone and on 2 ranks (run names `one`, `two`); asserts equal losses and final tensors, bit for bit.
    func assertTwoRanksEqualOneProcess(_ args: [String], steps: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        _ = try mpirun()
        let one = try strata(ranks: nil, args + accum2 + ["--set", "run.name=one"])
        XCTAssertEqual(one.status, 0, one.output, file: file, line: line)
        let two = try strata(ranks: 2, args + accum2 + ["--set", "run.name=two"])
        XCTAssertEqual(two.status, 0, two.output, file: file, line: line)
        let a = try losses("one"), b = try losses("two")
        XCTAssertEqual(a.count, steps, file: file, line: line)
        XCTAssertEqual(a, b, "losses of 1 process × grad_accum 2 and 2 ranks", file: file, line: line)
        let x = try finalTensors("one"), y = try finalTensors("two")
        XCTAssertEqual(x.keys.sorted(), y.keys.sorted(), file: file, line: line)
        for k in x.keys.sorted() { XCTAssertEqual(x[k], y[k], "\(k) differs", file: file, line: line) }
    }

    func testTwoRanksEqualOneProcessWithGradAccum2OverTwentyPretrainingSteps() throws {
        try assertTwoRanksEqualOneProcess(["pretrain", "--config", try recipe(name: "r", steps: 20)], steps: 20)
        let lineage = try String(contentsOf: try latest("two").appendingPathComponent("lineage.json"), encoding: .utf8)
        XCTAssertTrue(lineage.contains("\"world_size\" : 2"), "lineage records the world size")
        XCTAssertTrue(lineage.contains("data parallel on 2 ranks"), "lineage records the split as an event")
        XCTAssertFalse(try String(contentsOf: try latest("one").appendingPathComponent("lineage.json"), encoding: .utf8)
            .contains("world_size"), "a one-process run's lineage is as before")
    }

    func testTwoRanksEqualOneProcessWithGradAccum2OverTwentySFTSteps() throws {
        _ = try mpirun()
        let base = try Pretrain.run(config(try recipe(name: "base", steps: 4))).lastCheckpoint!.url.path
        let qa = try ChatStage.readQA(dir.appendingPathComponent("world/qa.jsonl"))
        try InstructionTasks.trlJSONL(InstructionTasks.training(qa: qa, seed: 1, perKind: 4))
            .write(to: dir.appendingPathComponent("sft.jsonl"), atomically: true, encoding: .utf8)
        let sft = """
        train: {batch_size: 4, context: 32, steps: 20, eval_interval: 20, eval_batches: 1, checkpoint_interval: 20, keep_last: 2, log_interval: 100}
        optim: {lr: 1.0e-3, warmup_steps: 0}
        run: {dir: \(dir.path)/runs}
        sft: {train: \(dir.path)/sft.jsonl, validation_fraction: 0}
        """
        try sft.write(to: dir.appendingPathComponent("sft.yaml"), atomically: true, encoding: .utf8)
        try assertTwoRanksEqualOneProcess(["sft", "--from", base, "--config", dir.appendingPathComponent("sft.yaml").path], steps: 20)
    }

    func testRewardAndDPOOnTwoRanksEqualOneProcess() throws {
        _ = try mpirun()
        let chat = try tinySFTCheckpoint(positions: 96, context: 96, pretrainSteps: 2, sftSteps: 1, perKind: 2)
        let pairs = try String(contentsOf: dir.appendingPathComponent("world/preferences.jsonl"), encoding: .utf8).split(separator: "\n")
        try (pairs.prefix(32).joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("pairs.jsonl"), atomically: true, encoding: .utf8)
        let text = """
        train: {batch_size: 4, context: 96, steps: 4, eval_interval: 4, eval_batches: 1, checkpoint_interval: 4, keep_last: 2, log_interval: 100, seed: 3}
        optim: {lr: 1.0e-3, min_lr: 1.0e-5, warmup_steps: 1}
        run: {dir: \(dir.path)/runs}
        preference: {train: \(dir.path)/pairs.jsonl}
        """
        try text.write(to: dir.appendingPathComponent("pref.yaml"), atomically: true, encoding: .utf8)
        for stage in ["reward", "dpo"] {
            try assertTwoRanksEqualOneProcess([stage, "--from", chat, "--config", dir.appendingPathComponent("pref.yaml").path], steps: 4)
            try FileManager.default.removeItem(at: runDir("one")); try FileManager.default.removeItem(at: runDir("two"))
        }
    }
}
