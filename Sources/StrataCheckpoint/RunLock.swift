// RunLock: one process at a time per run directory. `acquire` opens `<runDir>/.lock`
// and takes an exclusive, non-blocking flock(2) on it for the lock's lifetime; the file
// then holds who owns it (pid, host, start time, command) as JSON. A second process —
// or a second acquire in the same process, since flock belongs to the open file
// description — is refused with a StrataError naming the holder. The kernel drops a
// flock when its holder dies (kill -9 included), so a lock file left by a dead process
// is simply re-locked; its old contents are reported as `recovered`. The file is never
// unlinked (unlinking would let two processes lock two different inodes).
// Leaves out: network file systems where flock is not coherent across hosts (the holder's
// host is recorded so such a clash can at least be diagnosed), waiting for a lock.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import StrataCore

public final class RunLock: @unchecked Sendable {
    /// Who holds (or held) a run directory's lock, as written into the lock file.
    public struct Holder: Codable, Equatable, Sendable, CustomStringConvertible {
        public var pid: Int32
        public var host: String
        public var since: String
        public var command: String

        public var description: String { "pid \(pid) on host '\(host)' (since \(since): \(command))" }

        /// This process, now.
        public static func current(command: String) -> Holder {
            let f = ISO8601DateFormatter()
            return Holder(pid: getpid(), host: ProcessInfo.processInfo.hostName, since: f.string(from: Date()), command: command)
        }
    }

    public static let fileName = ".lock"

    public let url: URL
    public let holder: Holder
    /// The previous holder when the lock file still named a process that had since died or
    /// released it without clearing the file (a crash, kill -9); nil for a fresh or cleared file.
    public let recovered: Holder?
    private var fd: Int32

    private init(url: URL, fd: Int32, holder: Holder, recovered: Holder?) {
        self.url = url; self.fd = fd; self.holder = holder; self.recovered = recovered
    }

    deinit { release() }

    /// Takes the lock of `runDirectory` (created if missing) for as long as the returned
    /// object lives, or until `release()`. `command` describes the holder for whoever is refused
    /// (e.g. "strata pretrain --resume").
    public static func acquire(runDirectory: URL, command: String) throws -> RunLock {
        let url = runDirectory.appendingPathComponent(fileName)
        let op = "lock run directory \(runDirectory.path)"
        do {
            try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        } catch {
            throw StrataError.io(op, "cannot create the directory: \(error.localizedDescription)")
        }
        let fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileIO.posixError(op, "cannot open \(url.path)") }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            let previous = readHolder(fd)
            close(fd)
            guard code == EWOULDBLOCK else {
                errno = code
                throw FileIO.posixError(op, "flock on \(url.path) failed")
            }
            throw refusal(op: op, url: url, holder: previous)
        }
        let previous = readHolder(fd)
        let me = Holder.current(command: command)
        do {
            try writeHolder(me, fd: fd, url: url)
        } catch {
            close(fd)
            throw error
        }
        return RunLock(url: url, fd: fd, holder: me, recovered: previous)
    }

    /// Clears the holder from the file and drops the lock (also done when the object is freed).
    public func release() {
        guard fd >= 0 else { return }
        _ = ftruncate(fd, 0)
        _ = flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    public var isHeld: Bool { fd >= 0 }

    static func refusal(op: String, url: URL, holder: Holder?) -> StrataError {
        guard let holder else {
            return StrataError.io(op, "another process holds \(url.path) (it has not written its name yet)",
                                  fix: "wait for the other run to finish; two processes must not train in one run directory")
        }
        var msg = "the run directory is in use by \(holder)"
        if holder.host == ProcessInfo.processInfo.hostName && kill(holder.pid, 0) != 0 && errno == ESRCH {
            msg += "; pid \(holder.pid) is no longer running, so a process it started still holds the lock"
        }
        return StrataError.io(op, msg, fix: "wait for that run to finish or stop it (kill \(holder.pid)); "
                              + "two processes must not train in one run directory")
    }

    /// The holder recorded in the lock file, or nil when it is empty or not a holder record.
    static func readHolder(_ fd: Int32) -> Holder? {
        var bytes = [UInt8](repeating: 0, count: 4096)
        let n = pread(fd, &bytes, bytes.count, 0)
        guard n > 0 else { return nil }
        return try? JSONDecoder().decode(Holder.self, from: Data(bytes[0..<n]))
    }

    private static func writeHolder(_ h: Holder, fd: Int32, url: URL) throws {
        let op = "write \(url.path)"
        guard ftruncate(fd, 0) == 0 else { throw FileIO.posixError(op, "cannot truncate") }
        let data = try StrataJSON.encode(h)
        let written = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        guard written == data.count else { throw FileIO.posixError(op, "cannot record the lock holder") }
    }
}
