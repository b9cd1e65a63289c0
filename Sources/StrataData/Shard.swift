// A token shard opened for reading through mmap (Glibc or Darwin): the header
// is validated once (magic, version, dtype, size against count), then every token
// is checked below the header's vocabulary size (one vectorised max-scan per open:
// a corrupt id must never reach an embedding lookup), and tokens are then read
// straight from the mapping. `verify(against:)` checks the body against the SHA-256
// its sidecar recorded, so a shard changed since `data prepare` is noticed on resume.
// Immutable after init, so it is safe to share across threads.
// Leaves out: writing (ShardWriter), remote storage.

import Foundation
import StrataCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class Shard: @unchecked Sendable {
    public let url: URL
    public let header: ShardHeader
    private let mapping: UnsafeMutableRawPointer?
    private let mappedLength: Int
    private let body: UnsafeRawPointer?

    public var count: Int { header.count }
    public var dtype: ShardDType { header.dtype }
    public var vocabSize: Int { header.vocabSize }

    /// Map `url` and validate its header. Every violation is a `StrataError` naming the file.
    public init(contentsOf url: URL) throws {
        self.url = url
        let op = "read shard \(url.path)"
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else {
            throw StrataError.io(op, "cannot open the file (errno \(errno))", fix: "check the path; shards come from `strata data prepare`")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StrataError.io(op, "cannot stat the file (errno \(errno))") }
        let size = Int(st.st_size)
        guard size >= ShardHeader.byteCount else {
            throw StrataError.format(op, "file is \(size) bytes, shorter than the \(ShardHeader.byteCount)-byte header",
                                     fix: "the file is truncated or not a shard; run `strata data prepare` again")
        }
        guard let m = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), m != MAP_FAILED else {
            throw StrataError.io(op, "mmap failed (errno \(errno))")
        }
        do {
            header = try ShardHeader.decode(UnsafeRawBufferPointer(start: m, count: ShardHeader.byteCount),
                                            fileSize: size, file: url.path)
        } catch {
            munmap(m, size)
            throw error
        }
        mapping = m
        mappedLength = size
        body = UnsafeRawPointer(m) + ShardHeader.byteCount
        try validateTokens()
    }

    deinit {
        if let mapping { munmap(mapping, mappedLength) }
    }

    /// The token at `index` (0..<count).
    public subscript(index: Int) -> Int {
        precondition(index >= 0 && index < count, "Shard index \(index) out of range 0..<\(count)")
        switch header.dtype {
        case .uint16: return Int(UInt16(littleEndian: body!.load(fromByteOffset: index * 2, as: UInt16.self)))
        case .uint32: return Int(UInt32(littleEndian: body!.load(fromByteOffset: index * 4, as: UInt32.self)))
        }
    }

    /// Tokens in `range` as Int32.
    public func tokens(in range: Range<Int>) -> [Int32] {
        [Int32](unsafeUninitializedCapacity: range.count) { buf, n in
            copy(range, into: buf.baseAddress!)
            n = range.count
        }
    }

    /// Copy tokens in `range` into `destination` (which has room for range.count values).
    public func copy(_ range: Range<Int>, into destination: UnsafeMutablePointer<Int32>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "Shard range \(range) out of 0..<\(count)")
        guard !range.isEmpty, let body else { return }
        switch header.dtype {
        case .uint16:
            let src = body.assumingMemoryBound(to: UInt16.self) + range.lowerBound
            for i in 0..<range.count { destination[i] = Int32(UInt16(littleEndian: src[i])) }
        case .uint32:
            let src = body.assumingMemoryBound(to: UInt32.self) + range.lowerBound
            for i in 0..<range.count { destination[i] = Int32(bitPattern: UInt32(littleEndian: src[i])) }
        }
    }

    /// Checks every token is below the header's vocabulary size (done on open; O(count), vectorised).
    public func validateTokens() throws {
        guard count > 0, let body else { return }
        let largest: Int
        switch header.dtype {
        case .uint16: largest = Int(Self.maxLittleEndian(UnsafeBufferPointer(start: body.assumingMemoryBound(to: UInt16.self), count: count)))
        case .uint32: largest = Int(Self.maxLittleEndian(UnsafeBufferPointer(start: body.assumingMemoryBound(to: UInt32.self), count: count)))
        }
        guard largest >= vocabSize else { return }
        let position = (0..<count).first { self[$0] >= vocabSize } ?? 0
        throw StrataError.format("read shard \(url.path)",
                                 "token \(self[position]) at position \(position) is not below the vocabulary size \(vocabSize) "
                                    + "in the header (largest id in the file: \(largest))",
                                 fix: "the shard is corrupt; delete it and run `strata data prepare` again (a run re-creates "
                                    + "the shards of its data/ directory when they are missing)")
    }

    /// The largest value (read as little-endian) in `values`; a plain loop over lanes LLVM vectorises.
    static func maxLittleEndian<T: FixedWidthInteger & UnsignedInteger>(_ values: UnsafeBufferPointer<T>) -> T {
        var lanes = (T.zero, T.zero, T.zero, T.zero, T.zero, T.zero, T.zero, T.zero)
        let n = values.count, full = n & ~7
        var i = 0
        while i < full {
            lanes.0 = max(lanes.0, T(littleEndian: values[i])); lanes.1 = max(lanes.1, T(littleEndian: values[i + 1]))
            lanes.2 = max(lanes.2, T(littleEndian: values[i + 2])); lanes.3 = max(lanes.3, T(littleEndian: values[i + 3]))
            lanes.4 = max(lanes.4, T(littleEndian: values[i + 4])); lanes.5 = max(lanes.5, T(littleEndian: values[i + 5]))
            lanes.6 = max(lanes.6, T(littleEndian: values[i + 6])); lanes.7 = max(lanes.7, T(littleEndian: values[i + 7]))
            i += 8
        }
        var m = max(max(max(lanes.0, lanes.1), max(lanes.2, lanes.3)), max(max(lanes.4, lanes.5), max(lanes.6, lanes.7)))
        while i < n { m = max(m, T(littleEndian: values[i])); i += 1 }
        return m
    }

    /// Checks this shard against the sidecar `data prepare` wrote with it: token count, dtype and the
    /// SHA-256 of the token bytes. A mismatch means the shard changed after it was prepared.
    public func verify(against sidecar: ShardSidecar, sidecarURL: URL? = nil) throws {
        let op = "check shard \(url.path) against \((sidecarURL ?? self.sidecarURL).lastPathComponent)"
        let fix = "the shard changed since `strata data prepare` wrote it; delete it (and its .json) to re-create it, "
            + "or restore the original"
        guard sidecar.tokenCount == count, sidecar.dtype == dtype else {
            throw StrataError.data(op, "the shard holds \(count) \(dtype.rawValue) tokens but its sidecar records "
                                   + "\(sidecar.tokenCount) \(sidecar.dtype.rawValue)", fix: fix)
        }
        let digest = bodySHA256()
        guard digest == sidecar.tokensSHA256 else {
            throw StrataError.data(op, "the token bytes hash to sha256 \(digest) but the sidecar records \(sidecar.tokensSHA256)", fix: fix)
        }
    }

    /// SHA-256 of the token bytes (the file after its header), as the sidecar records it.
    public func bodySHA256() -> String {
        var h = SHA256()
        if let body, count > 0 { h.update(UnsafeRawBufferPointer(start: body, count: count * dtype.byteWidth)) }
        return h.hexDigest()
    }

    /// Where `strata data prepare` writes this shard's JSON sidecar.
    public var sidecarURL: URL { url.deletingPathExtension().appendingPathExtension("json") }
}
