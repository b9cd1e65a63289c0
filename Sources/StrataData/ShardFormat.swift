// The token shard's on-disk layout. A shard is a 32-byte header followed by the
// tokens, little-endian, in one unsigned width:
//   bytes 0..<8   magic "STRATATK"
//   bytes 8..<12  format version (UInt32, currently 1)
//   bytes 12..<16 bytes per token (UInt32: 2 = uint16, 4 = uint32)
//   bytes 16..<24 token count (UInt64)
//   bytes 24..<32 vocabulary size the tokens were written for (UInt64)
// Leaves out: compression, per-document offsets (documents end with the EOS token).

import Foundation
import StrataCore

public enum ShardDType: String, Codable, Sendable, CaseIterable {
    case uint16, uint32

    /// Bytes per token on disk.
    public var byteWidth: Int { self == .uint16 ? 2 : 4 }

    /// Largest vocabulary this dtype can hold (ids must be < this). uint32 is capped at
    /// Int32.max + 1 because loaders hand tokens out as Int32.
    public var maxVocab: Int { self == .uint16 ? 65_536 : Int(Int32.max) + 1 }

    init?(byteWidth: Int) {
        switch byteWidth {
        case 2: self = .uint16
        case 4: self = .uint32
        default: return nil
        }
    }

    /// The narrowest dtype for `vocabSize`, or the requested one after checking it fits.
    public static func choose(vocabSize: Int, requested: ShardDType? = nil) throws -> ShardDType {
        guard vocabSize > 0 else {
            throw StrataError.config("choose shard dtype", "vocabulary size \(vocabSize) must be positive")
        }
        if let requested {
            guard vocabSize <= requested.maxVocab else {
                throw StrataError.config("choose shard dtype",
                    "a vocabulary of \(vocabSize) tokens does not fit \(requested.rawValue) shards (ids must be < \(requested.maxVocab))",
                    fix: "use dtype uint32 or leave the dtype unset so it is chosen from the vocabulary size")
            }
            return requested
        }
        if vocabSize <= ShardDType.uint16.maxVocab { return .uint16 }
        guard vocabSize <= ShardDType.uint32.maxVocab else {
            throw StrataError.config("choose shard dtype",
                "a vocabulary of \(vocabSize) tokens is larger than uint32 shards hold (\(ShardDType.uint32.maxVocab))",
                fix: "use a smaller tokenizer")
        }
        return .uint32
    }
}

public struct ShardHeader: Equatable, Sendable {
    public static let magic: [UInt8] = Array("STRATATK".utf8)
    public static let currentVersion: UInt32 = 1
    public static let byteCount = 32

    public var version: UInt32
    public var dtype: ShardDType
    public var count: Int
    public var vocabSize: Int

    public init(dtype: ShardDType, count: Int, vocabSize: Int, version: UInt32 = ShardHeader.currentVersion) {
        self.version = version
        self.dtype = dtype
        self.count = count
        self.vocabSize = vocabSize
    }

    /// The header's 32 bytes.
    public func encoded() -> [UInt8] {
        var out = ShardHeader.magic
        out += littleEndianBytes(UInt64(version), width: 4)
        out += littleEndianBytes(UInt64(dtype.byteWidth), width: 4)
        out += littleEndianBytes(UInt64(count), width: 8)
        out += littleEndianBytes(UInt64(vocabSize), width: 8)
        return out
    }

    /// Parse and validate a header against the file's total size. Each rule broken is its own error.
    public static func decode(_ bytes: UnsafeRawBufferPointer, fileSize: Int, file: String) throws -> ShardHeader {
        let op = "read shard \(file)"
        guard fileSize >= byteCount, bytes.count >= byteCount else {
            throw StrataError.format(op, "file is \(fileSize) bytes, shorter than the \(byteCount)-byte header",
                                     fix: "the file is truncated or not a shard; run `strata data prepare` again")
        }
        guard Array(bytes[0..<8]) == magic else {
            let seen = bytes[0..<8].map { String(format: "%02x", $0) }.joined()
            throw StrataError.format(op, "wrong magic bytes \(seen) (expected \"STRATATK\")",
                                     fix: "this is not a Strata token shard; create one with `strata data prepare`")
        }
        let version = UInt32(truncatingIfNeeded: readLE(bytes, at: 8, width: 4))
        guard version == currentVersion else {
            throw StrataError.format(op, "unsupported shard version \(version) (this build reads version \(currentVersion))",
                                     fix: "re-create the shard with this version of strata")
        }
        let width = Int(readLE(bytes, at: 12, width: 4))
        guard let dtype = ShardDType(byteWidth: width) else {
            throw StrataError.format(op, "unknown token width \(width) bytes (expected 2 for uint16 or 4 for uint32)",
                                     fix: "the header is corrupt; re-create the shard")
        }
        let count64 = readLE(bytes, at: 16, width: 8)
        let vocab64 = readLE(bytes, at: 24, width: 8)
        guard vocab64 > 0, vocab64 <= UInt64(dtype.maxVocab) else {
            throw StrataError.format(op, "vocabulary size \(vocab64) in the header does not fit dtype \(dtype.rawValue)",
                                     fix: "the header is corrupt; re-create the shard")
        }
        let body = UInt64(fileSize - byteCount)
        if count64 > body / UInt64(width) || count64 * UInt64(width) != body {
            let truncated = count64 > body / UInt64(width)
            throw StrataError.format(op,
                "\(truncated ? "truncated body" : "trailing bytes after the tokens"): header says \(count64) \(dtype.rawValue) tokens "
                + "but the file holds \(body) bytes after the header (\(body / UInt64(width)) tokens)",
                fix: "the file was cut short or appended to; re-create it with `strata data prepare`")
        }
        return ShardHeader(dtype: dtype, count: Int(count64), vocabSize: Int(vocab64), version: version)
    }

    private static func readLE(_ b: UnsafeRawBufferPointer, at offset: Int, width: Int) -> UInt64 {
        var v: UInt64 = 0
        for i in 0..<width { v |= UInt64(b[offset + i]) << UInt64(8 * i) }
        return v
    }
}

@inline(__always)
func littleEndianBytes(_ v: UInt64, width: Int) -> [UInt8] {
    (0..<width).map { UInt8(truncatingIfNeeded: v >> UInt64(8 * $0)) }
}
