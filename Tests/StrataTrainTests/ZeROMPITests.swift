// ZeRO-1 (train.zero_stage: 1) under `mpirun -n 2`: against plain data parallel on
// 2 ranks over 20 pretraining steps with clipping active, the losses, gradient
// norms, weights and AdamW moments (gathered to rank 0 for every checkpoint) are
// the same bits; a ZeRO run stopped by SIGTERM resumes on one process, and a
// one-process run resumes under ZeRO, both with the bits of the uninterrupted run.
// Without MPI: the shard layout (contiguous whole tensors, balanced) and the
// recipe check of the key.
// Leaves out: more than 2 ranks (each element's sum is then not one addition).

import XCTest
import Foundation
import StrataCore
import StrataCheckpoint
@testable import StrataTrain

final class ZeROMPITests: MPIRunTestCase {
    let accum2 = ["--set", "train.grad_accum=2"]
    let zero = ["--set", "train.zero_stage=1"]

    /// Gradient norms of a run, one per step.
    func gradNorms(_ run: String) throws -> [Double] {
        let text = try String(contentsOf: runDir(run).appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").compactMap { line in
            (try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["grad_norm"] as? Double
        }
    }

    func testZeROOneOnTwoRanksEqualsPlainTwoRanksOverTwentyPretrainingSteps() throws {
        _ = try mpirun()
        let file = try recipe(name: "r", steps: 20)
        let plain = try strata(ranks: 2, ["pretrain", "--config", file, "--set", "run.name=plain"] + accum2)
        XCTAssertEqual(plain.status, 0, plain.output)
        let sharded = try strata(ranks: 2, ["pretrain", "--config", file, "--set", "run.name=zero"] + accum2 + zero)
        XCTAssertEqual(sharded.status, 0, sharded.output)
        XCTAssertTrue(sharded.output.contains("ZeRO-1: AdamW moments sharded over 2 ranks"), sharded.output)
        XCTAssertEqual(try losses("plain").count, 20)
        XCTAssertEqual(try losses("plain"), try losses("zero"))
        let norms = try gradNorms("plain")
        XCTAssertEqual(norms, try gradNorms("zero"), "the global norm from per-tensor sums is the plain run's")
        XCTAssertTrue(norms.contains { $0 > 1 }, "clipping (grad_clip 1) was active on some step: \(norms)")
        let x = try finalTensors("plain"), y = try finalTensors("zero")
        XCTAssertEqual(x.keys.sorted(), y.keys.sorted(), "the checkpoint keeps the one-process format")
        XCTAssertTrue(x.keys.contains { $0.hasPrefix("optimizer.safetensors:exp_avg_sq.") })
        for k in x.keys.sorted() { XCTAssertEqual(x[k], y[k], "\(k) differs") }
        let lineage = try String(contentsOf: try latest("zero").appendingPathComponent("lineage.json"), encoding: .utf8)
        XCTAssertTrue(lineage.contains("ZeRO-1"), "lineage records the sharding")
    }

    /// Starts a run and sends SIGTERM (to rank 1, or to the one process) once 3 steps are logged.
    func interrupted(_ name: String, ranks: Int?, _ args: [String]) throws {
        let log = dir.appendingPathComponent("\(name).log")
        let p = try start(ranks: ranks, args + ["--set", "run.name=\(name)"], log: log)
        XCTAssertTrue(waitForMetrics(name, lines: 3), "the run did not start")
        let pid = ranks == nil ? p.processIdentifier : try XCTUnwrap(try self.ranks(of: p)[1], "rank 1's process")
        kill(pid, SIGTERM)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
        XCTAssertLessThan(try losses(name).count, 30, "the signal stopped the run early")
    }

    func testAZeROCheckpointResumesOnOneProcessAndAOneProcessCheckpointResumesUnderZeRO() throws {
        _ = try mpirun()
        // zero_stage 1 is in every run's recipe: one process keeps the whole optimizer, 2 ranks shard it.
        let args = ["pretrain", "--config", try recipe(name: "r", steps: 30)] + accum2 + zero
        let straight = try strata(ranks: nil, args + ["--set", "run.name=straight"])
        XCTAssertEqual(straight.status, 0, straight.output)
        let expected = try losses("straight"), tensors = try finalTensors("straight")
        for (name, first, then) in [("zero-then-one", 2, nil), ("one-then-zero", nil, 2)] as [(String, Int?, Int?)] {
            try interrupted(name, ranks: first, args)
            let resumed = try strata(ranks: then, ["pretrain", "--resume", runDir(name).path])
            XCTAssertEqual(resumed.status, 0, resumed.output)
            XCTAssertEqual(try losses(name), expected, name)
            let got = try finalTensors(name)
            for k in tensors.keys.sorted() { XCTAssertEqual(got[k], tensors[k], "\(k) after \(name)") }
        }
    }

    func testShardsAreContiguousWholeTensorsBalancedByElementCount() {
        let counts = [3_072, 64, 64, 4_096, 4_096, 64, 12_288, 64]   // a token embedding, then layer tensors
        for ranks in 1...4 {
            let l = ShardLayout(counts: counts, ranks: ranks)
            XCTAssertEqual(l.owner, l.owner.sorted(), "contiguous runs of tensors")
            XCTAssertEqual((0..<ranks).reduce(0) { $0 + l.elements(of: $1) }, l.total)
            for r in 0..<ranks {   // each cut is within half the largest tensor of the ideal one, so a shard within one tensor
                XCTAssertLessThanOrEqual(abs(l.elements(of: r) * ranks - l.total), ranks * 12_288, "ranks \(ranks), rank \(r)")
            }
        }
        XCTAssertEqual(ShardLayout(counts: counts, ranks: 2).owner, [0, 0, 0, 0, 0, 0, 1, 1])
    }

    func testAZeroStageOtherThanZeroOrOneIsRefusedNamingTheKey() throws {
        let file = try recipe(name: "z", steps: 2)
        var options = config(file)
        options.overrides = ["train.zero_stage=2"]
        XCTAssertThrowsError(try Pretrain.run(options)) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("train.zero_stage") && text.contains("got 2"), text)
        }
    }
}
