// Backend: matrix products through oneDNN's matmul primitive (Debian libdnnl-dev,
// C API 2.x). Every product Strata computes — linear layers, the tied LM head,
// batched attention scores and their backward forms — is a strided (batched)
// matmul here; transposes are expressed as strides, never copied. Primitives are
// created once per (shapes, strides, bias, accumulate, dtype) key and cached, the
// least recently used evicted past `primitiveCacheCapacity`.
// bf16 products (operands narrowed, fp32 accumulation and output) are switched on
// per scope: Backend+BF16.swift. Registered weights read whole as B are kept in the
// layout the primitive prefers: Backend+Blocked.swift.
// Leaves out: Accelerate on Apple platforms, GPU engines.

import Foundation
import CDNNL
import StrataCore

/// A matrix operand: a pointer plus logical dims and element strides. The last two
/// dims are (rows, cols); any leading dims are batch dims (up to 4 in all).
/// A view may instead address a bf16 image (`bf16Image`): an operand some kernel already wrote in bf16, which
/// bf16 products read as it is (attention keeps its probabilities so, Ops+Attention.swift).
public struct MatView {
    public var ptr: UnsafeMutablePointer<Float>
    public var dims: [Int]
    public var strides: [Int]
    /// Set for a view over bf16 elements: `ptr` then holds the same address and must not be read as floats.
    public private(set) var bf16: UnsafeMutablePointer<UInt16>?

    public init(_ ptr: UnsafeMutablePointer<Float>, dims: [Int], strides: [Int]) {
        precondition(dims.count == strides.count && dims.count >= 2 && dims.count <= 4)
        self.ptr = ptr; self.dims = dims; self.strides = strides
    }

    /// A view over bf16 elements (strides in elements): only a product that runs in bf16 may read it.
    public static func bf16Image(_ p: UnsafeMutablePointer<UInt16>, dims: [Int], strides: [Int]) -> MatView {
        var v = MatView(UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self), dims: dims, strides: strides)
        v.bf16 = p
        return v
    }

    /// A dense row-major matrix [rows, cols] with leading dimension `ld`, optionally transposed.
    public static func matrix(_ ptr: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int? = nil, transposed: Bool = false) -> MatView {
        let ld = ld ?? cols
        // Transposed: logical [cols, rows] reading the same memory.
        return transposed ? MatView(ptr, dims: [cols, rows], strides: [1, ld]) : MatView(ptr, dims: [rows, cols], strides: [ld, 1])
    }
}

public final class Backend: @unchecked Sendable {
    /// One process-wide oneDNN CPU engine: oneDNN's own thread pool (OpenMP) is process-wide too.
    public static let shared = Backend()

    var engine: dnnl_engine_t?
    var stream: dnnl_stream_t?
    private var cache: [Key: CachedMatmul] = [:]
    private var useClock: UInt64 = 0
    /// Most matmul primitives kept. Training meets a few dozen shapes and reuses them every step, but rollouts and
    /// evaluations meet new ones at nearly every decode length and batch size: unbounded, the cache held 1,014
    /// primitives after 12 GRPO steps, each with its JIT code, and the run's RSS grew by ~30 MB a step
    /// (docs/benchmarks.md). Past the capacity the least recently used quarter is destroyed.
    public var primitiveCacheCapacity: Int {
        get { lock.lock(); defer { lock.unlock() }; return capacity }
        set { lock.lock(); capacity = newValue; evictIfFull(); lock.unlock() }
    }
    private var capacity = 256   // guarded by `lock`, as the cache is
    /// Matmul primitives cached now.
    public var cachedPrimitives: Int { lock.lock(); defer { lock.unlock() }; return cache.count }
    let lock = NSLock()
    /// Precision, registered weights and their bf16 copies (Backend+BF16.swift); guarded by `lock`.
    var bf16 = BF16State()
    /// The blocked-weight switch and counters (Backend+Blocked.swift); guarded by `lock`.
    var blocked = BlockedState()
    /// Floating-point operations issued through matmul (for MFU accounting).
    public private(set) var flops: Double = 0
    /// Wall time spent inside matmul calls.
    public private(set) var matmulSeconds: Double = 0
    /// Part of `matmulSeconds` spent narrowing operands to bf16 (activations per product, weights once per update).
    public internal(set) var bf16ConversionSeconds: Double = 0

