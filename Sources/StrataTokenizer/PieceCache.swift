// The per-thread cache of encoded pieces. Each slot is 32 bytes and holds, for
// the usual case (a piece of at most 16 bytes encoding to at most 2 ids), the
// key bytes and the ids inline, so a hit costs one cache line. Longer keys live
// in an arena and longer id lists in an overflow array.
// Leaves out: eviction by age (the cache is cleared when it reaches its cap).

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

struct PieceCache {
    struct Slot {
        /// Short keys: the bytes packed (see `pack`); long keys: arena offset and full hash.
        var k0: UInt64 = 0
        var k1: UInt64 = 0
        /// 0 = empty; else hash tag << 32 | key length << 16 | id count.
        var meta: UInt64 = 0
        /// Up to 2 ids inline (first in the low half), or an offset into `overflow`.
        var ids: UInt64 = 0
    }

    static let inlineKey = 16
    private var slots: [Slot]
    private var mask: Int
    private(set) var count = 0
    private var arena = [UInt8]()
    private var overflow = [Int32]()
    let capacityLimit: Int

    init(capacityLimit: Int = 1 << 18) {
        slots = [Slot](repeating: Slot(), count: 1024)
        mask = 1023
        self.capacityLimit = capacityLimit
    }

    /// Packs a key of at most 16 bytes into two words; with the length, unique.
    @inline(__always)
    static func pack(_ p: UnsafePointer<UInt8>, _ n: Int) -> (UInt64, UInt64) {
        let raw = UnsafeRawPointer(p)
        if n >= 8 { return (raw.loadUnaligned(as: UInt64.self), raw.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)) }
        if n >= 4 {
            let a = UInt64(raw.loadUnaligned(as: UInt32.self)), b = UInt64(raw.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self))
            return (a | b << 32, 0)
        }
        var v: UInt64 = 0
        for i in 0..<n { v |= UInt64(p[i]) << UInt64(8 * i) }
        return (v, 0)
    }

    @inline(__always)
    static func mix(_ k0: UInt64, _ k1: UInt64, _ n: Int) -> UInt64 {
        var h = (k0 &* 0x9E37_79B9_7F4A_7C15) ^ (k1 &* 0xC2B2_AE3D_27D4_EB4F) ^ UInt64(truncatingIfNeeded: n)
        h ^= h >> 29
        h &*= 0xBF58_476D_1CE4_E5B9
        h ^= h >> 32
        return h
    }

    /// Where a key is or would go: (slot index, found).
    @inline(__always)
    func probe(_ p: UnsafePointer<UInt8>, _ n: Int, _ k0: UInt64, _ k1: UInt64, _ h: UInt64) -> (Int, Bool) {
        let want = (h >> 32) << 32 | UInt64(n) << 16
        var idx = Int(truncatingIfNeeded: h) & mask
        return slots.withUnsafeBufferPointer { sb in
            while true {
                let s = sb[idx]
                if s.meta == 0 { return (idx, false) }
                if s.meta & ~0xFFFF == want && s.k1 == k1 {
                    if n <= PieceCache.inlineKey {
                        if s.k0 == k0 { return (idx, true) }
                    } else if arena.withUnsafeBufferPointer({ memcmp($0.baseAddress! + Int(s.k0), p, n) == 0 }) {
                        return (idx, true)
                    }
                }
                idx = (idx + 1) & mask
            }
        }
    }

    /// Appends the ids of slot `idx` to out.
    @inline(__always)
    func emit(_ idx: Int, into out: inout [Int]) {
        let s = slots[idx]
        let count = Int(s.meta & 0xFFFF)
        if count <= 2 {
            if count > 0 { out.append(Int(Int32(truncatingIfNeeded: s.ids))) }
            if count > 1 { out.append(Int(Int32(truncatingIfNeeded: s.ids >> 32))) }
        } else {
            let start = Int(s.ids)
            overflow.withUnsafeBufferPointer { ob in
                for k in start..<(start + count) { out.append(Int(ob[k])) }
            }
        }
    }

    /// Stores ids for a key that `probe` did not find.
    mutating func insert(_ p: UnsafePointer<UInt8>, _ n: Int, _ k0: UInt64, _ k1: UInt64, _ h: UInt64,
                         ids: UnsafeBufferPointer<Int32>) {
        if count >= capacityLimit { clear() }
        if (count + 1) * 2 > slots.count { grow() }
        var s = Slot()
        s.k1 = k1
        if n <= PieceCache.inlineKey {
            s.k0 = k0
        } else {
            s.k0 = UInt64(arena.count)
            arena.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        }
        s.meta = (h >> 32) << 32 | UInt64(n) << 16 | UInt64(ids.count)
        if ids.count <= 2 {
            if ids.count > 0 { s.ids = UInt64(UInt32(bitPattern: ids[0])) }
            if ids.count > 1 { s.ids |= UInt64(UInt32(bitPattern: ids[1])) << 32 }
        } else {
            s.ids = UInt64(overflow.count)
            overflow.append(contentsOf: ids)
        }
        var idx = Int(truncatingIfNeeded: h) & mask
        while slots[idx].meta != 0 { idx = (idx + 1) & mask }
        slots[idx] = s
        count += 1
    }

    private mutating func clear() {
        slots = [Slot](repeating: Slot(), count: slots.count)
        arena.removeAll(keepingCapacity: true)
        overflow.removeAll(keepingCapacity: true)
        count = 0
    }

    /// Doubles the table; long keys keep their full hash in k1, short ones rehash from k0/k1.
    private mutating func grow() {
        let old = slots
        slots = [Slot](repeating: Slot(), count: old.count * 2)
        mask = slots.count - 1
        for s in old where s.meta != 0 {
            let n = Int((s.meta >> 16) & 0xFFFF)
            let h = n <= PieceCache.inlineKey ? PieceCache.mix(s.k0, s.k1, n) : s.k1
            var idx = Int(truncatingIfNeeded: h) & mask
            while slots[idx].meta != 0 { idx = (idx + 1) & mask }
            slots[idx] = s
        }
    }
}
