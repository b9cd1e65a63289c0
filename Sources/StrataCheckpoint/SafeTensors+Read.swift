// Reading safetensors files: the whole header is validated before any tensor
// memory is allocated. Rule groups, one function each, in the order they run:
//   1. preamble  – 8-byte little-endian header length, at most 100 MB, inside the file
//   2. header    – valid UTF-8, strict JSON (duplicate keys refused), an object
//   3. metadata  – optional "__metadata__" object of string values
//   4. entries   – known dtype, shape of non-negative ints, two ordered offsets,
//                  byte size = product(shape) × dtype size (overflow-checked)
//   5. layout    – offsets start at 0, contiguous (no gap, no overlap), and end exactly
//                  at the end of the file (no trailing bytes, no truncation)
// Unknown fields inside a tensor entry are ignored, as the reference implementation does.
// Leaves out: sharded checkpoints (model.safetensors.index.json), F8/U8/BOOL dtypes.

import Foundation
import StrataCore

public enum SafeTensors {
    /// Largest header accepted, in bytes (the reference implementation's limit).
    public static let maxHeaderBytes = 100_000_000
    static let metadataKey = "__metadata__"

    /// Maps the file and validates it. Tensors are converted to Float32 on access.
    public static func read(_ url: URL) throws -> SafeTensorsFile {
        let data = try FileIO.mapFile(url, op: "read safetensors \(url.path)")
        return try read(data: data, source: url.path)
    }

    /// Validates an in-memory file; `source` names it in error messages.
    public static func read(data: Data, source: String) throws -> SafeTensorsFile {
        let v = HeaderValidator(source: source)
        let total = data.count
        let headerBytes = try data.withUnsafeBytes { raw -> [UInt8] in
            let n = try v.checkPreamble(raw)
            return Array(raw[8..<(8 + n)])
        }
        let members = try v.parseHeader(headerBytes)
        let (metadata, tensorMembers) = try v.splitMetadata(members)
        let infos = try tensorMembers.map { try v.parseEntry(name: $0.key, $0.value) }
        let ordered = try v.checkLayout(infos, bufferBytes: total - 8 - headerBytes.count)
        return SafeTensorsFile(source: source, metadata: metadata, infos: ordered, bytes: data, dataStart: 8 + headerBytes.count)
    }
}

/// The validation rules, one function per rule group; every failure names the file.
struct HeaderValidator {
    let source: String
    var op: String { "read safetensors \(source)" }

    func fail(_ msg: String, fix: String? = nil) -> StrataError {
        StrataError.format(op, msg, fix: fix ?? "the file is not a valid safetensors file; re-export or re-download it")
    }

    // 1. Preamble: header length bounds.
    func checkPreamble(_ raw: UnsafeRawBufferPointer) throws -> Int {
        guard raw.count >= 8 else {
            throw fail("the file is \(raw.count) bytes, too short for the 8-byte header length")
        }
        let n = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard n <= UInt64(SafeTensors.maxHeaderBytes) else {
            throw fail("header length \(n) exceeds the \(SafeTensors.maxHeaderBytes)-byte limit")
        }
        guard n <= UInt64(raw.count - 8) else {
            throw fail("header length \(n) runs past the end of the file (\(raw.count - 8) bytes after the length field)",
                       fix: "the file is truncated or not safetensors; re-export or re-download it")
        }
        return Int(n)
    }

    // 2. Header: UTF-8, strict JSON, an object.
    func parseHeader(_ bytes: [UInt8]) throws -> [(key: String, value: JSONValue)] {
        if let bad = Self.firstInvalidUTF8(bytes) { throw fail("header is not valid UTF-8 (at header byte \(bad))") }
        let root: JSONValue
        do {
            root = try HeaderJSONParser.parse(bytes)
        } catch let .duplicateKey(key, depth, offset) {
            let what = depth == 1 ? "duplicate tensor name '\(key)'" : "duplicate key '\(key)'"
            throw fail("\(what) in the header (at header byte \(offset))")
        } catch let .syntax(msg, offset) {
            throw fail("header is not valid JSON: \(msg) at header byte \(offset)")
        } catch .tooDeep(let offset) {
            throw fail("header JSON nests deeper than \(HeaderJSONParser.maxDepth) levels (at header byte \(offset))")
        }
        guard case let .object(members) = root else { throw fail("header JSON is \(root.kindName), expected an object") }
        return members
    }

    static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var it = bytes.makeIterator()
        var decoder = UTF8()
        var offset = 0
        while true {
            switch decoder.decode(&it) {
            case .scalarValue(let s): offset += UTF8.width(s)
            case .emptyInput: return nil
            case .error: return offset
            }
        }
    }

    // 3. Metadata: an object of strings.
    func splitMetadata(_ members: [(key: String, value: JSONValue)]) throws
        -> ([String: String], [(key: String, value: JSONValue)]) {
        var metadata: [String: String] = [:]
        var tensors: [(key: String, value: JSONValue)] = []
        for m in members {
            guard m.key == SafeTensors.metadataKey else { tensors.append(m); continue }
            guard case let .object(pairs) = m.value else {
                throw fail("\"__metadata__\" is \(m.value.kindName), expected an object of strings")
            }
            for p in pairs {
                guard case let .string(s) = p.value else {
                    throw fail("metadata '\(p.key)' is \(p.value.kindName), expected a string")
                }
                metadata[p.key] = s
            }
        }
        return (metadata, tensors)
    }
}