    private struct Key: Hashable {
        let a: [Int], b: [Int], c: [Int]
        let bias: Bool, accumulate: Bool, bf16: Bool
        /// B is a registered weight read from a copy in the primitive's chosen layout (Backend+Blocked.swift).
        let blockedB: Bool
    }

    private final class CachedMatmul {
        let primitive: dnnl_primitive_t
        let src: dnnl_memory_t, weights: dnnl_memory_t, dst: dnnl_memory_t
        let bias: dnnl_memory_t?
        /// The weights layout the primitive chose (format `any`), for a blocked B; nil for plain strided B.
        let weightsMD: dnnl_memory_desc_t?
        /// `useClock` at the last product that ran it (the LRU order).
        var lastUse: UInt64 = 0
        init(primitive: dnnl_primitive_t, src: dnnl_memory_t, weights: dnnl_memory_t, dst: dnnl_memory_t, bias: dnnl_memory_t?, weightsMD: dnnl_memory_desc_t?) {
            self.primitive = primitive; self.src = src; self.weights = weights; self.dst = dst; self.bias = bias; self.weightsMD = weightsMD
        }
        /// Runs when evicted and no product still holds it.
        deinit {
            dnnl_primitive_destroy(primitive)
            for m in [src, weights, dst] + (bias.map { [$0] } ?? []) { dnnl_memory_destroy(m) }
        }
    }

    private init() {
        #if os(Linux)
        // Training allocates and frees the same large activation buffers every step. Keep them in
        // the heap instead of fresh mmaps, which would page-fault (and be zeroed by the kernel) each time.
        mallopt(M_MMAP_THRESHOLD, 512 << 20)
        mallopt(M_TRIM_THRESHOLD, 1 << 30)
        #endif
        // oneDNN's own primitive cache (1,024 by default) would keep every evicted primitive's code alive; Strata's
        // cache sits in front of it, so it only needs to catch the few primitives made per call (reorders).
        check(dnnl_set_primitive_cache_capacity(32), "dnnl_set_primitive_cache_capacity")
        check(dnnl_engine_create(&engine, dnnl_cpu, 0), "dnnl_engine_create")
        check(dnnl_stream_create(&stream, engine, UInt32(dnnl_stream_default_flags.rawValue)), "dnnl_stream_create")
    }

    public func resetCounters() { lock.lock(); flops = 0; matmulSeconds = 0; bf16ConversionSeconds = 0; lock.unlock() }

