// TFRecord framing, the container of TensorBoard event files: each record is
// length (u64 little-endian), masked CRC32C of those 8 bytes, the data, masked
// CRC32C of the data. `frame` builds one record; `records` reads a whole file's
// bytes back, checking both CRCs and refusing a truncated tail.
// Leaves out: compression (GZIP/ZLIB record files), streaming reads.

import Foundation
import StrataCore

public enum TFRecord {
    /// One framed record holding `payload`.
    public static func frame(_ payload: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(payload.count + 16)
        let length = littleEndian(UInt64(payload.count))
        out += length
        out += littleEndian(CRC32C.maskedChecksum(length))
        out += payload
        out += littleEndian(CRC32C.maskedChecksum(payload))
        return out
    }

    /// The payloads of every record in `bytes`; `file` names the source in errors.
    public static func records(_ bytes: [UInt8], file: String) throws -> [[UInt8]] {
        var out = [[UInt8]](), at = 0
        while at < bytes.count {
            guard bytes.count - at >= 12 else {
                throw truncated(file, at, "a record header needs 12 bytes, \(bytes.count - at) remain")
            }
            let lengthBytes = Array(bytes[at..<at + 8])
            guard readU32(bytes, at + 8) == CRC32C.maskedChecksum(lengthBytes) else {
                throw StrataError.format("read TFRecord \(file)", "record at byte \(at): length CRC does not match",
                                         fix: "the file is corrupt; rewrite it")
            }
            let length = lengthBytes.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            let start = at + 12
            guard length <= UInt64(bytes.count - start), bytes.count - start - Int(length) >= 4 else {
                throw truncated(file, at, "the record claims \(length) bytes of data plus a 4-byte CRC, \(bytes.count - start) remain")
            }
            let payload = Array(bytes[start..<start + Int(length)])
            guard readU32(bytes, start + Int(length)) == CRC32C.maskedChecksum(payload) else {
                throw StrataError.format("read TFRecord \(file)", "record at byte \(at): data CRC does not match",
                                         fix: "the file is corrupt; rewrite it")
            }
            out.append(payload)
            at = start + Int(length) + 4
        }
        return out
    }

    static func littleEndian<T: FixedWidthInteger>(_ v: T) -> [UInt8] {
        (0..<(T.bitWidth / 8)).map { UInt8(truncatingIfNeeded: v >> ($0 * 8)) }
    }

    private static func readU32(_ b: [UInt8], _ at: Int) -> UInt32 {
        (0..<4).reduce(UInt32(0)) { $0 | UInt32(b[at + $1]) << ($1 * 8) }
    }

    private static func truncated(_ file: String, _ at: Int, _ what: String) -> StrataError {
        StrataError.format("read TFRecord \(file)", "record at byte \(at) is truncated: \(what)",
                           fix: "the writer was interrupted mid-record; records before byte \(at) are intact")
    }
}
