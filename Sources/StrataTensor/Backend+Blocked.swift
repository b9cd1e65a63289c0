// Registered weights kept in the layout oneDNN's matmul prefers. A 2-D product whose
// B operand is exactly a registered weight (`withPrecision(_:cachedWeights:)`: the
// whole tensor, in its own layout or transposed by strides) runs on a primitive made
// with the weights memory desc `format_tag_any`; the layout oneDNN picks for that
// product (e.g. `BA16a64b2a` for bf16 on AMX) is filled by one oneDNN reorder from the
// fp32 weight — converting to bf16 in the same reorder in bf16 — on the first use
// after each `invalidateBF16Weights()`, so micro-batches and the layers' repeated
// products reuse it instead of oneDNN re-packing the plain weight on every call.
// Each weight keeps one copy per (layout, data type) it is read in: a linear layer's
// weight is read as W (forward) and as Wᵀ (dX), so it holds two. In bf16 they replace
// the plain bf16 copy (together the size of the fp32 weight); in fp32 they add twice
// the weight's size.
// Which products use it: `Backend.blockedWeights` (default `.bf16`: measured 12–19%
// faster on the nano weight products in bf16, 3–5% in fp32, not worth twice the
// weights' memory there — docs/benchmarks.md); STRATA_BLOCKED_WEIGHTS=0 / bf16 / all
// in the environment sets it for the process. Leaves out: activations and gradients (always plain, strided),
// batched (attention) products, products whose B is part of a weight.

import Foundation
import CDNNL
import StrataCore

/// A registered weight's image in a layout a matmul primitive chose: the buffer, the reorder that fills it from
/// the fp32 weight (data type conversion included), and the weight generation it was last filled at.
final class BlockedCopy {
    var md: dnnl_memory_desc_t
    let buffer: UnsafeMutableRawPointer
    let bytes: Int
    let reorder: dnnl_primitive_t
    let from: dnnl_memory_t, to: dnnl_memory_t
    var generation = -1

    init(md: dnnl_memory_desc_t, buffer: UnsafeMutableRawPointer, bytes: Int, reorder: dnnl_primitive_t, from: dnnl_memory_t, to: dnnl_memory_t) {
        self.md = md; self.buffer = buffer; self.bytes = bytes; self.reorder = reorder; self.from = from; self.to = to
    }

    deinit {
        dnnl_memory_destroy(from); dnnl_memory_destroy(to); dnnl_primitive_destroy(reorder)
        free(buffer)
    }
}

/// Which 2-D products read registered weights from blocked copies.
public enum BlockedWeightPolicy: String, Sendable, CaseIterable {
    /// None: every weight is passed plain (row-major or transposed by strides).
    case off = "0"
    /// Products running in bf16 only (the default).
    case bf16
    /// bf16 and fp32 products (fp32 copies add twice the weights' size).
    case all

    /// The process default: STRATA_BLOCKED_WEIGHTS when set to one of the cases, else `.bf16`.
    static var fromEnvironment: BlockedWeightPolicy {
        ProcessInfo.processInfo.environment["STRATA_BLOCKED_WEIGHTS"].flatMap(BlockedWeightPolicy.init(rawValue:)) ?? .bf16
    }
}

/// Counters of the blocked-weight path (tests and the kernel benchmark read them).
public struct BlockedWeightStats: Sendable, Equatable {
    /// Products whose B operand was read from a blocked copy.
    public var products = 0
    /// Reorders that filled a blocked copy (one per copy per weight generation).
    public var reorders = 0
    /// Bytes held by the blocked copies of the current precision scope.
    public var bytes = 0
}

extension Backend {
    /// Which products whose B is a registered weight read it from a copy in oneDNN's preferred layout
    /// (default `.bf16`, or STRATA_BLOCKED_WEIGHTS=0 / bf16 / all from the environment).
    public var blockedWeights: BlockedWeightPolicy {
        get { lock.lock(); defer { lock.unlock() }; return blocked.policy }
        set { lock.lock(); blocked.policy = newValue; lock.unlock() }
    }

    /// The blocked path's counters since the last `resetBlockedWeightStats()`; `bytes` is what the current scope holds.
    public var blockedWeightStats: BlockedWeightStats {
        lock.lock(); defer { lock.unlock() }
        var s = blocked.stats
        s.bytes = bf16.weights.values.reduce(0) { $0 + $1.blocked.reduce(0) { $0 + $1.bytes } }
        return s
    }

    public func resetBlockedWeightStats() { lock.lock(); blocked.stats = BlockedWeightStats(); lock.unlock() }

    /// The registered weight that is exactly `b` (caller holds the lock), when the blocked path applies to A·B.
    func blockedWeight(_ a: MatView, _ b: MatView, inBF16: Bool) -> BF16State.Weight? {
        guard blocked.policy == .all || (blocked.policy == .bf16 && inBF16), a.dims.count == 2, b.dims.count == 2, let w = bf16.weights[b.ptr], w.owner != nil else { return nil }
        // Exactly the whole weight, dense in one of its two orientations (row-major or transposed by strides).
        let rows = b.dims[0], cols = b.dims[1]
        guard rows * cols == w.count, b.strides == [cols, 1] || b.strides == [1, rows] else { return nil }
        return w
    }

