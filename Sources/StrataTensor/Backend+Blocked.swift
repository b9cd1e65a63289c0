// Registered weights kept in the layout oneDNN's matmul prefers. A 2-D product whose
// B operand is exactly a registered weight (`withPrecision(_:cachedWeights:)`: the
// whole tensor, in its own layout or transposed by strides) runs on a primitive made
// with the weights memory desc `format_tag_any`; the layout oneDNN picks for that
// product (e.g. `BA16a64b2a` for bf16 on AMX) is filled from the fp32 weight in one
// strided Swift pass — narrowing to bf16 on the way in bf16 — on the first use
// after each `invalidateBF16Weights()`, so micro-batches and the layers' repeated
// products reuse it instead of oneDNN re-packing the plain weight on every call.
// Each weight keeps one copy per (layout, data type) it is read in: a linear layer's
// weight is read as W (forward) and as Wᵀ (dX), so it holds two. In bf16 they replace
// the plain bf16 copy (together the size of the fp32 weight); in fp32 they add twice
// the weight's size.
// Which products use it: `Backend.blockedWeights` (default `.off`: the nano weight
// products took 14–15% less CPU time in bf16, 5–28% per product, and 3–5% less in fp32,
// but on the idle VM the whole bf16 training step ran 6–8% slower with it — 2,006 / 1,939
// against 2,133 / 2,097 tokens/s, interleaved — docs/benchmarks.md); STRATA_BLOCKED_WEIGHTS=
// 0 / bf16 / all in the environment sets it for the process.
// Leaves out: activations and gradients (always plain, strided), batched (attention)
// products, products whose B is part of a weight.

import Foundation
import CDNNL
import StrataCore

/// A registered weight's image in a layout a matmul primitive chose: the buffer and the weight generation it was
/// last filled at. Blocked layouts of a 2-D desc are separable — element (i, j) lives at rowOffset[i] +
/// colOffset[j] (each inner block splits one dim) — so filling is one strided pass in Swift, narrowing to bf16 on
/// the way, with padding zeroed once. (A oneDNN reorder does the same, but each one is a parallel region that
/// costs a scheduler tick on a loaded machine: ~6 ms per weight, 15% of a nano bf16 step, measured.)
final class BlockedCopy {
    let md: dnnl_memory_desc_t
    /// The strides the weight is read with (W or Wᵀ): a square weight has both orientations in equal descs.
    let sourceStrides: [Int]
    let buffer: UnsafeMutableRawPointer
    let bytes: Int
    let rowOffset: [Int], colOffset: [Int]
    var generation = -1

    init(md: dnnl_memory_desc_t, rows: Int, cols: Int, sourceStrides: [Int]) {
        self.md = md; self.sourceStrides = sourceStrides
        var copy = md
        bytes = dnnl_memory_desc_get_size(&copy)
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 64, max(bytes, 64)) == 0, let raw else { fatalError("blocked weights: could not allocate \(bytes) bytes") }
        buffer = raw
        memset(buffer, 0, bytes)   // padding past the logical dims stays zero
        rowOffset = (0..<rows).map { BlockedCopy.offset(md, dim: 0, index: $0) }
        colOffset = (0..<cols).map { BlockedCopy.offset(md, dim: 1, index: $0) }
    }

    deinit { free(buffer) }

    /// Whether `md` is a layout this packer writes: plain-or-blocked 2-D, no offset, f32 or bf16.
    static func packable(_ md: dnnl_memory_desc_t) -> Bool {
        md.ndims == 2 && md.format_kind == dnnl_blocked && md.offset0 == 0 && (md.data_type == dnnl_f32 || md.data_type == dnnl_bf16)
    }

    /// Element offset contributed by index `index` of dim `dim`: its outer block times the dim's stride, plus its
    /// digit in each inner block of that dim times the inner block's stride (inner blocks listed outermost first).
    static func offset(_ md: dnnl_memory_desc_t, dim: Int, index: Int) -> Int {
        var blk = md.format_desc.blocking
        let strides = dims(&blk.strides), n = Int(blk.inner_nblks)
        let blks = dims(&blk.inner_blks).prefix(n).map(Int.init), idxs = dims(&blk.inner_idxs).prefix(n).map(Int.init)
        let own = (0..<n).filter { idxs[$0] == dim }
        let blockTotal = own.reduce(1) { $0 * blks[$1] }
        var off = index / blockTotal * Int(strides[dim])
        var rem = index % blockTotal, below = blockTotal
        for k in own {   // this dim's inner blocks, outermost first
            below /= blks[k]
            let digit = rem / below
            rem %= below
            off += digit * blks[(k + 1)..<n].reduce(1, *)
        }
        return off
    }

    static func dims(_ t: inout dnnl_dims_t) -> [Int64] {
        withUnsafeBytes(of: &t) { Array($0.bindMemory(to: Int64.self).prefix(Int(DNNL_MAX_NDIMS))) }
    }

    /// Writes the fp32 operand `b` (this copy's logical dims, any strides) into the buffer, as bf16 when the
    /// layout is bf16. The loop runs along whichever of b's dims is contiguous; rows are split over the cores.
    func fill(from b: MatView) {
        let (rows, cols, s0, s1) = (b.dims[0], b.dims[1], b.strides[0], b.strides[1])
        let src = b.ptr, ro = rowOffset, co = colOffset, toBF16 = md.data_type == dnnl_bf16
        let (outer, inner, so, si) = s1 == 1 || s0 != 1 ? (rows, cols, s0, s1) : (cols, rows, s1, s0)
        let (oo, io) = s1 == 1 || s0 != 1 ? (ro, co) : (co, ro)
        let f32 = buffer.assumingMemoryBound(to: Float.self), h16 = buffer.assumingMemoryBound(to: UInt16.self)
        Parallel.rows(outer, minPerChunk: max(1, 65_536 / max(inner, 1))) { start, end in
            for o in start..<end {
                let base = oo[o], line = src + o * so
                if toBF16 {
                    for i in 0..<inner { h16[base + io[i]] = BF16.bits(line[i * si]) }
                } else {
                    for i in 0..<inner { f32[base + io[i]] = line[i * si] }
                }
            }
        }
    }
}

