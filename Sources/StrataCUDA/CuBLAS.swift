// cuBLAS for Strata's matrix products, spoken in row-major terms. cuBLAS is
// column-major: a row-major X [r, c] is, in the same memory, a column-major Xᵀ
// [c, r] with leading dimension c. So C = op(A)·op(B) (row-major) is computed as
// Cᵀ = op(B)ᵀ·op(A)ᵀ (column-major): the operands swap and keep their own
// transpose flags. Precision: fp32 (exact fp32 products), tf32 (tensor cores, fp32
// storage), bf16 (bf16 operands, fp32 accumulation and fp32 output).
// Leaves out: cuBLASLt epilogues (bias/GELU fusion), fp16, workspace tuning.

import Foundation
import StrataCore

typealias CublasStatus = Int32

struct CublasAPI {
    let cublasCreate: @convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> CublasStatus
    let cublasDestroy: @convention(c) (OpaquePointer?) -> CublasStatus
    let cublasGetVersion: @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int32>) -> CublasStatus
    let cublasSetMathMode: @convention(c) (OpaquePointer?, Int32) -> CublasStatus
    // (handle, transa, transb, m, n, k, alpha, A, Atype, lda, [strideA], B, Btype, ldb, [strideB], beta, C, Ctype, ldc, [strideC], [batch], computeType, algo)
    let cublasGemmEx: @convention(c) (OpaquePointer?, Int32, Int32, Int32, Int32, Int32, UnsafeRawPointer, UInt64, Int32, Int32,
                                      UInt64, Int32, Int32, UnsafeRawPointer, UInt64, Int32, Int32, Int32, Int32) -> CublasStatus
    let cublasGemmStridedBatchedEx: @convention(c) (OpaquePointer?, Int32, Int32, Int32, Int32, Int32, UnsafeRawPointer,
                                                    UInt64, Int32, Int32, Int64, UInt64, Int32, Int32, Int64, UnsafeRawPointer,
                                                    UInt64, Int32, Int32, Int64, Int32, Int32, Int32) -> CublasStatus

    static let symbols = ["cublasCreate_v2", "cublasDestroy_v2", "cublasGetVersion_v2", "cublasSetMathMode", "cublasGemmEx",
                          "cublasGemmStridedBatchedEx"]

    init(_ lib: OpenedLibrary) throws {
        cublasCreate = try lib.symbol("cublasCreate_v2", as: type(of: cublasCreate))
        cublasDestroy = try lib.symbol("cublasDestroy_v2", as: type(of: cublasDestroy))
        cublasGetVersion = try lib.symbol("cublasGetVersion_v2", as: type(of: cublasGetVersion))
        cublasSetMathMode = try lib.symbol("cublasSetMathMode", as: type(of: cublasSetMathMode))
        cublasGemmEx = try lib.symbol("cublasGemmEx", as: type(of: cublasGemmEx))
        cublasGemmStridedBatchedEx = try lib.symbol("cublasGemmStridedBatchedEx", as: type(of: cublasGemmStridedBatchedEx))
    }
}

/// How matrix products are computed on the GPU.
public enum GPUPrecision: String, CaseIterable, Sendable {
    case fp32, tf32, bf16
}

/// One row-major matrix operand: a device address, its element type and whether it is used transposed.
public struct GemmOperand {
    public var address: UInt64
    public var transposed: Bool
    public var bf16: Bool
    public init(_ address: UInt64, transposed: Bool = false, bf16: Bool = false) {
        self.address = address; self.transposed = transposed; self.bf16 = bf16
    }
}

public final class CuBLAS: @unchecked Sendable {
    let api: CublasAPI
    public let library: OpenedLibrary
    let handle: OpaquePointer?
    public let version: Int
    public var precision: GPUPrecision
    /// The device, for profiling (set by GPUOps).
    weak var device: CUDADevice?

    // cudaDataType and cublasComputeType_t values from the CUDA headers.
    static let R32F: Int32 = 0, R16BF: Int32 = 14
    static let compute32F: Int32 = 68, compute32FPedantic: Int32 = 69, compute32FFastTF32: Int32 = 77
    static let gemmDefault: Int32 = -1