extension HeaderValidator {
    // 4. Entries: dtype, shape, offsets, size.
    func parseEntry(name: String, _ value: JSONValue) throws -> TensorInfo {
        guard case let .object(fields) = value else { throw fail("tensor '\(name)': entry is \(value.kindName), expected an object") }
        func field(_ key: String) throws -> JSONValue {
            guard let f = fields.first(where: { $0.key == key }) else { throw fail("tensor '\(name)': missing \"\(key)\"") }
            return f.value
        }
        let dtype = try parseDType(name, try field("dtype"))
        let shape = try parseShape(name, try field("shape"))
        let range = try parseOffsets(name, try field("data_offsets"))
        try checkSize(name, dtype: dtype, shape: shape, range: range)
        return TensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: range)
    }

    func parseDType(_ name: String, _ v: JSONValue) throws -> DType {
        guard case let .string(s) = v else { throw fail("tensor '\(name)': dtype is \(v.kindName), expected a string") }
        guard let d = DType(rawValue: s) else {
            let known = DType.allCases.map(\.rawValue).joined(separator: ", ")
            throw fail("tensor '\(name)': unknown or unsupported dtype '\(s)' (supported: \(known))",
                       fix: "convert the checkpoint to F32, BF16 or F16")
        }
        return d
    }

    func parseShape(_ name: String, _ v: JSONValue) throws -> [Int] {
        guard case let .array(items) = v else { throw fail("tensor '\(name)': shape is \(v.kindName), expected an array") }
        return try items.enumerated().map { i, item in
            guard let n = item.exactInt, n >= 0 else {
                throw fail("tensor '\(name)': shape[\(i)] is \(Self.describe(item)), expected a non-negative integer")
            }
            return n
        }
    }

    func parseOffsets(_ name: String, _ v: JSONValue) throws -> Range<Int> {
        guard case let .array(items) = v, items.count == 2 else {
            throw fail("tensor '\(name)': data_offsets must be an array of two integers [begin, end]")
        }
        guard let b = items[0].exactInt, let e = items[1].exactInt, b >= 0, e >= 0 else {
            throw fail("tensor '\(name)': data_offsets [\(Self.describe(items[0])), \(Self.describe(items[1]))] must be non-negative integers")
        }
        guard b <= e else { throw fail("tensor '\(name)': data_offsets end \(e) is before begin \(b)") }
        return b..<e
    }

    func checkSize(_ name: String, dtype: DType, shape: [Int], range: Range<Int>) throws {
        var count = 1
        for d in shape {
            let (p, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw fail("tensor '\(name)': shape \(shape) has too many elements") }
            count = p
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw fail("tensor '\(name)': shape \(shape) is too large in bytes") }
        guard bytes == range.count else {
            throw fail("tensor '\(name)': shape \(shape) of \(dtype.rawValue) needs \(bytes) bytes but data_offsets [\(range.lowerBound), \(range.upperBound)] hold \(range.count)")
        }
    }

    static func describe(_ v: JSONValue) -> String {
        switch v {
        case .number(let t): return t
        case .string(let s): return "the string \"\(s)\""
        default: return v.kindName
        }
    }

    // 5. Layout: from 0, contiguous, ending exactly at the end of the file.
    func checkLayout(_ infos: [TensorInfo], bufferBytes: Int) throws -> [TensorInfo] {
        let sorted = infos.sorted {
            ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name)
        }
        var end = 0
        var previous: String?
        for t in sorted {
            let b = t.dataOffsets.lowerBound
            if b > end, let previous {
                throw fail("gap of \(b - end) bytes between tensor '\(previous)' (ends at \(end)) and tensor '\(t.name)' (begins at \(b))")
            }
            if b > end { throw fail("data offsets do not start at 0: the first tensor '\(t.name)' begins at \(b)") }
            if b < end, let previous {
                throw fail("tensor '\(t.name)' (bytes \(b)..<\(t.dataOffsets.upperBound)) overlaps tensor '\(previous)' (ends at \(end))")
            }
            end = t.dataOffsets.upperBound
            previous = t.name
        }
        if end < bufferBytes {
            throw fail("\(bufferBytes - end) trailing bytes after the last tensor (tensors end at \(end), data holds \(bufferBytes))")
        }
        if end > bufferBytes {
            throw fail("file is truncated: tensors need \(end) data bytes but only \(bufferBytes) follow the header",
                       fix: "the file was cut short; re-export or re-download it")
        }
        return sorted
    }
}
