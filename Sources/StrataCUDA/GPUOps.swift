// Typed launchers for the kernels in Kernels.swift, plus the row-major matrix
// product with the precision rules of the GPU backend. One GPUOps owns the device,
// the compiled module and the cuBLAS handle; the GPT-2 model and the selftest call
// only these methods, never cuLaunchKernel directly.
// Shapes: B batch, T time, C channels, V vocab, H heads, D = C/H, N = B·T.
// Leaves out: streams (everything runs in order on the default stream).

import Foundation
import StrataCore

public final class GPUOps: @unchecked Sendable {
    public let device: CUDADevice
    public let blas: CuBLAS
    public let nvrtc: NVRTC
    let module: CUDAModule
    /// Seconds NVRTC took (0 when the cubin came from the cache).
    public let compileSeconds: Double
    /// Scratch of the column-sum passes (grown on demand).
    var columnScratch: DeviceBuffer<Float>?

    public init(device: CUDADevice, precision: GPUPrecision) throws {
        self.device = device
        nvrtc = try NVRTC()
        let t0 = Date()
        let image = try nvrtc.cubin(source: KernelSource.source, name: KernelSource.name, architecture: device.architecture)
        compileSeconds = Date().timeIntervalSince(t0)
        module = try device.loadModule(cubin: image)
        blas = try CuBLAS(precision: precision)
        blas.device = device
    }

    static let threads = 256
    static func blocks(_ n: Int, _ per: Int = threads) -> Int { max(1, (n + per - 1) / per) }

    func elementwise(_ name: String, _ n: Int, _ args: [KernelArgument]) throws {
        try module.launch(name, grid: (GPUOps.blocks(n), 1, 1), block: (GPUOps.threads, 1, 1), args)
    }
    /// One warp per row, 8 rows per block.
    func rowwise(_ name: String, rows: Int, _ args: [KernelArgument]) throws {
        try module.launch(name, grid: (GPUOps.blocks(rows, 8), 1, 1), block: (256, 1, 1), args)
    }

    // MARK: kernels

    public func embedForward(x: UInt64, ids: UInt64, positions: UInt64, wte: UInt64, wpe: UInt64, n: Int, c: Int) throws {
        try elementwise("embed_fwd", n * c, [.pointer(x), .pointer(ids), .pointer(positions), .pointer(wte), .pointer(wpe), .int(Int32(n)), .int(Int32(c))])
    }
    /// dtable[keys[k]] += Σ dx[rows[offsets[k]..<offsets[k+1]]] for k < count (a RowGroups on the device).
    public func scatterRows(dtable: UInt64, dx: UInt64, groups: DeviceRowGroups, c: Int) throws {
        guard groups.count > 0 else { return }
        try module.launch("scatter_rows", grid: (groups.count, 1, 1), block: (min(256, max(32, c)), 1, 1),
                          [.pointer(dtable), .pointer(dx), .pointer(groups.keys.address), .pointer(groups.offsets.address),
                           .pointer(groups.rows.address), .int(Int32(groups.count)), .int(Int32(c))])
    }
    public func layerNormForward(y: UInt64, mean: UInt64, rstd: UInt64, x: UInt64, w: UInt64, b: UInt64, n: Int, c: Int, eps: Float) throws {
        try rowwise("layernorm_fwd", rows: n, [.pointer(y), .pointer(mean), .pointer(rstd), .pointer(x), .pointer(w), .pointer(b),
                                               .int(Int32(n)), .int(Int32(c)), .float(eps)])
    }
    /// dx += ∂LN/∂x · dy;  dw += Σ dy·x̂;  db += Σ dy.
    public func layerNormBackward(dx: UInt64, dw: UInt64, db: UInt64, dy: UInt64, x: UInt64, mean: UInt64, rstd: UInt64, w: UInt64,
                                  n: Int, c: Int) throws {
        try rowwise("layernorm_bwd_dx", rows: n, [.pointer(dx), .pointer(dy), .pointer(x), .pointer(mean), .pointer(rstd), .pointer(w),
                                                  .int(Int32(n)), .int(Int32(c))])
        try columnSums(dw: dw, db: db, dy: dy, x: x, mean: mean, rstd: rstd, n: n, c: c)
    }
    /// db += Σ_n dy[n, :]
    public func biasBackward(db: UInt64, dy: UInt64, n: Int, c: Int) throws {
        try columnSums(dw: 0, db: db, dy: dy, x: 0, mean: 0, rstd: 0, n: n, c: c)
    }

    /// Rows per chunk of the first column-sum pass: enough chunks to fill the GPU, each long enough to amortise.
    static let columnChunkRows = 256