    public init(precision: GPUPrecision) throws {
        library = try CUDALibraries.open("cublas")
        api = try CublasAPI(library)
        var h: OpaquePointer?
        try CuBLAS.check(api.cublasCreate(&h), "cublasCreate")
        handle = h
        var v: Int32 = 0
        _ = api.cublasGetVersion(h, &v)
        version = Int(v)
        self.precision = precision
    }

    deinit { _ = api.cublasDestroy(handle) }

    static func check(_ s: CublasStatus, _ call: String) throws {
        guard s != 0 else { return }
        throw StrataError(.backend, "cublas", "\(call) failed with cublasStatus \(s)",
                          fix: s == 1 ? "cuBLAS was not initialised: is the CUDA context current?" : nil)
    }

    /// bf16 operands accumulate in fp32; fp32 operands use exact fp32 products, or TF32 tensor cores
    /// under tf32 and bf16 (the attention products, whose operands stay fp32).
    func computeType(_ a: GemmOperand, _ b: GemmOperand) -> Int32 {
        if a.bf16 || b.bf16 { return CuBLAS.compute32F }
        return precision == .fp32 ? CuBLAS.compute32FPedantic : CuBLAS.compute32FFastTF32
    }

    /// C[M, N] = alpha · op(A)[M, K] · op(B)[K, N] + beta · C, all row-major; C is fp32.
    /// `lda`/`ldb`/`ldc` default to the packed row lengths.
    public func gemm(m: Int, n: Int, k: Int, _ a: GemmOperand, _ b: GemmOperand, c: UInt64, alpha: Float = 1, beta: Float = 0,
                     lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil) throws {
        var al = alpha, be = beta
        let lda = lda ?? (a.transposed ? m : k), ldb = ldb ?? (b.transposed ? k : n), ldc = ldc ?? n
        let name = a.bf16 || b.bf16 ? "cuBLAS gemm (bf16)" : "cuBLAS gemm (fp32 operands)"
        try profiled(name) {
            let s = api.cublasGemmEx(handle, b.transposed ? 1 : 0, a.transposed ? 1 : 0, Int32(n), Int32(m), Int32(k), &al,
                                     b.address, b.bf16 ? CuBLAS.R16BF : CuBLAS.R32F, Int32(ldb),
                                     a.address, a.bf16 ? CuBLAS.R16BF : CuBLAS.R32F, Int32(lda), &be,
                                     c, CuBLAS.R32F, Int32(ldc), computeType(a, b), CuBLAS.gemmDefault)
            try CuBLAS.check(s, "cublasGemmEx(M=\(m), N=\(n), K=\(k))")
        }
    }

    func profiled(_ name: String, _ body: () throws -> Void) throws {
        if let device { try device.profiled(name, body) } else { try body() }
    }

    /// `batch` products C_i = alpha · op(A_i)·op(B_i) + beta · C_i, operand i at address + i·stride (in elements).
    public func gemmBatched(m: Int, n: Int, k: Int, _ a: GemmOperand, lda: Int, strideA: Int, _ b: GemmOperand, ldb: Int, strideB: Int,
                            c: UInt64, ldc: Int, strideC: Int, batch: Int, alpha: Float = 1, beta: Float = 0) throws {
        var al = alpha, be = beta
        try profiled("cuBLAS batched gemm (attention)") {
            let s = api.cublasGemmStridedBatchedEx(handle, b.transposed ? 1 : 0, a.transposed ? 1 : 0, Int32(n), Int32(m), Int32(k), &al,
                                                   b.address, b.bf16 ? CuBLAS.R16BF : CuBLAS.R32F, Int32(ldb), Int64(strideB),
                                                   a.address, a.bf16 ? CuBLAS.R16BF : CuBLAS.R32F, Int32(lda), Int64(strideA), &be,
                                                   c, CuBLAS.R32F, Int32(ldc), Int64(strideC), Int32(batch), computeType(a, b), CuBLAS.gemmDefault)
            try CuBLAS.check(s, "cublasGemmStridedBatchedEx(M=\(m), N=\(n), K=\(k), batch \(batch))")
        }
    }
}
