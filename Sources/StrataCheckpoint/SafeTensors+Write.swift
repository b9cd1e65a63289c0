// Writing safetensors files: F32 or BF16 data with optional string metadata,
// tensors sorted by name (as Hugging Face's writer does) so the same tensors always
// give the same bytes, the JSON header padded with spaces so data starts 8-byte
// aligned. Tensors come either as [Float] (NamedTensor) or as closures lending a
// buffer (TensorSource), so a large model is streamed to disk without copies.
// Files are replaced atomically (temp + fsync + rename + fsync dir).
// Leaves out: F16/F64/integer output, sharding into several files.

import Foundation
import StrataCore

/// A tensor to write whose values are lent by a closure: `withValues` must call its
/// argument exactly once with a buffer of `product(shape)` Floats.
public struct TensorSource {
    public let name: String
    public let shape: [Int]
    public let withValues: ((UnsafeBufferPointer<Float>) throws -> Void) throws -> Void

    public init(name: String, shape: [Int], withValues: @escaping ((UnsafeBufferPointer<Float>) throws -> Void) throws -> Void) {
        self.name = name
        self.shape = shape
        self.withValues = withValues
    }

    public init(_ t: NamedTensor) {
        self.init(name: t.name, shape: t.shape) { body in try t.values.withUnsafeBufferPointer(body) }
    }
}

extension SafeTensors {
    /// Writes `tensors` to `url` atomically.
    public static func write(_ tensors: [NamedTensor], metadata: [String: String] = [:], dtype: DType = .f32, to url: URL) throws {
        try write(sources: tensors.map(TensorSource.init), metadata: metadata, dtype: dtype, to: url)
    }

    /// Writes tensors lent by closures to `url` atomically.
    public static func write(sources: [TensorSource], metadata: [String: String] = [:], dtype: DType = .f32, to url: URL) throws {
        try FileIO.writeAtomically(to: url, op: "write safetensors \(url.path)") { file in
            try write(sources: sources, metadata: metadata, dtype: dtype, into: file, label: url.path)
        }
    }

    /// The bytes of a safetensors file holding `tensors`.
    public static func encode(_ tensors: [NamedTensor], metadata: [String: String] = [:], dtype: DType = .f32) throws -> Data {
        let sink = DataSink()
        try write(sources: tensors.map(TensorSource.init), metadata: metadata, dtype: dtype, into: sink, label: "memory")
        return sink.data
    }

    /// Streams a safetensors file into any sink (a file, a checkpoint file, memory).
    public static func write(sources: [TensorSource], metadata: [String: String] = [:], dtype: DType = .f32,
                             into sink: ByteSink, label: String) throws {
        let op = "write safetensors \(label)"
        guard dtype == .f32 || dtype == .bf16 else {
            throw StrataError.config(op, "cannot write dtype \(dtype.rawValue)", fix: "use F32 or BF16")
        }
        let ordered = sources.sorted { $0.name < $1.name }
        let counts = try checkSources(ordered, op: op)
        let header = headerBytes(ordered, counts: counts, dtype: dtype, metadata: metadata)
        var prefix = [UInt8](repeating: 0, count: 8)
        withUnsafeBytes(of: UInt64(header.count).littleEndian) { prefix = Array($0) }
        try sink.write(prefix)
        try sink.write(header)
        for (source, count) in zip(ordered, counts) {
            try writeValues(source, count: count, dtype: dtype, into: sink, op: op)
        }
    }

    /// Names unique and not reserved, shapes non-negative, element counts without overflow.
    static func checkSources(_ sorted: [TensorSource], op: String) throws -> [Int] {
        var counts: [Int] = []
        for (i, s) in sorted.enumerated() {
            if s.name == metadataKey { throw StrataError.config(op, "a tensor cannot be named \"\(metadataKey)\"") }
            if i > 0 && sorted[i - 1].name == s.name { throw StrataError.config(op, "tensor name '\(s.name)' appears twice") }
            var count = 1
            for d in s.shape {
                guard d >= 0 else { throw StrataError.shape(op, "tensor '\(s.name)' has a negative dimension in shape \(s.shape)") }
                let (p, overflow) = count.multipliedReportingOverflow(by: d)
                guard !overflow, p <= Int.max / 8 else { throw StrataError.shape(op, "tensor '\(s.name)' shape \(s.shape) is too large") }
                count = p
            }
            counts.append(count)
        }
        return counts
    }

    /// The JSON header, padded with spaces so that 8 + its length is a multiple of 8.
    static func headerBytes(_ sorted: [TensorSource], counts: [Int], dtype: DType, metadata: [String: String]) -> [UInt8] {
        var parts: [String] = []
        if !metadata.isEmpty {
            let pairs = metadata.keys.sorted().map { "\(jsonString($0)):\(jsonString(metadata[$0] ?? ""))" }
            parts.append("\(jsonString(metadataKey)):{\(pairs.joined(separator: ","))}")
        }
        var offset = 0
        for (s, count) in zip(sorted, counts) {
            let end = offset + count * dtype.byteSize
            let shape = s.shape.map(String.init).joined(separator: ",")
            parts.append("\(jsonString(s.name)):{\"dtype\":\"\(dtype.rawValue)\",\"shape\":[\(shape)],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        var bytes = Array("{\(parts.joined(separator: ","))}".utf8)
        while bytes.count % 8 != 0 { bytes.append(0x20) }
        return bytes
    }

    /// A JSON string literal (quotes added; escaping shared with tokenizer.json writing).
    static func jsonString(_ s: String) -> String { "\"" + JSONText.escape(s) + "\"" }

    static func writeValues(_ s: TensorSource, count: Int, dtype: DType, into sink: ByteSink, op: String) throws {
        var called = false
        try s.withValues { buf in
            guard !called else { throw StrataError(.state, op, "tensor '\(s.name)': withValues called its body twice") }
            called = true
            guard buf.count == count else {
                throw StrataError.shape(op, "tensor '\(s.name)' has shape \(s.shape) (\(count) values) but its buffer holds \(buf.count)")
            }
            if dtype == .bf16 { try writeBF16(buf, into: sink) } else { try writeF32(buf, into: sink) }
        }
        guard called else { throw StrataError(.state, op, "tensor '\(s.name)': withValues never called its body") }
    }

    static func writeF32(_ buf: UnsafeBufferPointer<Float>, into sink: ByteSink) throws {
        #if _endian(little)
        try sink.write(UnsafeRawBufferPointer(buf))
        #else
        try sink.write(buf.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
        #endif
    }

    static func writeBF16(_ buf: UnsafeBufferPointer<Float>, into sink: ByteSink) throws {
        let chunk = 1 << 16
        var scratch = [UInt8](repeating: 0, count: 2 * min(chunk, buf.count))
        var start = 0
        while start < buf.count {
            let n = min(chunk, buf.count - start)
            try scratch.withUnsafeMutableBytes { raw in
                FloatConversion.toBF16(UnsafeBufferPointer(rebasing: buf[start..<(start + n)]), into: raw)
                try sink.write(UnsafeRawBufferPointer(rebasing: raw[0..<(2 * n)]))
            }
            start += n
        }
    }
}
