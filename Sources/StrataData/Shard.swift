// A token shard opened for reading through mmap (Glibc or Darwin): the header
// is validated once (magic, version, dtype, size against count) and tokens are
// then read straight from the mapping. Immutable after init, so it is safe to
// share across threads. Leaves out: writing (ShardWriter), remote storage.

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

    /// Scan every token and check it is below the header's vocabulary size (O(count)).
    public func validateTokens() throws {
        for i in 0..<count where self[i] >= vocabSize {
            throw StrataError.format("validate shard \(url.path)",
                                     "token \(self[i]) at position \(i) is not below the vocabulary size \(vocabSize)",
                                     fix: "the shard is corrupt; re-create it")
        }
    }

    /// Where `strata data prepare` writes this shard's JSON sidecar.
    public var sidecarURL: URL { url.deletingPathExtension().appendingPathExtension("json") }
}