    /// dw += Σ_n dy⊙x̂ (when x is given), db += Σ_n dy: two passes through a partial-sum scratch, fixed order.
    func columnSums(dw: UInt64, db: UInt64, dy: UInt64, x: UInt64, mean: UInt64, rstd: UInt64, n: Int, c: Int) throws {
        let chunks = GPUOps.blocks(n, GPUOps.columnChunkRows)
        if columnScratch == nil || columnScratch!.count < 2 * chunks * c {
            columnScratch = nil
            columnScratch = try DeviceBuffer(device, count: 2 * chunks * c)
        }
        let pw = columnScratch!.address, pb = columnScratch!.at(chunks * c)
        try module.launch("colsum_partial", grid: (GPUOps.blocks(c, 32), chunks, 1), block: (32, 32, 1),
                          [.pointer(pw), .pointer(pb), .pointer(dy), .pointer(x), .pointer(mean), .pointer(rstd), .int(Int32(n)), .int(Int32(c)),
                           .int(Int32(GPUOps.columnChunkRows))])
        try module.launch("colsum_finish", grid: (GPUOps.blocks(c), 1, 1), block: (GPUOps.threads, 1, 1),
                          [.pointer(dw), .pointer(db), .pointer(pw), .pointer(pb), .int(Int32(chunks)), .int(Int32(c))])
    }
    public func addBias(y: UInt64, b: UInt64, n: Int, c: Int) throws {
        try elementwise("add_bias", n * c, [.pointer(y), .pointer(b), .int(Int32(n)), .int(Int32(c))])
    }
    public func add(y: UInt64, _ a: UInt64, _ b: UInt64, count: Int) throws {
        try elementwise("add", count, [.pointer(y), .pointer(a), .pointer(b), .long(count)])
    }
    public func geluForward(y: UInt64, x: UInt64, count: Int) throws {
        try elementwise("gelu_fwd", count, [.pointer(y), .pointer(x), .long(count)])
    }
    public func geluBackward(dx: UInt64, x: UInt64, dy: UInt64, count: Int) throws {
        try elementwise("gelu_bwd", count, [.pointer(dx), .pointer(x), .pointer(dy), .long(count)])
    }
    /// rows = B·H·T rows of T scores; docStart (B·T ints) or 0.
    public func causalSoftmax(p: UInt64, s: UInt64, docStart: UInt64, rows: Int, t: Int, heads: Int, scale: Float) throws {
        try rowwise("causal_softmax", rows: rows, [.pointer(p), .pointer(s), .pointer(docStart), .int(Int32(rows)), .int(Int32(t)),
                                                   .int(Int32(heads)), .float(scale)])
    }
    public func softmaxBackward(ds: UInt64, p: UInt64, dp: UInt64, rows: Int, t: Int, scale: Float) throws {
        try rowwise("softmax_bwd", rows: rows, [.pointer(ds), .pointer(p), .pointer(dp), .int(Int32(rows)), .int(Int32(t)), .float(scale)])
    }
    /// Per-row losses into `losses` [N]; logits [N, V] replaced by k·(softmax − onehot).
    public func crossEntropy(losses: UInt64, logits: UInt64, targets: UInt64, n: Int, v: Int, k: Float) throws {
        try module.launch("cross_entropy", grid: (n, 1, 1), block: (512, 1, 1),
                          [.pointer(losses), .pointer(logits), .pointer(targets), .int(Int32(n)), .int(Int32(v)), .float(k)])
    }
    /// Σ x² over `count` floats, the parts added in Double on the host.
    public func sumSquares(_ x: UInt64, count: Int, scratch: DeviceBuffer<Float>) throws -> Double {
        let parts = min(scratch.count, GPUOps.blocks(count))
        try module.launch("sum_squares", grid: (parts, 1, 1), block: (GPUOps.threads, 1, 1), [.pointer(scratch.address), .pointer(x), .long(count)])
        return try scratch.download(count: parts).reduce(0) { $0 + Double($1) }
    }
    public func adamW(p: UInt64, g: UInt64, m: UInt64, v: UInt64, count: Int, clip: Float, beta1: Float, beta2: Float, eps: Float,
                      decay: Float, stepSize: Float, bc2: Float) throws {
        try elementwise("adamw", count, [.pointer(p), .pointer(g), .pointer(m), .pointer(v), .long(count), .float(clip), .float(beta1),
                                         .float(beta2), .float(eps), .float(decay), .float(stepSize), .float(bc2)])
    }
    public func toBF16(_ y: UInt64, _ x: UInt64, count: Int) throws {
        try elementwise("to_bf16", count, [.pointer(y), .pointer(x), .long(count)])
    }
}

/// Rows grouped by the table row they scatter into (token id or position), built on the host in
/// ascending row order so the device sums in a fixed order: keys[k], rows[offsets[k]..<offsets[k+1]].
public struct RowGroups: Equatable {
    public var keys: [Int32] = [], offsets: [Int32] = [0], rows: [Int32] = []

    /// Counting sort by key (keys are token ids or positions: small, non-negative), stable in row order.
    public init(_ index: [Int32]) {
        guard let maxKey = index.max(), maxKey >= 0 else { return }
        var counts = [Int32](repeating: 0, count: Int(maxKey) + 2)
        for key in index { counts[Int(key) + 1] += 1 }
        for k in 0...Int(maxKey) where counts[k + 1] > 0 { keys.append(Int32(k)); offsets.append(offsets.last! + counts[k + 1]) }
        for k in 1..<counts.count { counts[k] += counts[k - 1] }      // counts[k] = first slot of key k
        rows = [Int32](repeating: 0, count: index.count)
        for (r, key) in index.enumerated() { rows[Int(counts[Int(key)])] = Int32(r); counts[Int(key)] += 1 }
    }
}

/// RowGroups uploaded to the device.
public final class DeviceRowGroups {
    public let count: Int
    let keys: DeviceBuffer<Int32>, offsets: DeviceBuffer<Int32>, rows: DeviceBuffer<Int32>
    public init(_ g: RowGroups, device: CUDADevice) throws {
        count = g.keys.count
        keys = try DeviceBuffer(device, g.keys); offsets = try DeviceBuffer(device, g.offsets); rows = try DeviceBuffer(device, g.rows)
    }
}