/// Which 2-D products read registered weights from blocked copies.
public enum BlockedWeightPolicy: String, Sendable, CaseIterable {
    /// None: every weight is passed plain (row-major or transposed by strides). The default.
    case off = "0"
    /// Products running in bf16 only.
    case bf16
    /// bf16 and fp32 products (fp32 copies add twice the weights' size).
    case all

    /// The process default: STRATA_BLOCKED_WEIGHTS when set to one of the cases, else `.off`.
    static var fromEnvironment: BlockedWeightPolicy {
        ProcessInfo.processInfo.environment["STRATA_BLOCKED_WEIGHTS"].flatMap(BlockedWeightPolicy.init(rawValue:)) ?? .off
    }
}

/// Counters of the blocked-weight path (tests and the kernel benchmark read them).
public struct BlockedWeightStats: Sendable, Equatable {
    /// Products whose B operand was read from a blocked copy.
    public var products = 0
    /// Fills of a blocked copy from the fp32 weight (one per copy per weight generation).
    public var reorders = 0
    /// Bytes held by the blocked copies of the current precision scope.
    public var bytes = 0
}

extension Backend {
    /// Which products whose B is a registered weight read it from a copy in oneDNN's preferred layout
    /// (default `.off`, or STRATA_BLOCKED_WEIGHTS=0 / bf16 / all from the environment).
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

    /// The buffer holding weight `w` (read as `b`) in layout `md`, filled from the fp32 weight now if it is
    /// stale (caller holds the lock).
    func blockedOperand(_ w: BF16State.Weight, _ b: MatView, md: dnnl_memory_desc_t) -> UnsafeMutableRawPointer {
        var md = md
        let copy: BlockedCopy
        if let hit = w.blocked.first(where: { c in
            c.sourceStrides == b.strides && withUnsafePointer(to: c.md) { dnnl_memory_desc_equal($0, &md) != 0 } }) {
            copy = hit
        } else {
            copy = BlockedCopy(md: md, rows: b.dims[0], cols: b.dims[1], sourceStrides: b.strides)
            w.blocked.append(copy)
        }
        if copy.generation != bf16.generation {
            copy.fill(from: b)
            copy.generation = bf16.generation
            blocked.stats.reorders += 1
            if md.data_type == dnnl_bf16 { bf16.conversions += 1 }   // a weight narrowed to bf16 (in its blocked layout)
        }
        blocked.stats.products += 1
        return copy.buffer
    }

    /// oneDNN's format tag style for a 2-D memory desc: dims `a` (rows) and `b` (cols) outermost first,
    /// upper case where blocked, then the inner blocks (e.g. `BA16a64b2a`); `ab`/`ba` for plain layouts.
    static func layoutName(_ md: dnnl_memory_desc_t) -> String {
        guard md.format_kind == dnnl_blocked else { return "format kind \(md.format_kind.rawValue)" }
        var blk = md.format_desc.blocking
        let n = Int(md.ndims)
        let strides = BlockedCopy.dims(&blk.strides), nb = Int(blk.inner_nblks)
        let blks = BlockedCopy.dims(&blk.inner_blks).prefix(nb), idxs = BlockedCopy.dims(&blk.inner_idxs).prefix(nb)
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