    /// The buffer holding weight `w` (read as `b`) in layout `md`, reordered from the fp32 weight now if it is
    /// stale (caller holds the lock).
    func blockedOperand(_ w: BF16State.Weight, _ b: MatView, md: dnnl_memory_desc_t) -> UnsafeMutableRawPointer {
        var md = md
        let copy: BlockedCopy
        if let hit = w.blocked.first(where: { c in withUnsafePointer(to: &c.md) { dnnl_memory_desc_equal($0, &md) != 0 } }) {
            copy = hit
        } else {
            copy = makeBlockedCopy(b, md: md)
            w.blocked.append(copy)
        }
        if copy.generation != bf16.generation {
            dnnl_memory_set_data_handle(copy.from, b.ptr)
            var args = [dnnl_exec_arg_t(arg: Int32(DNNL_ARG_FROM), memory: copy.from), dnnl_exec_arg_t(arg: Int32(DNNL_ARG_TO), memory: copy.to)]
            blockedCheck(dnnl_primitive_execute(copy.reorder, stream, 2, &args), "execute(reorder to blocked \(b.dims))")
            blockedCheck(dnnl_stream_wait(stream), "stream_wait")
            copy.generation = bf16.generation
            blocked.stats.reorders += 1
            if md.data_type == dnnl_bf16 { bf16.conversions += 1 }   // a weight narrowed to bf16 (in its blocked layout)
        }
        blocked.stats.products += 1
        return copy.buffer
    }

    /// A buffer in layout `md` and the reorder into it from the fp32 operand `b` (its dims and strides).
    private func makeBlockedCopy(_ b: MatView, md: dnnl_memory_desc_t) -> BlockedCopy {
        var md = md
        var plain = dnnl_memory_desc_t()
        let dims = b.dims.map { Int64($0) }, strides = b.strides.map { Int64($0) }
        blockedCheck(dnnl_memory_desc_init_by_strides(&plain, 2, dims, dnnl_f32, strides), "memory_desc(\(b.dims), \(b.strides))")
        let bytes = dnnl_memory_desc_get_size(&md)
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, max(bytes, 64)) == 0, let buffer = raw else {
            fatalError("blocked weights: could not allocate \(bytes) bytes for a weight copy")
        }
        var pd: dnnl_primitive_desc_t?, prim: dnnl_primitive_t?, from: dnnl_memory_t?, to: dnnl_memory_t?
        blockedCheck(dnnl_reorder_primitive_desc_create(&pd, &plain, engine, &md, engine, nil), "reorder_primitive_desc_create(\(b.dims) → \(Backend.layoutName(md)))")
        defer { dnnl_primitive_desc_destroy(pd) }
        blockedCheck(dnnl_primitive_create(&prim, pd), "primitive_create(reorder)")
        blockedCheck(dnnl_memory_create(&from, &plain, engine, nil), "memory_create(plain)")
        blockedCheck(dnnl_memory_create(&to, &md, engine, buffer), "memory_create(blocked)")
        return BlockedCopy(md: md, buffer: buffer, bytes: bytes, reorder: prim!, from: from!, to: to!)
    }

    private func blockedCheck(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
        if status != dnnl_success { fatalError("oneDNN blocked weights: \(what()) failed with status \(status.rawValue)") }
    }

    /// oneDNN's format tag style for a 2-D memory desc: dims `a` (rows) and `b` (cols) outermost first,
    /// upper case where blocked, then the inner blocks (e.g. `BA16a64b2a`); `ab`/`ba` for plain layouts.
    static func layoutName(_ md: dnnl_memory_desc_t) -> String {
        guard md.format_kind == dnnl_blocked else { return "format kind \(md.format_kind.rawValue)" }
        var blk = md.format_desc.blocking
        let n = Int(md.ndims)
        func read(_ t: inout dnnl_dims_t) -> [Int64] {
            withUnsafeBytes(of: &t) { Array($0.bindMemory(to: Int64.self).prefix(Int(DNNL_MAX_NDIMS))) }
        }
        let strides = read(&blk.strides), nb = Int(blk.inner_nblks)
        let blks = read(&blk.inner_blks).prefix(nb), idxs = read(&blk.inner_idxs).prefix(nb)
        let letters = Array("abcdefghijkl")
        let order = (0..<n).sorted { strides[$0] > strides[$1] || (strides[$0] == strides[$1] && $0 < $1) }
        let outer = order.map { idxs.contains(Int64($0)) ? String(letters[$0]).uppercased() : String(letters[$0]) }.joined()
        let inner = zip(blks, idxs).map { "\($0.0)\(letters[Int($0.1)])" }.joined()
        return outer + inner + (md.data_type == dnnl_bf16 ? " (bf16)" : " (f32)")
    }
}

/// The blocked path's switch and counters (guarded by the backend's lock).
struct BlockedState {
    var policy = BlockedWeightPolicy.fromEnvironment
    var stats = BlockedWeightStats()
}

extension Backend {
    /// The layouts (oneDNN tag style, data type) of `weight`'s blocked copies in the current precision scope.
    public func blockedLayouts(of weight: Tensor) -> [String] {
        lock.lock(); defer { lock.unlock() }
        return bf16.weights[weight.ptr]?.blocked.map { Backend.layoutName($0.md) } ?? []
    }
}
