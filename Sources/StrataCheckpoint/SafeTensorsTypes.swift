// Value types of the safetensors API: element types, a named tensor of Float
// values, the description of one stored tensor, and a validated file whose tensors
// are converted to Float32 only when asked for (the bytes stay mapped until then).
// Leaves out: the tensor library's own types (callers copy [Float] or fill their
// buffers through `copyValues(of:into:)`), lazy loading across several files (shards).

import Foundation
import StrataCore

/// Element types the reader accepts. Floats convert to Float32 exactly (F64 rounds);
/// integers convert to the nearest Float. The writer emits F32 or BF16.
public enum DType: String, Sendable, CaseIterable, Codable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64", i64 = "I64", i32 = "I32"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f16, .bf16: return 2
        case .f32, .i32: return 4
        case .f64, .i64: return 8
        }
    }

    /// F32, F16, BF16, F64: what model weights must be stored as.
    public var isFloatingPoint: Bool { self != .i32 && self != .i64 }
}

/// A tensor as the checkpoint layer sees it: a name, a shape, row-major Float values.
public struct NamedTensor: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]

    public init(name: String, shape: [Int], values: [Float]) {
        self.name = name
        self.shape = shape
        self.values = values
    }

    /// Product of the shape (1 for a scalar).
    public var elementCount: Int { shape.reduce(1, *) }
}

/// Where one tensor lives in a file, after validation.
public struct TensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Byte range inside the data buffer (after the header).
    public let dataOffsets: Range<Int>

    public var elementCount: Int { dataOffsets.count / dtype.byteSize }
}

/// A validated safetensors file. Tensors are converted to Float32 on request.
public struct SafeTensorsFile: Sendable {
    /// The path (or caller-given label) used in error messages.
    public let source: String
    /// The header's "__metadata__" (empty when absent).
    public let metadata: [String: String]
    /// Tensor names in file order (by data offset; the writer sorts by name).
    public let names: [String]
    private let infos: [String: TensorInfo]
    private let bytes: Data
    private let dataStart: Int

    init(source: String, metadata: [String: String], infos: [TensorInfo], bytes: Data, dataStart: Int) {
        self.source = source
        self.metadata = metadata
        self.names = infos.map(\.name)
        self.infos = Dictionary(uniqueKeysWithValues: infos.map { ($0.name, $0) })
        self.bytes = bytes
        self.dataStart = dataStart
    }

    /// Dtype, shape and byte range of a tensor, without converting it.
    public func info(_ name: String) -> TensorInfo? { infos[name] }

    /// The tensor converted to Float32, or nil when the file has no such name.
    public func tensor(_ name: String) -> NamedTensor? {
        guard let info = infos[name] else { return nil }
        let values = [Float](unsafeUninitializedCapacity: info.elementCount) { buf, count in
            convert(info, into: buf)
            count = info.elementCount
        }
        return NamedTensor(name: name, shape: info.shape, values: values)
    }

    /// The tensor, or an error naming the file when it is missing or its shape differs.
    public func tensor(_ name: String, shape expected: [Int]) throws -> NamedTensor {
        let info = try require(name, shape: expected)
        guard let t = tensor(info.name) else { throw missing(name) }
        return t
    }

    /// Converts a tensor straight into a caller's buffer (no intermediate array).
    public func copyValues(of name: String, into dst: UnsafeMutableBufferPointer<Float>) throws {
        guard let info = infos[name] else { throw missing(name) }
        guard dst.count == info.elementCount else {
            throw StrataError.shape("read safetensors \(source)",
                                    "tensor '\(name)' has \(info.elementCount) elements (shape \(info.shape)) but the destination holds \(dst.count)")
        }
        convert(info, into: dst)
    }

    /// The raw little-endian bytes of a tensor, for callers that keep the stored dtype.
    public func withRawBytes<R>(of name: String, _ body: (TensorInfo, UnsafeRawBufferPointer) throws -> R) rethrows -> R? {
        guard let info = infos[name] else { return nil }
        return try bytes.withUnsafeBytes { all in
            try body(info, UnsafeRawBufferPointer(rebasing: all[(dataStart + info.dataOffsets.lowerBound)..<(dataStart + info.dataOffsets.upperBound)]))
        }
    }

    /// Every tensor, converted, in file order.
    public func allTensors() -> [NamedTensor] { names.compactMap { tensor($0) } }

    /// Refuses a tensor that `what` (e.g. "a GPT-2 weight") needs as floats but the header stores as
    /// an integer dtype: converting I32/I64 bytes that are really floats would load garbage silently.
    public func requireFloatingPoint(_ name: String, for what: String) throws {
        guard let info = infos[name] else { throw missing(name) }
        guard info.dtype.isFloatingPoint else {
            throw StrataError.format("read safetensors \(source)",
                                     "tensor '\(name)' is stored as \(info.dtype.rawValue), but \(what) is floating point "
                                        + "(F32, F16, BF16 or F64)",
                                     fix: "the header's dtype was changed or this is not the model's file; re-export the checkpoint")
        }
    }

    /// Checks presence and shape; returns the tensor's description.
    @discardableResult
    public func require(_ name: String, shape expected: [Int]) throws -> TensorInfo {
        guard let info = infos[name] else { throw missing(name) }
        guard info.shape == expected else {
            throw StrataError.shape("read safetensors \(source)", "tensor '\(name)' has shape \(info.shape), expected \(expected)",
                                    fix: "check that the checkpoint matches the model config")
        }
        return info
    }

    private func missing(_ name: String) -> StrataError {
        let some = names.prefix(5).joined(separator: ", ")
        return StrataError.format("read safetensors \(source)", "no tensor named '\(name)' (the file has \(names.count): \(some)\(names.count > 5 ? ", ..." : ""))")
    }

    private func convert(_ info: TensorInfo, into dst: UnsafeMutableBufferPointer<Float>) {
        bytes.withUnsafeBytes { all in
            let start = dataStart + info.dataOffsets.lowerBound
            let src = UnsafeRawBufferPointer(rebasing: all[start..<(start + info.dataOffsets.count)])
            FloatConversion.toFloat32(info.dtype, src, into: dst)
        }
    }
}
