// bf16 matrix products on the CPU: while a backend's precision is `.bf16`, its
// 2-D products (linear layers forward and backward, the LM head) read bf16
// operands and accumulate and write fp32 (oneDNN's matmul with src/weights bf16,
// dst f32; on AVX-512 BF16 or AMX CPUs a brgemm kernel). Everything else — the
// tape's tensors, losses, softmax, layer norm, reductions, AdamW and its fp32
// master weights — stays fp32.
// Operands: the weights a run registers keep one bf16 copy each, made on first use
// after `invalidateBF16Weights()` (the loop calls it after every optimizer update
// and whenever the host changes the weights), so micro-batches reuse it; any other
// operand (activations, gradients, unregistered frozen weights) is narrowed per
// product into a scratch buffer (round to nearest even, Kernels+BF16.swift), or
// once per `sharingNarrowed` scope where one op's products read it twice.
// Batched products (attention's scores and mixes) run in bf16 too unless
// `bf16BatchedProducts` is off; their operands are strided views into the fused qkv
// buffer, which the attention op narrows once for all its products (a view is
// found inside a shared span that contains it).
// Registered weights read whole by 2-D products are kept in oneDNN's preferred
// (blocked) layout instead of a plain bf16 copy: Backend+Blocked.swift.
// An operand a kernel wrote in bf16 itself (a `MatView.bf16Image`) is read as it is.
// Leaves out: keeping activations in bf16 between ops (attention's probabilities
// and their gradient are the exception, inside the attention op).

import Foundation
import CDNNL
import StrataCore

/// The arithmetic of a backend's matrix products.
public enum MatmulPrecision: String, Codable, Sendable, CaseIterable {
    /// fp32 operands, fp32 accumulation.
    case fp32
    /// bf16 operands (round to nearest even), fp32 accumulation and output.
    case bf16
}

/// What the CPU offers for bf16 products, as oneDNN sees it (its effective ISA honours ONEDNN_MAX_CPU_ISA).
public struct CPUMatmulFeatures: Sendable, Equatable {
    /// oneDNN's name for the instruction set it dispatches to.
    public var isa: String
    /// Whether bf16 products run on native instructions (AVX-512 BF16 or AMX) rather than emulation.
    public var nativeBF16: Bool

    public init(isa: String, nativeBF16: Bool) { self.isa = isa; self.nativeBF16 = nativeBF16 }

    /// This process's CPU.
    public static let detected: CPUMatmulFeatures = {
        let isa = dnnl_get_effective_cpu_isa()
        let native = isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx
        return CPUMatmulFeatures(isa: isaName(isa), nativeBF16: native)
    }()

    static func isaName(_ isa: dnnl_cpu_isa_t) -> String {
        switch isa {
        case dnnl_cpu_isa_avx512_core_amx: return "avx512_core_amx"
        case dnnl_cpu_isa_avx512_core_bf16: return "avx512_core_bf16"
        case dnnl_cpu_isa_avx512_core_vnni: return "avx512_core_vnni"
        case dnnl_cpu_isa_avx512_core: return "avx512_core"
        case dnnl_cpu_isa_avx2_vnni: return "avx2_vnni"
        case dnnl_cpu_isa_avx2: return "avx2"
        case dnnl_cpu_isa_avx: return "avx"
        case dnnl_cpu_isa_sse41: return "sse41"
        default: return "isa 0x" + String(isa.rawValue, radix: 16)
        }
    }

    /// Throws unless bf16 products would run natively: without AVX-512 BF16 or AMX oneDNN emulates them,
    /// slower than fp32, so a bf16 run is refused rather than left to crawl.
    public func requireNativeBF16(_ operation: String) throws {
        guard !nativeBF16 else { return }
        throw StrataError.config(operation, "bf16 matrix products need a CPU with AVX-512 BF16 or AMX, and oneDNN "
                                 + "dispatches to \(isa) here (bf16 would be emulated, slower than fp32)",
                                 fix: "set train.precision: fp32 (--set train.precision=fp32), run on a CPU with "
                                 + "avx512_bf16 or amx_bf16 in /proc/cpuinfo, or use --device cuda; if ONEDNN_MAX_CPU_ISA is set, raise or unset it")
    }
}