    /// C = A·B (+ bias broadcast over rows) (+ C when `accumulate`), with batch dims broadcast.
    /// A: [..., M, K], B: [..., K, N], C: [..., M, N]; bias: [N].
    public func matmul(_ a: MatView, _ b: MatView, into c: MatView, bias: UnsafeMutablePointer<Float>? = nil, accumulate: Bool = false) {
        let m = a.dims[a.dims.count - 2], k = a.dims.last!, n = b.dims.last!
        precondition(b.dims[b.dims.count - 2] == k && c.dims[c.dims.count - 2] == m && c.dims.last! == n,
                     "matmul: shapes \(a.dims) x \(b.dims) -> \(c.dims) do not agree")
        if m == 0 || n == 0 { return }
        let t0 = DispatchTime.now().uptimeNanoseconds
        lock.lock()
        let inBF16 = productInBF16(a)
        precondition(inBF16 || (a.bf16 == nil && b.bf16 == nil), "matmul: an operand held only in bf16 needs a bf16 product")
        let weight = blockedWeight(a, b, inBF16: inBF16)
        let key = Key(a: a.dims + a.strides, b: b.dims + b.strides, c: c.dims + c.strides, bias: bias != nil, accumulate: accumulate,
                      bf16: inBF16, blockedB: weight != nil)
        let mm: CachedMatmul
        if let hit = cache[key] { mm = hit } else {
            mm = makeMatmul(a, b, c, bias: bias != nil, accumulate: accumulate, operands: inBF16 ? dnnl_bf16 : dnnl_f32, blockedB: weight != nil)
            cache[key] = mm
        }
        useClock += 1
        mm.lastUse = useClock
        evictIfFull()
        // A blocked B is filled (reordered, narrowed in bf16) here once per weight generation, under the lock.
        let blockedB = mm.weightsMD.flatMap { md in weight.map { blockedOperand($0, b, md: md) } }
        lock.unlock()
        var scratch: [BF16Buffer] = []   // narrowed operands, alive until the product is done
        defer { withExtendedLifetime(scratch) {} }
        if inBF16 {
            let c0 = DispatchTime.now().uptimeNanoseconds
            dnnl_memory_set_data_handle(mm.src, bf16Operand(a, scratch: &scratch))
            dnnl_memory_set_data_handle(mm.weights, blockedB ?? bf16Operand(b, scratch: &scratch))
            let dc = Double(DispatchTime.now().uptimeNanoseconds - c0) * 1e-9
            lock.lock(); bf16ConversionSeconds += dc; lock.unlock()
        } else {
            dnnl_memory_set_data_handle(mm.src, a.ptr)
            dnnl_memory_set_data_handle(mm.weights, blockedB ?? UnsafeMutableRawPointer(b.ptr))
        }
        dnnl_memory_set_data_handle(mm.dst, c.ptr)
        var args = [dnnl_exec_arg_t(arg: Int32(DNNL_ARG_SRC), memory: mm.src),
                    dnnl_exec_arg_t(arg: Int32(DNNL_ARG_WEIGHTS), memory: mm.weights),
                    dnnl_exec_arg_t(arg: Int32(DNNL_ARG_DST), memory: mm.dst)]
        if let bias, let bm = mm.bias {
            dnnl_memory_set_data_handle(bm, bias)
            args.append(dnnl_exec_arg_t(arg: Int32(DNNL_ARG_BIAS), memory: bm))
        }
        check(dnnl_primitive_execute(mm.primitive, stream, Int32(args.count), &args), "dnnl_primitive_execute(matmul \(a.dims)x\(b.dims))")
        check(dnnl_stream_wait(stream), "dnnl_stream_wait")
        let batch = c.dims.dropLast(2).reduce(1, *)
        let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        lock.lock(); flops += 2.0 * Double(batch * m * n * k); matmulSeconds += dt; lock.unlock()
    }

    /// Past the capacity, drop the least recently used primitives down to three quarters of it (caller holds the
    /// lock). A product running one keeps it alive until it finishes.
    private func evictIfFull() {
        guard cache.count > max(1, capacity) else { return }
        let keep = max(1, capacity * 3 / 4)
        let oldest = cache.sorted { $0.value.lastUse < $1.value.lastUse }.prefix(cache.count - keep)
        for (key, _) in oldest { cache[key] = nil }
    }

