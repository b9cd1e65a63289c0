// The checkpoint trail: write/verify/latest, a crash imitated at every fault point
// (the previous checkpoint still loads, the partial one is ignored and cleaned),
// corrupted and incomplete checkpoints refused, retention (last K + best + stable),
// leftovers, overwrite of a name, and write errors that leave the trail intact.
// Leaves out: safetensors validation (SafeTensors*Tests).

import Foundation
import XCTest
import StrataCore
@testable import StrataCheckpoint
import StrataTestSupport

final class CheckpointStoreTests: XCTestCase {
    override class func tearDown() { TestFiles.removeTempDirs() }

    private func files(_ tag: String) -> [CheckpointFile] {
        [.data("trainer_state.json", Data("{\"step\":\"\(tag)\"}".utf8)),
         .safetensors("model.safetensors", sources: [TensorSource(NamedTensor(name: "w", shape: [2], values: [1, Float(tag.count)]))],
                      metadata: ["tag": tag])]
    }

    private func store(_ label: String, keepLast: Int = 3, fault: FaultPoint? = nil) throws -> CheckpointStore {
        let dir = try TestFiles.makeTempDir(label).appendingPathComponent("checkpoints")
        return try CheckpointStore(root: dir, config: .init(keepLast: keepLast, fault: fault))
    }