extension Backend {
    /// Runs `body` with this backend's products in `precision`, caching bf16 copies of `weights` (the run's
    /// parameters) until `invalidateBF16Weights()`. Restores the previous precision and registry afterwards.
    public func withPrecision<R>(_ precision: MatmulPrecision, cachedWeights weights: [Tensor], _ body: () throws -> R) rethrows -> R {
        lock.lock()
        let saved = bf16
        bf16 = BF16State(precision: precision)
        bf16.batched = saved.batched
        for w in weights where bf16.weights[w.ptr] == nil { bf16.weights[w.ptr] = BF16State.Weight(w.ptr, count: w.count, owner: w) }
        lock.unlock()
        defer { lock.lock(); bf16 = saved; lock.unlock() }
        return try body()
    }

    /// The precision products run in now.
    public var precision: MatmulPrecision { lock.lock(); defer { lock.unlock() }; return bf16.precision }

    /// Whether batched (attention) products run in bf16 too while the precision is bf16 (default on).
    public var bf16BatchedProducts: Bool {
        get { lock.lock(); defer { lock.unlock() }; return bf16.batched }
        set { lock.lock(); bf16.batched = newValue; lock.unlock() }
    }

    /// Within `body`, each span (pointer, element count) that products read is narrowed at most once, however
    /// many products read it (a backward pass reads the output gradient and the input twice); the copies are freed
    /// after. The spans must not change inside `body`. In fp32 it just runs `body`.
    public func sharingNarrowed<R>(_ spans: [(UnsafeMutablePointer<Float>, Int)], _ body: () throws -> R) rethrows -> R {
        lock.lock()
        guard bf16.precision == .bf16 else { lock.unlock(); return try body() }
        var added: [UnsafeMutablePointer<Float>] = []
        for (p, n) in spans where bf16.weights[p] == nil {
            bf16.weights[p] = BF16State.Weight(p, count: n, owner: nil)
            added.append(p)
        }
        lock.unlock()
        defer { lock.lock(); for p in added { bf16.weights[p] = nil }; lock.unlock() }
        return try body()
    }

    /// Marks every cached bf16 weight copy stale: call after the fp32 weights changed (optimizer update, load, rollback).
    public func invalidateBF16Weights() { lock.lock(); bf16.generation += 1; lock.unlock() }

    /// Weight conversions made so far in this precision scope (tests check the cache converts once per update).
    public var bf16WeightConversions: Int { lock.lock(); defer { lock.unlock() }; return bf16.conversions }

    /// dst = bf16(src) through a oneDNN reorder primitive (made per call): the alternative to BF16.narrow that
    /// `strata bench kernels` times against it.
    public func reorderToBF16(_ src: UnsafeMutablePointer<Float>, into dst: UnsafeMutablePointer<UInt16>, count: Int) {
        var dims: [Int64] = [Int64(count)], strides: [Int64] = [1]
        var smd = dnnl_memory_desc_t(), dmd = dnnl_memory_desc_t()
        reorderCheck(dnnl_memory_desc_init_by_strides(&smd, 1, &dims, dnnl_f32, &strides), "memory_desc f32")
        reorderCheck(dnnl_memory_desc_init_by_strides(&dmd, 1, &dims, dnnl_bf16, &strides), "memory_desc bf16")
        var pd: dnnl_primitive_desc_t?, prim: dnnl_primitive_t?, sm: dnnl_memory_t?, dm: dnnl_memory_t?
        reorderCheck(dnnl_reorder_primitive_desc_create(&pd, &smd, engine, &dmd, engine, nil), "reorder_primitive_desc_create")
        reorderCheck(dnnl_primitive_create(&prim, pd), "primitive_create(reorder)")
        reorderCheck(dnnl_memory_create(&sm, &smd, engine, src), "memory_create")
        reorderCheck(dnnl_memory_create(&dm, &dmd, engine, dst), "memory_create")
        var args = [dnnl_exec_arg_t(arg: Int32(DNNL_ARG_FROM), memory: sm), dnnl_exec_arg_t(arg: Int32(DNNL_ARG_TO), memory: dm)]
        reorderCheck(dnnl_primitive_execute(prim, stream, 2, &args), "execute(reorder)")
        reorderCheck(dnnl_stream_wait(stream), "stream_wait")
        dnnl_memory_destroy(sm); dnnl_memory_destroy(dm); dnnl_primitive_destroy(prim); dnnl_primitive_desc_destroy(pd)
    }

