// Retention over a long run and the messages around the trail: disk use stays bounded
// when every checkpoint is marked stable (a quiet run), stable marks of pruned
// checkpoints are dropped, a damaged marks.json is refused when the store opens (naming
// the file and the fix), and a checkpoint whose manifest is missing or damaged is
// reported when passed over.
// Leaves out: the fault points of a write (CheckpointStoreTests).

import Foundation
import XCTest
import StrataCore
@testable import StrataCheckpoint
import StrataTestSupport

final class CheckpointRetentionTests: XCTestCase {
    override class func tearDown() { TestFiles.removeTempDirs() }

    private func files(_ step: Int, bytes: Int) -> [CheckpointFile] {
        [.data("trainer_state.json", Data("{\"step\":\(step)}".utf8)),
         .data("model.safetensors", Data(repeating: UInt8(step % 251), count: bytes))]
    }

    private func diskUse(_ dir: URL) -> Int {
        let e = FileManager.default.enumerator(at: dir, includingPropertiesForKeys: [.fileSizeKey])
        var total = 0
        while let u = e?.nextObject() as? URL { total += (try? u.resourceValues(forKeys: [.fileSizeKey]).fileSize ?? 0) ?? 0 }
        return total
    }

    func testQuietLongRunKeepsBoundedCheckpointsAndDisk() throws {
        let root = try TestFiles.makeTempDir("long-run").appendingPathComponent("checkpoints")
        let s = try CheckpointStore(root: root, config: .init(keepLast: 3, keepStable: 2))
        let payload = 4096
        var peak = 0, peakCount = 0
        // 600 steps, a checkpoint every 10 (60 writes), every one marked stable as a quiet run does,
        // validation every 50 steps with the best loss at step 100.
        for step in stride(from: 10, through: 600, by: 10) {
            let name = String(format: "step-%07d", step)
            try s.write(name: name, files: files(step, bytes: payload))
            try s.markStable(name)
            if step % 50 == 0 { try s.recordValidationLoss(step == 100 ? 1.0 : 2.0 + Double(step) / 1000, for: name) }
            try s.prune()
            peak = max(peak, diskUse(root))
            peakCount = max(peakCount, s.list().count)
        }
        let names = s.list().map(\.name)
        XCTAssertEqual(names, ["step-0000100", "step-0000580", "step-0000590", "step-0000600"],
                       "last 3 (also the 2 newest stable) + best")
        XCTAssertLessThanOrEqual(peakCount, 3 + 2 + 1 + 1, "keepLast + keepStable + best + latest at most")
        XCTAssertLessThan(peak, 7 * (payload + 1024), "disk use is bounded by the kept checkpoints, not the run length")
        let m = try s.marks()
        XCTAssertEqual(m.stable, ["step-0000100", "step-0000580", "step-0000590", "step-0000600"], "marks of pruned checkpoints are dropped")
        XCTAssertEqual(m.best, "step-0000100")
    }

    func testOlderStableCheckpointsBeyondTheBoundArePruned() throws {
        let root = try TestFiles.makeTempDir("stable-bound").appendingPathComponent("checkpoints")
        let s = try CheckpointStore(root: root, config: .init(keepLast: 2, keepStable: 1))
        for i in 1...6 {
            try s.write(name: "c\(i)", files: files(i, bytes: 16))
            if i == 1 || i == 3 { try s.markStable("c\(i)") }
        }
        XCTAssertEqual(s.list().map(\.name), ["c3", "c5", "c6"])
        XCTAssertEqual(try s.marks().stable, ["c3"])
        assertStrataError(.config, ["keepStable is 0"]) { try CheckpointStore(root: root, config: .init(keepStable: 0)) }
    }

    func testDamagedMarksFileIsRefusedWhenTheStoreOpens() throws {
        let root = try TestFiles.makeTempDir("bad-marks").appendingPathComponent("checkpoints")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try Data("{\"best\": \"step-1\", \"stab".utf8).write(to: root.appendingPathComponent("marks.json"))
        assertStrataError(.format, ["marks.json", root.path, "invalid JSON", "repair or delete"]) { try CheckpointStore(root: root) }
    }

    func testCheckpointWithDamagedOrMissingManifestIsReportedWhenSkipped() throws {
        let root = try TestFiles.makeTempDir("skip-report").appendingPathComponent("checkpoints")
        let s = try CheckpointStore(root: root, config: .init(keepLast: 5))
        for i in 1...3 { try s.write(name: "step-\(i)", files: files(i, bytes: 32)) }
        try Data("not json".utf8).write(to: s.url(of: "step-3").appendingPathComponent("manifest.json"))
        try FileManager.default.removeItem(at: s.url(of: "step-2").appendingPathComponent("manifest.json"))
        var skipped: [String: String] = [:]
        let chosen = s.latestValid { name, e in skipped[name] = e.description }
        XCTAssertEqual(chosen?.name, "step-1")
        XCTAssertEqual(skipped.keys.sorted(), ["step-2", "step-3"])
        XCTAssertTrue(skipped["step-2"]?.contains("has no manifest.json") ?? false, "\(skipped)")
        XCTAssertTrue(skipped["step-3"]?.contains("step-3/manifest.json") ?? false, "\(skipped)")
    }
}
