// Commands that read a checkpoint leave it alone unless asked: `strata model logits`
// writes to --out (default ./strata_logits.safetensors), and `strata eval` records
// its results in the checkpoint (evaluations.json) only with --record. Runs the
// built `strata` binary (next to the test bundle) on a 12-step tiny run.
// Leaves out: what the evaluation measures (StrataEvalTests).
import XCTest
import Foundation
import StrataCore
import StrataModel
@testable import StrataTrain

final class ReadOnlyCommandsTests: WorldTestCase {
    func strata(_ args: [String], in cwd: URL) throws -> (Int32, String) { try StrataBinary.run(args, in: cwd) }

    func listing(_ url: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: url.path).sorted()
    }

    func testModelLogitsWritesToOutNotIntoTheCheckpoint() throws {
        let ckpt = dir.appendingPathComponent("model")
        try GPT2(GPT2Config(vocabSize: 40, nPositions: 16, nEmbd: 16, nLayer: 1, nHead: 2), seed: 1).save(directory: ckpt)
        let before = try listing(ckpt)
        var (status, text) = try strata(["model", "logits", "--checkpoint", ckpt.path, "--ids", "1,2,3"], in: dir)
        XCTAssertEqual(status, 0, text)
        XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent("strata_logits.safetensors").path), text)
        let out = dir.appendingPathComponent("elsewhere.safetensors")
        (status, text) = try strata(["model", "logits", "--checkpoint", ckpt.path, "--ids", "4,5", "--out", out.path], in: dir)
        XCTAssertEqual(status, 0, text)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.path), text)
        XCTAssertEqual(try listing(ckpt), before, "the checkpoint directory is unchanged")
    }

    func testEvalRecordsIntoTheCheckpointOnlyWithRecord() throws {
        _ = try Pretrain.run(config(try recipe(name: "ev")))
        let ckpt = try TrainingCheckpoint.resolve(runDir("ev").path).url
        let before = try listing(ckpt)
        let args = ["eval", "--checkpoint", ckpt.path, "--probes", dir.appendingPathComponent("world/probes.jsonl").path,
                    "--max-probes", "8", "--no-exact-match", "--no-baseline", "--windows", "2"]
        var (status, text) = try strata(args, in: dir)
        XCTAssertEqual(status, 0, text)
        XCTAssertEqual(try listing(ckpt), before, "eval without --record leaves the checkpoint as it was")
        (status, text) = try strata(args + ["--record"], in: dir)
        XCTAssertEqual(status, 0, text)
        XCTAssertTrue(try listing(ckpt).contains(TrainingCheckpoint.evaluationsFile), text)
    }
}