    /// Row-major GEMM in BLAS terms: C[M,N] = op(A)·op(B) (+ bias) (+ C).
    public func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
                     a: UnsafeMutablePointer<Float>, lda: Int? = nil, b: UnsafeMutablePointer<Float>, ldb: Int? = nil,
                     c: UnsafeMutablePointer<Float>, ldc: Int? = nil, bias: UnsafeMutablePointer<Float>? = nil, accumulate: Bool = false) {
        let av = MatView.matrix(a, rows: transA ? k : m, cols: transA ? m : k, ld: lda, transposed: transA)
        let bv = MatView.matrix(b, rows: transB ? n : k, cols: transB ? k : n, ld: ldb, transposed: transB)
        let cv = MatView.matrix(c, rows: m, cols: n, ld: ldc)
        matmul(av, bv, into: cv, bias: bias, accumulate: accumulate)
    }

    /// A matmul primitive with `operands` (f32 or bf16) for A and B; C and bias are always f32. With `blockedB`,
    /// B's layout is left to oneDNN (format `any`) and the one it chose is kept in `weightsMD`.
    private func makeMatmul(_ a: MatView, _ b: MatView, _ c: MatView, bias: Bool, accumulate: Bool, operands: dnnl_data_type_t,
                            blockedB: Bool = false) -> CachedMatmul {
        var amd = memoryDesc(a.dims, a.strides, operands), cmd = memoryDesc(c.dims, c.strides)
        var bmd = blockedB ? anyLayoutDesc(b.dims, operands) : memoryDesc(b.dims, b.strides, operands)
        var biasDims = [Int](repeating: 1, count: c.dims.count); biasDims[biasDims.count - 1] = c.dims.last!
        var biasStrides = [Int](repeating: c.dims.last!, count: c.dims.count); biasStrides[biasStrides.count - 1] = 1
        var bmdBias = memoryDesc(biasDims, biasStrides)
        var desc = dnnl_matmul_desc_t()
        check(withUnsafePointer(to: &bmdBias) { bp in
            dnnl_matmul_desc_init(&desc, &amd, &bmd, bias ? bp : nil, &cmd)
        }, "dnnl_matmul_desc_init(\(a.dims)x\(b.dims))")
        var attr: dnnl_primitive_attr_t?
        check(dnnl_primitive_attr_create(&attr), "dnnl_primitive_attr_create")
        defer { dnnl_primitive_attr_destroy(attr) }
        if accumulate {
            var po: dnnl_post_ops_t?
            check(dnnl_post_ops_create(&po), "dnnl_post_ops_create")
            check(dnnl_post_ops_append_sum(po, 1.0), "dnnl_post_ops_append_sum")
            check(dnnl_primitive_attr_set_post_ops(attr, po), "dnnl_primitive_attr_set_post_ops")
            dnnl_post_ops_destroy(po)
        }
        var pd: dnnl_primitive_desc_t?
        check(dnnl_primitive_desc_create(&pd, &desc, attr, engine, nil), "dnnl_primitive_desc_create(matmul \(a.dims)x\(b.dims)->\(c.dims))")
        defer { dnnl_primitive_desc_destroy(pd) }
        var prim: dnnl_primitive_t?
        check(dnnl_primitive_create(&prim, pd), "dnnl_primitive_create(matmul)")
        if blockedB {
            bmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0)!.pointee
            // A layout the packer cannot write (not blocked, or offset): this product passes B plain instead.
            if !BlockedCopy.packable(bmd) { dnnl_primitive_destroy(prim); return makeMatmul(a, b, c, bias: bias, accumulate: accumulate, operands: operands) }
        }
        func mem(_ md: inout dnnl_memory_desc_t) -> dnnl_memory_t {
            var m: dnnl_memory_t?
            // DNNL_MEMORY_NONE: the handle is set on every call.
            check(dnnl_memory_create(&m, &md, engine, nil), "dnnl_memory_create")
            return m!
        }
        return CachedMatmul(primitive: prim!, src: mem(&amd), weights: mem(&bmd), dst: mem(&cmd), bias: bias ? mem(&bmdBias) : nil,
                            weightsMD: blockedB ? bmd : nil)
    }

    /// A 2-D memory desc whose layout the primitive picks (`dnnl_format_tag_any`).
    private func anyLayoutDesc(_ dims: [Int], _ type: dnnl_data_type_t) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let d = dims.map { Int64($0) }
        check(dnnl_memory_desc_init_by_tag(&md, Int32(dims.count), d, type, dnnl_format_tag_any), "dnnl_memory_desc_init_by_tag(\(dims), any)")
        return md
    }

    private func memoryDesc(_ dims: [Int], _ strides: [Int], _ type: dnnl_data_type_t = dnnl_f32) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        let d = dims.map { Int64($0) }, s = strides.map { Int64($0) }
        check(dnnl_memory_desc_init_by_strides(&md, Int32(dims.count), d, type, s), "dnnl_memory_desc_init_by_strides(\(dims), \(strides))")
        return md
    }

    private func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
        if status != dnnl_success {
            fatalError("oneDNN: \(what()) failed with status \(status.rawValue) (fix: check that libdnnl is installed and the shapes are valid)")
        }
    }
}
