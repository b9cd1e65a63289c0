// Low-level file plumbing for crash-safe checkpoints: byte sinks (a POSIX file
// descriptor with full writes and EINTR retry, an in-memory buffer), fsync of files
// and directories (F_FULLFSYNC on Darwin), atomic replace of one file (temp file +
// fsync + rename + fsync of the directory) and read-only memory mapping.
// Leaves out: Windows, O_DIRECT, asynchronous I/O, file locking (one writer per run).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import StrataCore

/// Something that accepts bytes in order: a file, a hashing checkpoint file, memory.
public protocol ByteSink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
}

extension ByteSink {
    public func write(_ data: Data) throws { try data.withUnsafeBytes { try write($0) } }
    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }
}

/// Collects bytes in memory (used to encode a safetensors file into `Data`).
public final class DataSink: ByteSink {
    public private(set) var data = Data()
    public init() {}
    public func write(_ bytes: UnsafeRawBufferPointer) throws { data.append(contentsOf: bytes) }
}

/// A file opened for writing through a raw descriptor, so it can be fsynced.
public final class FileSink: ByteSink {
    public let path: String
    private var fd: Int32

    /// Creates (or truncates) the file at `path`.
    public init(creating path: String, op: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw FileIO.posixError(op, "cannot create \(path)") }
    }

    deinit { if fd >= 0 { _ = FileIO.closeDescriptor(fd) } }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard var p = bytes.baseAddress, bytes.count > 0 else { return }
        guard fd >= 0 else { throw StrataError.io("write \(path)", "file is already closed") }
        var left = bytes.count
        while left > 0 {
            let n = FileIO.writeDescriptor(fd, p, min(left, 1 << 30))
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { throw FileIO.posixError("write \(path)", "write failed with \(left) bytes left") }
            p += n
            left -= n
        }
    }

    /// Flushes the file's data and size to stable storage.
    public func sync() throws {
        if FileIO.syncDescriptor(fd) != 0 { throw FileIO.posixError("fsync \(path)", "fsync failed") }
    }

    public func close() throws {
        guard fd >= 0 else { return }
        let rc = FileIO.closeDescriptor(fd)
        fd = -1
        if rc != 0 { throw FileIO.posixError("close \(path)", "close failed (data may not have reached the disk)") }
    }
}

/// Free functions over paths, grouped so nothing is global.
public enum FileIO {
    static func posixError(_ op: String, _ what: String) -> StrataError {
        let code = errno
        let reason = String(cString: strerror(code))
        let fix = code == ENOSPC ? "free disk space and retry" : nil
        return StrataError.io(op, "\(what): \(reason) (errno \(code))", fix: fix)
    }

    static func closeDescriptor(_ fd: Int32) -> Int32 { close(fd) }
    static func writeDescriptor(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }

    static func syncDescriptor(_ fd: Int32) -> Int32 {
        #if canImport(Darwin)
        if fcntl(fd, F_FULLFSYNC) == 0 { return 0 }
        #endif
        while true {
            let rc = fsync(fd)
            if rc != 0 && errno == EINTR { continue }
            return rc
        }
    }

    /// fsync an existing file or directory by path (a read-only descriptor suffices).
    public static func sync(_ url: URL, directory: Bool = false) throws {
        let flags = O_RDONLY | O_CLOEXEC | (directory ? O_DIRECTORY : 0)
        let fd = open(url.path, flags)
        if fd < 0 { throw posixError("fsync \(url.path)", "cannot open for fsync") }
        defer { _ = close(fd) }
        if syncDescriptor(fd) != 0 { throw posixError("fsync \(url.path)", "fsync failed") }
    }

    /// rename(2): atomic within one file system; replaces a file target.
    public static func renameItem(_ from: URL, to: URL) throws {
        if rename(from.path, to.path) != 0 {
            throw posixError("rename \(from.path)", "cannot rename to \(to.path)")
        }
    }

    /// Writes a file so readers see either the old or the new content, never a mix:
    /// temp file beside it, fsync, rename over the target, fsync the directory.
    public static func writeAtomically(to url: URL, op: String, _ body: (FileSink) throws -> Void) throws {
        let dir = url.deletingLastPathComponent()
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        let file = try FileSink(creating: tmp.path, op: op)
        do {
            try body(file)
            try file.sync()
            try file.close()
            try renameItem(tmp, to: url)
            try sync(dir, directory: true)
        } catch {
            try? file.close()
            _ = unlink(tmp.path)
            throw error
        }
    }

    public static func writeAtomically(_ data: Data, to url: URL, op: String) throws {
        try writeAtomically(to: url, op: op) { try $0.write(data) }
    }

    /// Maps a regular file read-only. The mapping lives as long as the returned Data.
    /// Falls back to one read if mmap fails. A file truncated by another process while
    /// mapped can still fault (SIGBUS); Strata replaces files by rename, never in place.
    public static func mapFile(_ url: URL, op: String) throws -> Data {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw posixError(op, "cannot open \(url.path)") }
        defer { _ = close(fd) }
        var st = stat()
        if fstat(fd, &st) != 0 { throw posixError(op, "cannot stat \(url.path)") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw StrataError.io(op, "\(url.path) is not a regular file") }
        let size = Int(st.st_size)
        if size == 0 { return Data() }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != UnsafeMutableRawPointer(bitPattern: -1) else {
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw StrataError.io(op, "cannot read \(url.path)")
            }
            return data
        }
        return Data(bytesNoCopy: p, count: size, deallocator: .custom { ptr, n in _ = munmap(ptr, n) })
    }

    /// Size of a regular file, or nil when it does not exist.
    static func fileSize(_ url: URL) -> Int? {
        var st = stat()
        guard stat(url.path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int(st.st_size)
    }

    static func isDirectory(_ url: URL) -> Bool {
        var st = stat()
        return stat(url.path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }
}