    private func hidden(_ s: CheckpointStore) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: s.root.path).filter { $0.hasPrefix(".") }.sorted()
    }

    func testWriteVerifyLatest() throws {
        let s = try store("basic")
        XCTAssertNil(s.latestValid())
        let c1 = try s.write(name: "step-0000100", files: files("a"))
        let c2 = try s.write(name: "step-0000200", files: files("bb"))
        XCTAssertEqual(s.latestPointer(), "step-0000200")
        XCTAssertEqual(s.latestValid()?.name, "step-0000200")
        XCTAssertEqual(c2.manifest.sequence, c1.manifest.sequence + 1)
        XCTAssertEqual(c2.fileNames, ["model.safetensors", "trainer_state.json"])
        let model = c2.url(for: "model.safetensors")
        XCTAssertEqual(c2.manifest.files["model.safetensors"]?.sha256, try SHA256.hex(fileAt: model))
        XCTAssertEqual(c2.manifest.files["model.safetensors"]?.bytes, FileIO.fileSize(model))
        let st = try SafeTensors.read(model)
        XCTAssertEqual(st.metadata["tag"], "bb")
        XCTAssertEqual(st.tensor("w")?.values, [1, 2])
        XCTAssertEqual(try s.load("step-0000100"), c1)
        XCTAssertEqual(try hidden(s), [])
    }

    func testNewestIsBySequenceNotName() throws {
        let s = try store("sequence")
        try s.write(name: "b", files: files("1"))
        try s.write(name: "a", files: files("2"))
        XCTAssertEqual(s.latestValid()?.name, "a")
        XCTAssertEqual(s.list().map(\.name), ["b", "a"])
    }

    func testEveryFaultPointKeepsPreviousCheckpoint() throws {
        for point in FaultPoint.allCases {
            let good = try store("fault-\(point.rawValue)")
            try good.write(name: "step-1", files: files("old"))
            let crashing = try CheckpointStore(root: good.root, config: .init(fault: point))
            XCTAssertThrowsError(try crashing.write(name: "step-2", files: files("new")), "\(point)") { e in
                XCTAssertTrue(CheckpointStore.isInjectedFault(e), "\(point): \(e)")
            }
            XCTAssertEqual(good.latestPointer(), "step-1", "\(point): latest moves only after the rename")
            XCTAssertNoThrow(try good.verify("step-1"), "\(point)")
            if point == .afterRename {
                XCTAssertEqual(good.latestValid()?.name, "step-2", "a renamed checkpoint is complete")
            } else {
                XCTAssertEqual(try hidden(good).count, 1, "\(point): the crash leaves its temp directory")
                XCTAssertFalse(FileIO.isDirectory(good.url(of: "step-2")), "\(point)")
                XCTAssertEqual(good.latestValid()?.name, "step-1", "\(point)")
            }
            XCTAssertEqual(try hidden(good), [], "\(point): latestValid cleans leftovers")
            try good.write(name: "step-2", files: files("retry"))
            XCTAssertEqual(good.latestValid()?.name, "step-2", "\(point): writing again works")
        }
    }

    func testMidFileFaultLeavesHalfAFile() throws {
        let s = try store("midfile")
        try s.write(name: "step-1", files: files("old"))
        let crashing = try CheckpointStore(root: s.root, config: .init(fault: .midFile))
        let payload = Data(repeating: 7, count: 1000)
        XCTAssertThrowsError(try crashing.write(name: "step-2", files: [.data("big.bin", payload)]))
        let tmp = s.root.appendingPathComponent(".tmp-step-2-\(getpid())/big.bin")
        XCTAssertEqual(FileIO.fileSize(tmp), 500)
        XCTAssertEqual(s.latestValid()?.name, "step-1")
    }

    func testFlippedByteIsRefusedAndSkipped() throws {
        let s = try store("flip")
        try s.write(name: "step-1", files: files("one"))
        let c2 = try s.write(name: "step-2", files: files("two"))
        let model = c2.url(for: "model.safetensors")
        var bytes = try Data(contentsOf: model)
        bytes[bytes.count - 3] ^= 0x01
        try bytes.write(to: model)
        assertStrataError(.format, ["step-2", "'model.safetensors' is corrupted", "sha256"]) { try s.verify("step-2") }
        var skipped: [String] = []
        XCTAssertEqual(s.latestValid { name, _ in skipped.append(name) }?.name, "step-1")
        XCTAssertEqual(skipped, ["step-2"])
    }

    func testTruncatedMissingAndIncompleteCheckpoints() throws {
        let s = try store("damaged")
        let c = try s.write(name: "step-1", files: files("one"))
        let state = c.url(for: "trainer_state.json")
        try Data("{}".utf8).write(to: state)
        assertStrataError(.format, ["'trainer_state.json' is 2 bytes"]) { try s.verify("step-1") }
        try FileManager.default.removeItem(at: state)
        assertStrataError(.format, ["'trainer_state.json'", "missing"]) { try s.verify("step-1") }
        try FileManager.default.removeItem(at: c.url(for: "manifest.json"))
        assertStrataError(.format, ["incomplete checkpoint", "step-1"]) { try s.verify("step-1") }
        assertStrataError(.io, ["no checkpoint named 'nope'"]) { try s.verify("nope") }
        XCTAssertNil(s.latestValid())
    }

    func testRetentionKeepsLastKBestAndStable() throws {
        let s = try store("retention", keepLast: 2)
        let losses: [Double] = [3.0, 1.5, 2.0, 2.5, 1.8, 1.9]
        var becameBest: [Bool] = []
        for (i, loss) in losses.enumerated() {
            let name = "step-\(i + 1)"
            try s.write(name: name, files: files(name))
            becameBest.append(try s.recordValidationLoss(loss, for: name))
            if i == 2 { try s.markStable(name) }
        }
        XCTAssertEqual(becameBest, [true, true, false, false, false, false])
        XCTAssertEqual(s.list().map(\.name), ["step-2", "step-3", "step-5", "step-6"])
        XCTAssertEqual(try s.marks(), CheckpointMarks(best: "step-2", bestValidationLoss: 1.5, stable: ["step-3"]))
        try s.unmarkStable("step-3")
        XCTAssertEqual(try s.prune(), ["step-3"])
        XCTAssertEqual(s.list().map(\.name), ["step-2", "step-5", "step-6"])
        for name in ["step-2", "step-5", "step-6"] { XCTAssertNoThrow(try s.verify(name)) }
        assertStrataError(.config, ["no complete checkpoint named 'step-1'"]) { try s.markStable("step-1") }
        assertStrataError(.numeric, ["nan"]) { try s.recordValidationLoss(.nan, for: "step-6") }
        assertStrataError(.config, ["keepLast is 1"]) { try CheckpointStore(root: s.root, config: .init(keepLast: 1)) }
    }

    func testLeftoversAreIgnoredAndCleaned() throws {
        let s = try store("leftovers")
        try s.write(name: "step-1", files: files("one"))
        let tmp = s.root.appendingPathComponent(".tmp-step-2-424242")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: true)
        try Data("partial".utf8).write(to: tmp.appendingPathComponent("model.safetensors"))
        try Data("step-2\n".utf8).write(to: s.root.appendingPathComponent(".latest.tmp-424242"))
        XCTAssertEqual(s.list().map(\.name), ["step-1"])
        XCTAssertEqual(s.latestValid()?.name, "step-1")
        XCTAssertEqual(try hidden(s), [])
    }

    func testOverwriteAndRestoreMovedAside() throws {
        let s = try store("overwrite")
        try s.write(name: "step-1", files: files("first"))
        let again = try s.write(name: "step-1", files: files("second!"))
        XCTAssertEqual(try SafeTensors.read(again.url(for: "model.safetensors")).metadata["tag"], "second!")
        XCTAssertEqual(try hidden(s), [])
        // A crash between moving the old copy aside and renaming the new one in:
        try FileIO.renameItem(s.url(of: "step-1"), to: s.root.appendingPathComponent(".old-step-1-31337"))
        XCTAssertNil(s.list().first)
        XCTAssertEqual(s.latestValid()?.name, "step-1", "the moved-aside copy is put back")
    }

    func testWriteErrorLeavesTrailIntact() throws {
        let s = try store("diskfull")
        try s.write(name: "step-1", files: files("one"))
        let failing = CheckpointFile(name: "optimizer.bin") { sink in
            try sink.write(Data(repeating: 1, count: 64))
            throw StrataError.io("write optimizer.bin", "No space left on device (errno 28)", fix: "free disk space and retry")
        }
        assertStrataError(.io, ["No space left"]) { try s.write(name: "step-2", files: files("two") + [failing]) }
        XCTAssertEqual(try hidden(s), [], "a real error removes its temp directory")
        XCTAssertEqual(s.latestPointer(), "step-1")
        XCTAssertEqual(s.latestValid()?.name, "step-1")

        let blocker = s.root.appendingPathComponent("not-a-dir")
        try Data().write(to: blocker)
        let broken = try CheckpointStore(root: blocker.appendingPathComponent("checkpoints"))
        assertStrataError(.io, ["cannot create directory"]) { try broken.write(name: "step-1", files: files("x")) }
    }

    #if os(Linux)
    func testFileSinkReportsDiskFull() throws {
        let sink = try FileSink(creating: "/dev/full", op: "disk full test")
        assertStrataError(.io, ["/dev/full", "free disk space"]) { try sink.write(Data(repeating: 0, count: 8192)); try sink.sync() }
    }
    #endif

    func testNameRules() throws {
        let s = try store("names")
        for bad in ["", ".hidden", "../escape", "a/b", "latest", "marks.json", "-dash", "sp ace"] {
            assertStrataError(.config, ["invalid checkpoint name"]) { try s.write(name: bad, files: files("x")) }
        }
        assertStrataError(.config, ["manifest.json"]) { try s.write(name: "ok", files: [.data("manifest.json", Data())]) }
        assertStrataError(.config, ["listed twice"]) { try s.write(name: "ok", files: [.data("a", Data()), .data("a", Data())]) }
        assertStrataError(.config, ["at least one file"]) { try s.write(name: "ok", files: []) }
        XCTAssertEqual(s.list(), [])
    }
}
