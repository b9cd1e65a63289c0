// End-to-end pretraining tests on a tiny GPT-2 and a small synthetic world:
// the loss falls, resume is bit-exact, interrupted checkpoint writes leave the
// trail loadable, corrupt checkpoints are refused, and the spike guard skips an
// outlier and rolls back from a NaN.

import XCTest
import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataCheckpoint
@testable import StrataTrain

final class PretrainTests: WorldTestCase {
    func testShortRunLowersValidationLoss() throws {
        let out = try Pretrain.run(config(try recipe(name: "learn", steps: 60, extra: "")))
        XCTAssertEqual(out.step, 60)
        let metrics = try MetricsLog.read(runDir("learn").appendingPathComponent("metrics.jsonl"))
        let vals = metrics.compactMap(\.valLoss)
        XCTAssertGreaterThanOrEqual(vals.count, 10)
        XCTAssertLessThan(vals.last!, vals.first! - 0.8, "validation loss \(vals)")
        XCTAssertLessThan(vals.last!, 4.6, "validation loss should fall below 4.6 nats (uniform over 300 ids is 5.7)")
        // The checkpoint is self-describing and its lineage names random init.
        let ckpt = try TrainingCheckpoint.resolve(runDir("learn").path)
        let loaded = try TrainingCheckpoint.load(ckpt)
        XCTAssertEqual(loaded.lineage.entries.count, 1)
        XCTAssertEqual(loaded.lineage.head?.parent, .randomInit)
        XCTAssertEqual(loaded.lineage.head?.stage.rawValue, "pretrain")
        XCTAssertEqual(loaded.lineage.head?.compute.tokens, 60 * 4 * 32)
        XCTAssertNotNil(loaded.lineage.head?.evaluations["validation_loss"]?["world"])
    }

    func testEvalIntervalZeroEvaluatesOnlyAtTheEnd() throws {
        var c = config(try recipe(name: "final-eval", steps: 6))
        c.overrides = ["train.eval_interval=0"]   // the key's help: 0 = only at the end (it once divided by zero)
        let out = try Pretrain.run(c)
        XCTAssertEqual(out.step, 6)
        let metrics = try MetricsLog.read(runDir("final-eval").appendingPathComponent("metrics.jsonl"))
        XCTAssertEqual(metrics.filter { $0.valLoss != nil }.map(\.step), [6])
    }

    func testResumeIsBitExact() throws {
        let straight = try Pretrain.run(config(try recipe(name: "straight")))
        // Interrupt after step 6 (the flag is checked before each step), then resume.
        let flag = InterruptFlag()
        var c = config(try recipe(name: "split"))
        c.interrupt = flag
        c.inject = { step in if step == 5 { flag.raise(SIGINT) }; return nil }
        let first = try Pretrain.run(c)
        XCTAssertTrue(first.interrupted)
        XCTAssertEqual(first.step, 6)
        let second = try Pretrain.run(config(nil, resume: runDir("split").path))
        XCTAssertEqual(second.step, 12)
        XCTAssertEqual(first.losses + second.losses, straight.losses, "per-step losses must match the uninterrupted run")
        let a = try tensorsBytes(straight.lastCheckpoint!.url), b = try tensorsBytes(second.lastCheckpoint!.url)
        XCTAssertEqual(a.keys.sorted(), b.keys.sorted())
        for k in a.keys { XCTAssertEqual(a[k]!, b[k]!, "tensor \(k) differs after resume") }
    }

