// RunLock: one holder per run directory. In-process (a second open file description is
// refused like a second process would be), release and re-acquire, a lock file left by a
// dead holder recovered, and a real second process (util-linux flock(1)) holding the lock
// and then killed with SIGKILL.
// Leaves out: network file systems.

import Foundation
import XCTest
import StrataCore
@testable import StrataCheckpoint
import StrataTestSupport

final class RunLockTests: XCTestCase {
    override class func tearDown() { TestFiles.removeTempDirs() }

    func testSecondAcquireIsRefusedNamingTheHolder() throws {
        let dir = try TestFiles.makeTempDir("lock-twice").appendingPathComponent("run")
        let first = try RunLock.acquire(runDirectory: dir, command: "strata pretrain --resume")
        XCTAssertTrue(first.isHeld)
        XCTAssertNil(first.recovered)
        assertStrataError(.io, ["in use by pid \(getpid())", ProcessInfo.processInfo.hostName, "strata pretrain --resume",
                                dir.path, "two processes must not train"]) {
            try RunLock.acquire(runDirectory: dir, command: "second")
        }
        let onDisk = try JSONDecoder().decode(RunLock.Holder.self, from: Data(contentsOf: dir.appendingPathComponent(".lock")))
        XCTAssertEqual(onDisk, first.holder)
        first.release()
        XCTAssertFalse(first.isHeld)
        let again = try RunLock.acquire(runDirectory: dir, command: "third")
        XCTAssertNil(again.recovered, "a released lock leaves no holder behind")
        XCTAssertEqual(again.holder.command, "third")
    }

    func testLockIsDroppedWhenTheObjectIsFreed() throws {
        let dir = try TestFiles.makeTempDir("lock-scope")
        do { _ = try RunLock.acquire(runDirectory: dir, command: "scoped") }
        XCTAssertNoThrow(try RunLock.acquire(runDirectory: dir, command: "next"))
    }

    func testStaleLockFileFromADeadProcessIsRecovered() throws {
        let dir = try TestFiles.makeTempDir("lock-stale")
        let dead = RunLock.Holder(pid: 999_999, host: "old-host", since: "2026-01-01T00:00:00Z", command: "crashed run")
        try StrataJSON.encode(dead).write(to: dir.appendingPathComponent(RunLock.fileName))
        let lock = try RunLock.acquire(runDirectory: dir, command: "resume")
        XCTAssertEqual(lock.recovered, dead)
        XCTAssertEqual(lock.holder.pid, getpid())
    }

    func testAnotherProcessHoldsTheLockUntilKilled() throws {
        let flockTool = "/usr/bin/flock"
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: flockTool), "util-linux flock(1) is not installed")
        let dir = try TestFiles.makeTempDir("lock-child")
        let file = dir.appendingPathComponent(RunLock.fileName)
        FileManager.default.createFile(atPath: file.path, contents: nil)
        let child = Process()
        child.executableURL = URL(fileURLWithPath: flockTool)
        // -o: the lock is held by flock(1) alone (not inherited by sleep), so SIGKILL to it drops the lock.
        child.arguments = ["-n", "-o", file.path, "sleep", "10"]
        try child.run()
        defer { if child.isRunning { kill(child.processIdentifier, SIGKILL) } }
        XCTAssertTrue(waitUntilLocked(file), "the child never took the lock")
        let holder = RunLock.Holder(pid: child.processIdentifier, host: ProcessInfo.processInfo.hostName, since: "now", command: "child")
        try StrataJSON.encode(holder).write(to: file)
        assertStrataError(.io, ["in use by pid \(child.processIdentifier)", "child)"]) {
            try RunLock.acquire(runDirectory: dir, command: "parent")
        }
        kill(child.processIdentifier, SIGKILL)
        // The kernel drops the dead holder's flock; poll (not waitUntilExit, which waits for flock's own child).
        var lock: RunLock?
        for _ in 0..<100 where lock == nil {
            lock = try? RunLock.acquire(runDirectory: dir, command: "after kill -9")
            if lock == nil { usleep(50_000) }
        }
        XCTAssertEqual(try XCTUnwrap(lock, "the lock of the killed process was never released").recovered?.pid, child.processIdentifier)
    }

    /// Polls (up to 5 s) until someone else holds a flock on `file`.
    private func waitUntilLocked(_ file: URL) -> Bool {
        for _ in 0..<100 {
            let fd = open(file.path, O_RDONLY)
            defer { close(fd) }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 { return true }
            flock(fd, LOCK_UN)
            usleep(50_000)
        }
        return false
    }
}
