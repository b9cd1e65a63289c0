// Memory for bf16 operand copies, mapped outside glibc's heap.
// bf16 products narrow activations and gradients into short-lived buffers
// (one per product, or one per op that reads an operand twice). In the heap,
// which Strata tunes never to trim or hand back (Backend.init), those buffers
// sit between the step's long-lived fp32 activations; when they are freed the
// holes they leave rarely fit the next fp32 tensor, and the heap grows by the
// holes (~45 MiB of peak RSS at nano size, docs/benchmarks.md). The arena keeps
// them apart: it maps chunks of address space (64 MiB or the request, whichever
// is larger) with mmap, and hands out 64-byte aligned blocks by address-ordered
// first fit, merging a freed block with free neighbours. A page is resident once
// touched and stays so (like the heap, nothing is given back to the kernel while
// the process runs), so the arena's resident size is about the largest set of
// copies alive at once, packed low in the first chunk.
// Leaves out: returning pages to the kernel (a re-touched page is zeroed by the
// kernel: per-product unmapping costs page faults every step), per-thread pools
// (products run one at a time; the lock is uncontended).

import Foundation
import StrataCore

/// An address-ordered first-fit allocator over mmap'd chunks, for buffers of 64 KiB and more.
public final class OperandArena: @unchecked Sendable {
    /// The process's arena, used by `BF16Buffer` for copies of at least `BF16Buffer.arenaMinimumBytes`.
    public static let shared = OperandArena()

    /// Counters: what is mapped, what is handed out now, and the most ever handed out at once.
    public struct Stats: Sendable, Equatable {
        public var mappedBytes = 0
        public var liveBytes = 0
        public var peakLiveBytes = 0
        /// The highest end (from its chunk's base) any block reached, summed over chunks: the pages ever touched.
        public var touchedBytes = 0
    }

    /// One mapping: its base, size, free blocks sorted by offset, and the highest offset ever handed out.
    private struct Chunk {
        let base: UnsafeMutableRawPointer
        let size: Int
        var free: [(offset: Int, size: Int)]
        var highWater = 0
    }

    public static let alignment = 64
    private let chunkBytes: Int
    private var chunks: [Chunk] = []
    private var stats = Stats()
    private let lock = NSLock()

    /// `chunkBytes`: the size of each mapping (a larger request gets a mapping of its own size).
    public init(chunkBytes: Int = 64 << 20) { self.chunkBytes = chunkBytes }

    deinit { for c in chunks { munmap(c.base, c.size) } }

    public var currentStats: Stats { lock.lock(); defer { lock.unlock() }; return stats }

    /// A 64-byte aligned block of at least `bytes` bytes; contents undefined.
    public func allocate(_ bytes: Int) -> UnsafeMutableRawPointer {
        let size = Self.rounded(bytes)
        lock.lock(); defer { lock.unlock() }
        for c in chunks.indices {
            if let p = take(size, from: c) { return p }
        }
        mapChunk(minimum: size)
        guard let p = take(size, from: chunks.count - 1) else {
            fatalError("OperandArena: a fresh \(chunks[chunks.count - 1].size)-byte chunk could not hold \(size) bytes")
        }
        return p
    }

    /// Returns a block from `allocate(bytes)` (the same `bytes`).
    public func deallocate(_ p: UnsafeMutableRawPointer, bytes: Int) {
        let size = Self.rounded(bytes)
        lock.lock(); defer { lock.unlock() }
        guard let c = chunks.firstIndex(where: { $0.base <= p && p < $0.base + $0.size }) else {
            fatalError("OperandArena: \(p) was not allocated here")
        }
        insertFree(offset: p - chunks[c].base, size: size, into: c)
        stats.liveBytes -= size
    }

    static func rounded(_ bytes: Int) -> Int { (max(bytes, 1) + alignment - 1) / alignment * alignment }

    /// First fit in chunk `c`, lowest address first (caller holds the lock).
    private func take(_ size: Int, from c: Int) -> UnsafeMutableRawPointer? {
        guard let i = chunks[c].free.firstIndex(where: { $0.size >= size }) else { return nil }
        let block = chunks[c].free[i]
        if block.size == size { chunks[c].free.remove(at: i) } else { chunks[c].free[i] = (block.offset + size, block.size - size) }
        let end = block.offset + size
        if end > chunks[c].highWater { stats.touchedBytes += end - chunks[c].highWater; chunks[c].highWater = end }
        stats.liveBytes += size
        stats.peakLiveBytes = max(stats.peakLiveBytes, stats.liveBytes)
        return chunks[c].base + block.offset
    }

    /// Puts a block back, merged with the free blocks that touch it (caller holds the lock).
    private func insertFree(offset: Int, size: Int, into c: Int) {
        var free = chunks[c].free
        let i = free.firstIndex { $0.offset > offset } ?? free.count
        var block = (offset: offset, size: size)
        var at = i
        if i > 0, free[i - 1].offset + free[i - 1].size == offset {
            block = (free[i - 1].offset, free[i - 1].size + size)
            at = i - 1
            free.remove(at: at)
        }
        if at < free.count, block.offset + block.size == free[at].offset {
            block.size += free[at].size
            free.remove(at: at)
        }
        free.insert(block, at: at)
        chunks[c].free = free
    }

    private func mapChunk(minimum: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let size = (max(chunkBytes, minimum) + page - 1) / page * page
        let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let p, p != MAP_FAILED else {
            fatalError("OperandArena: mmap of \(size) bytes for bf16 operand copies failed (errno \(errno)); free memory or train in fp32")
        }
        chunks.append(Chunk(base: p, size: size, free: [(0, size)]))
        stats.mappedBytes += size
    }
}