    func testInterruptedCheckpointWritesLeaveTheTrailLoadable() throws {
        let file = try recipe(name: "straight")
        let straight = try Pretrain.run(config(file))
        for fault in FaultPoint.allCases {
            let name = "fault-\(fault.rawValue)"
            let f = try recipe(name: name)
            // Train to step 4 (checkpoints 0 and 4), then fail the step-8 write at this fault point.
            var short = config(f); short.overrides = ["train.steps=12"]
            let flag = InterruptFlag(); short.interrupt = flag
            short.inject = { step in if step == 3 { flag.raise(SIGTERM) }; return nil }
            _ = try Pretrain.run(short)
            var faulty = config(nil, resume: runDir(name).path); faulty.fault = fault
            XCTAssertThrowsError(try Pretrain.run(faulty)) { e in
                XCTAssertTrue(CheckpointStore.isInjectedFault(e), "\(fault): \(e)")
            }
            // Resuming again finds a valid checkpoint and finishes exactly like the uninterrupted run.
            let done = try Pretrain.run(config(nil, resume: runDir(name).path))
            XCTAssertEqual(done.step, 12, "\(fault)")
            let a = try tensorsBytes(straight.lastCheckpoint!.url), b = try tensorsBytes(done.lastCheckpoint!.url)
            for k in a.keys { XCTAssertEqual(a[k]!, b[k]!, "\(fault): tensor \(k) differs") }
        }
    }

    func testFlippedByteIsRefusedAndResumeFallsBack() throws {
        let out = try Pretrain.run(config(try recipe(name: "flip", steps: 8)))
        let model = out.lastCheckpoint!.url.appendingPathComponent("model.safetensors")
        var bytes = try Data(contentsOf: model)
        bytes[bytes.count / 2] ^= 0x40
        try bytes.write(to: model)
        XCTAssertThrowsError(try TrainingCheckpoint.verify(out.lastCheckpoint!.url)) { e in
            XCTAssertTrue(String(describing: e).contains("model.safetensors"), "\(e)")
        }
        // The latest valid checkpoint is now step 4.
        XCTAssertEqual(try TrainingCheckpoint.resolve(runDir("flip").path).name, "step-0000004")
    }

    func testSpikeGuardSkipsOutlierAndRollsBackFromNaN() throws {
        let guardSection = "guard: {window: 16, min_history: 6, sigma: 6.0, stable_steps: 2}"
        var c = config(try recipe(name: "guard", steps: 30, extra: guardSection))
        c.inject = { step in step == 10 ? .scale(1000) : (step == 18 ? .nan : nil) }
        let out = try Pretrain.run(c)
        XCTAssertEqual(out.step, 30)
        let state = try TrainingCheckpoint.load(out.lastCheckpoint!).state!
        let kinds = state.events.map(\.kind.rawValue)
        XCTAssertTrue(kinds.contains("spike"), "events: \(state.events)")
        XCTAssertTrue(kinds.contains("rollback"), "events: \(state.events)")
        XCTAssertEqual(state.events.first { $0.kind == .spike }?.step, 10)
        XCTAssertLessThan(state.spikeGuard.lrMultiplier, 1)
        let metrics = try MetricsLog.read(runDir("guard").appendingPathComponent("metrics.jsonl"))
        XCTAssertTrue(metrics.allSatisfy { $0.loss.map(\.isFinite) ?? true })
        let losses = metrics.compactMap(\.loss)
        XCTAssertLessThan(losses.last!, losses.first!, "training continues to a lower loss after the rollback")
        XCTAssertTrue(try TrainingCheckpoint.load(out.lastCheckpoint!).lineage.head!.events.contains { $0.kind == .rollback })
    }

    func testResumeWithADifferentRecipeNamesTheKey() throws {
        let file = try recipe(name: "strict", steps: 4)
        _ = try Pretrain.run(config(file))
        var c = config(file, resume: runDir("strict").path)
        c.overrides = ["optim.lr=0.5"]
        XCTAssertThrowsError(try Pretrain.run(c)) { e in XCTAssertTrue(String(describing: e).contains("optim.lr"), "\(e)") }
        XCTAssertThrowsError(try Pretrain.run(config(file))) { e in XCTAssertTrue(String(describing: e).contains("--resume"), "\(e)") }
    }
}

final class ValidationShardOptionTests: WorldTestCase {
    func testSeparateValidationShardIsRefusedRatherThanIgnored() throws {
        let file = try recipe(name: "vshard", steps: 4)
        var text = try String(contentsOfFile: file, encoding: .utf8)
        text = text.replacingOccurrences(of: "validation: {fraction: 0.05}", with: "validation: {shard: \(dir.path)/world/textbook.jsonl}")
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Pretrain.run(config(file))) { XCTAssertTrue(String(describing: $0).contains("data.validation.shard"), "\($0)") }
    }
}
