// Tensor: a Float32 n-d array over reference-counted, 64-byte aligned storage.
// Contiguous row-major only; reshape and leading-row slices are views that share
// storage. Transposes are not materialised: matmul takes transpose flags and
// strides instead. Autograd state (grad, requiresGrad) lives here; the graph
// that produced a tensor lives on the Tape.
// Shape legend used across Strata: B batch, T time, C channels (n_embd),
// V vocab, L layers, H heads, D head size (C / H), N = B*T rows.
// Leaves out: other dtypes (bf16 exists only as matmul operands: Backend+BF16.swift), non-contiguous views, broadcasting rules
// beyond what the ops document.

import Foundation
import StrataCore

/// Owns one aligned Float buffer. Freed when the last tensor viewing it goes away.
public final class Storage: @unchecked Sendable {
    public let base: UnsafeMutablePointer<Float>
    public let capacity: Int

    public init(count: Int, zeroed: Bool = true) {
        capacity = max(count, 1)
        var raw: UnsafeMutableRawPointer?
        let bytes = capacity * MemoryLayout<Float>.stride
        guard posix_memalign(&raw, 64, bytes) == 0, let raw else {
            fatalError("Storage: could not allocate \(bytes) bytes for a tensor of \(count) floats")
        }
        base = raw.bindMemory(to: Float.self, capacity: capacity)
        if zeroed { memset(raw, 0, bytes) }
    }

    deinit { free(base) }
}

public final class Tensor: @unchecked Sendable, CustomStringConvertible {
    public let shape: [Int]
    public let count: Int
    public let storage: Storage
    public let offset: Int
    /// Accumulated gradient, allocated on first use. Persists across backward passes until zeroed. `zeroGrad()`
    /// only marks it zero: the first backward kernel that writes all of it stores instead of adding (see
    /// `gradBufferForFullWrite()`), and any other first reader gets it filled with zeros here.
    public var grad: Tensor? {
        get {
            if gradIsZero, let g = gradStorage { g.fill(0); gradIsZero = false }
            return gradStorage
        }
        set { gradStorage = newValue; gradIsZero = false }
    }
    private var gradStorage: Tensor?
    /// The gradient's contents stand for zeros not yet written (set by `zeroGrad()`).
    private var gradIsZero = false
    /// Whether gradients flow to (and through) this tensor.
    public var requiresGrad: Bool
    /// Optional name (parameters carry their Hugging Face name).
    public var name: String?

    public init(zeros shape: [Int], requiresGrad: Bool = false) {
        self.shape = shape
        self.count = Tensor.elementCount(shape)
        self.storage = Storage(count: count)
        self.offset = 0
        self.requiresGrad = requiresGrad
    }

    /// Uninitialised contents: only for outputs a kernel writes in full.
    public init(uninitialized shape: [Int]) {
        self.shape = shape
        self.count = Tensor.elementCount(shape)
        self.storage = Storage(count: count, zeroed: false)
        self.offset = 0
        self.requiresGrad = false
    }

    public convenience init(_ values: [Float], shape: [Int], requiresGrad: Bool = false) {
        precondition(values.count == Tensor.elementCount(shape),
                     "Tensor(values:shape:): \(values.count) values do not fill shape \(shape)")
        self.init(uninitialized: shape)
        self.requiresGrad = requiresGrad
        values.withUnsafeBufferPointer { src in ptr.update(from: src.baseAddress!, count: count) }
    }

    /// A view sharing storage.
    init(view storage: Storage, offset: Int, shape: [Int], requiresGrad: Bool) {
        self.shape = shape
        self.count = Tensor.elementCount(shape)
        self.storage = storage
        self.offset = offset
        self.requiresGrad = requiresGrad
        precondition(offset + count <= storage.capacity)
    }

    @inline(__always) public var ptr: UnsafeMutablePointer<Float> { storage.base + offset }
    public var rank: Int { shape.count }
    /// Size of the last dimension (row length).
    public var cols: Int { shape.last ?? 1 }
    /// Number of rows when viewed as a matrix [count / cols, cols].
    public var rows: Int { cols == 0 ? 0 : count / cols }

    public static func elementCount(_ shape: [Int]) -> Int {
        shape.reduce(1) { precondition($1 >= 0, "negative dimension in shape \(shape)"); return $0 * $1 }
    }

    /// A view with a new shape and the same elements (no copy). Not recorded on a tape:
    /// use `Tape.reshape` when gradients must flow through it.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(Tensor.elementCount(newShape) == count, "reshape: \(shape) has \(count) elements, \(newShape) has \(Tensor.elementCount(newShape))")
        return Tensor(view: storage, offset: offset, shape: newShape, requiresGrad: requiresGrad)
    }

    /// Rows [start, end) of the leading dimension as a view.
    public func rowSlice(_ start: Int, _ end: Int) -> Tensor {
        precondition(rank >= 1 && 0 <= start && start <= end && end <= shape[0], "rowSlice \(start)..<\(end) of \(shape)")
        let inner = count / max(shape[0], 1)
        return Tensor(view: storage, offset: offset + start * inner, shape: [end - start] + shape.dropFirst(), requiresGrad: false)
    }

    public func toArray() -> [Float] { Array(UnsafeBufferPointer(start: ptr, count: count)) }

    /// The single value of a one-element tensor.
    public func item() -> Float {
        precondition(count == 1, "item(): tensor of shape \(shape) has \(count) elements")
        return ptr[0]
    }

    public func copy() -> Tensor {
        let t = Tensor(uninitialized: shape)
        t.ptr.update(from: ptr, count: count)
        return t
    }

    public func fill(_ v: Float) { ptr.update(repeating: v, count: count) }

    public func copy(from other: Tensor) {
        precondition(other.count == count, "copy(from:): \(other.shape) into \(shape)")
        ptr.update(from: other.ptr, count: count)
    }

    /// The gradient buffer, allocated (zeroed) on first use.
    public func gradBuffer() -> Tensor {
        if let g = grad { return g }
        let g = Tensor(zeros: shape)
        grad = g
        return g
    }

    /// The gradient buffer for a backward kernel that writes every element of it, and whether that kernel is the
    /// first to reach it (`fresh`). A fresh buffer is new and uninitialised, or a parameter's buffer zeroed by
    /// `zeroGrad()` and not yet written: the kernel stores its contribution (g = Δ) instead of adding it (g += Δ),
    /// which spares an activation with one consumer, and a weight read once a step, the zero fill and the read of
    /// zeros that `gradBuffer()` costs. Storing Δ gives what 0 + Δ gives, bit for bit, except that a −0 stays −0
    /// where the sum gives +0. Kernels that write part of the buffer (a scatter, a slice) must use `gradBuffer()`.
    public func gradBufferForFullWrite() -> (grad: Tensor, fresh: Bool) {
        if let g = gradStorage {
            defer { gradIsZero = false }
            return (g, gradIsZero)
        }
        let g = Tensor(uninitialized: shape)
        grad = g
        return (g, true)
    }

    /// Marks the gradient zero; the buffer is filled only if a reader reaches it before a full write (`grad`).
    public func zeroGrad() { if gradStorage != nil { gradIsZero = true } }

    public var description: String {
        let preview = (0..<min(count, 6)).map { String(format: "%.4f", ptr[$0]) }.joined(separator: ", ")
        return "Tensor\(shape)[\(preview)\(count > 6 ? ", …" : "")]"
    }
}