    private func reorderCheck(_ status: dnnl_status_t, _ what: String) {
        if status != dnnl_success { fatalError("oneDNN reorder f32→bf16: \(what) failed with status \(status.rawValue)") }
    }

    /// Whether batched products (attention's) run in bf16 now: the precision is bf16 and `bf16BatchedProducts` on.
    public var batchedProductsInBF16: Bool { lock.lock(); defer { lock.unlock() }; return bf16.precision == .bf16 && bf16.batched }

    /// Whether a product with these operands runs in bf16 now (caller holds the lock).
    func productInBF16(_ a: MatView) -> Bool {
        bf16.precision == .bf16 && (a.dims.count == 2 || bf16.batched)
    }

    /// A bf16 image of `v`'s memory with the same strides: the registered weight's cached copy
    /// (narrowed now if stale), or a fresh narrowing appended to `scratch` (which the caller keeps alive).
    func bf16Operand(_ v: MatView, scratch: inout [BF16Buffer]) -> UnsafeMutableRawPointer {
        if let image = v.bf16 { return UnsafeMutableRawPointer(image) }   // already bf16
        let extent = v.dims.contains(0) ? 0 : 1 + zip(v.dims, v.strides).reduce(0) { $0 + ($1.0 - 1) * $1.1 }
        lock.lock()
        // The span that starts at the operand, else one that contains it (attention's q, k, v inside qkv).
        let span = bf16.weights[v.ptr].flatMap { extent <= $0.count ? $0 : nil }
            ?? bf16.weights.values.first { $0.ptr <= v.ptr && v.ptr + extent <= $0.ptr + $0.count }
        if let w = span {
            if w.copy == nil || w.generation != bf16.generation {
                if w.copy == nil { w.copy = BF16Buffer(count: w.count) }
                BF16.narrow(w.ptr, into: w.copy!.ptr, count: w.count)
                w.generation = bf16.generation
                if w.owner != nil { bf16.conversions += 1 }
            }
            let p = UnsafeMutableRawPointer(w.copy!.ptr + (v.ptr - w.ptr))
            lock.unlock()
            return p
        }
        lock.unlock()
        let buf = BF16Buffer(narrowing: v.ptr, count: extent)
        scratch.append(buf)
        return UnsafeMutableRawPointer(buf.ptr)
    }
}

/// A backend's bf16 state: the precision, the registered weights and their copies' generation.
struct BF16State {
    /// A span with a shared bf16 copy: a registered weight (`owner` keeps it alive for the scope) or, with no
    /// owner, a span shared for one `sharingNarrowed` call.
    final class Weight {
        let ptr: UnsafeMutablePointer<Float>
        let count: Int
        let owner: Tensor?
        var copy: BF16Buffer?
        var generation = -1
        /// The weight in the layouts 2-D products chose for it (Backend+Blocked.swift), each with its own generation.
        var blocked: [BlockedCopy] = []
        init(_ ptr: UnsafeMutablePointer<Float>, count: Int, owner: Tensor?) { self.ptr = ptr; self.count = count; self.owner = owner }
    }
    var precision: MatmulPrecision = .fp32
    var batched = true
    var weights: [UnsafeMutablePointer<Float>: Weight] = [:]
    var generation = 0
    var conversions = 0

    init(precision: MatmulPrecision = .fp32) { self.precision = precision }
}
