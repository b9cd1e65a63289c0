// Open-addressing hash tables for the hot paths, so encoding and training never
// hash through Swift's generic Hasher: ByteKeyTable maps byte strings (kept in one
// arena) to an Int64 value, PairTable maps a pair of token ids to an Int64.
// Leaves out: deletion (tables are built and grown, never pruned).

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A fast, well-mixed 64-bit hash of a byte string (8 bytes per step).
@inline(__always)
func hashBytes(_ p: UnsafePointer<UInt8>, _ n: Int) -> UInt64 {
    var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(truncatingIfNeeded: n)
    let raw = UnsafeRawPointer(p)
    var i = 0
    while i + 8 <= n {
        h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 29
        i += 8
    }
    if i < n {
        var w: UInt64 = 0, shift: UInt64 = 0
        while i < n { w |= UInt64(p[i]) << shift; shift += 8; i += 1 }
        h = (h ^ w) &* 0x94D0_49BB_1331_11EB
    }
    h ^= h >> 32
    h &*= 0xD6E8_FEB8_6659_FD93
    h ^= h >> 32
    return h
}

/// Byte string → Int64. Entries are numbered densely in insertion order.
struct ByteKeyTable {
    /// 0 = empty; else (hash high 32 bits << 32) | (entry + 1).
    private var slots: [UInt64]
    private var mask: Int
    private(set) var keyStart: [Int] = []
    private(set) var keyLength: [Int32] = []
    private(set) var arena: [UInt8] = []
    var values: [Int64] = []

    init(capacity: Int = 64) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [UInt64](repeating: 0, count: size)
        mask = size - 1
    }

    var count: Int { keyLength.count }

    /// Entry index of the key, or nil.
    @inline(__always)
    func find(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64) -> Int? {
        let tag = h >> 32
        var idx = Int(truncatingIfNeeded: h) & mask
        return arena.withUnsafeBufferPointer { ab -> Int? in
            while true {
                let s = slots[idx]
                if s == 0 { return nil }
                if s >> 32 == tag {
                    let e = Int(truncatingIfNeeded: s & 0xFFFF_FFFF) - 1
                    if Int(keyLength[e]) == n && (n == 0 || memcmp(ab.baseAddress! + keyStart[e], p, n) == 0) { return e }
                }
                idx = (idx + 1) & mask
            }
        }
    }

    /// Adds a key known to be absent; returns its entry index.
    @discardableResult
    mutating func insert(_ p: UnsafePointer<UInt8>, _ n: Int, hash h: UInt64, value: Int64) -> Int {
        if (count + 1) * 2 > slots.count { grow() }
        let e = count
        keyStart.append(arena.count)
        keyLength.append(Int32(n))
        arena.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        values.append(value)
        place(tag: h >> 32, low: h, entry: e)
        return e
    }

    /// Entry index for the key, inserting it with `value` when absent.
    @inline(__always)
    mutating func findOrInsert(_ p: UnsafePointer<UInt8>, _ n: Int, value: Int64) -> (entry: Int, inserted: Bool) {
        let h = hashBytes(p, n)
        if let e = find(p, n, hash: h) { return (e, false) }
        return (insert(p, n, hash: h, value: value), true)
    }

    /// Calls body with a pointer to entry e's bytes.
    func withKey<R>(_ e: Int, _ body: (UnsafePointer<UInt8>, Int) -> R) -> R {
        arena.withUnsafeBufferPointer { body($0.baseAddress! + keyStart[e], Int(keyLength[e])) }
    }

    private mutating func place(tag: UInt64, low: UInt64, entry: Int) {
        var idx = Int(truncatingIfNeeded: low) & mask
        while slots[idx] != 0 { idx = (idx + 1) & mask }
        slots[idx] = tag << 32 | UInt64(entry + 1)
    }

    private mutating func grow() {
        let size = slots.count * 2
        slots = [UInt64](repeating: 0, count: size)
        mask = size - 1
        arena.withUnsafeBufferPointer { ab in
            for e in 0..<count {
                let h = hashBytes(ab.baseAddress! + keyStart[e], Int(keyLength[e]))
                place(tag: h >> 32, low: h, entry: e)
            }
        }
    }
}

/// (Int32, Int32) → Int64, for merge ranks and training pair indices.
struct PairTable: Sendable {
    static let absent = Int64.min
    private var keys: [UInt64]
    private var vals: [Int64]
    private var shift: UInt64
    private(set) var count = 0

    init(capacity: Int = 64) {
        var size = 16, bits: UInt64 = 4
        while size < capacity * 2 { size <<= 1; bits += 1 }
        keys = [UInt64](repeating: .max, count: size)
        vals = [Int64](repeating: 0, count: size)
        shift = 64 - bits
    }

    @inline(__always)
    static func key(_ a: Int32, _ b: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
    }

    @inline(__always)
    private func slot(_ k: UInt64) -> Int { Int(truncatingIfNeeded: (k &* 0x9E37_79B9_7F4A_7C15) >> shift) }

    /// The value for (a, b), or `PairTable.absent`.
    @inline(__always)
    func get(_ a: Int32, _ b: Int32) -> Int64 {
        let k = PairTable.key(a, b)
        let mask = keys.count - 1
        var idx = slot(k)
        while true {
            let s = keys[idx]
            if s == k { return vals[idx] }
            if s == .max { return PairTable.absent }
            idx = (idx + 1) & mask
        }
    }

    /// Sets (a, b) → v, overwriting.
    mutating func set(_ a: Int32, _ b: Int32, _ v: Int64) {
        if (count + 1) * 2 > keys.count { grow() }
        let k = PairTable.key(a, b)
        let mask = keys.count - 1
        var idx = slot(k)
        while keys[idx] != .max && keys[idx] != k { idx = (idx + 1) & mask }
        if keys[idx] == .max { count += 1; keys[idx] = k }
        vals[idx] = v
    }

    private mutating func grow() {
        let oldKeys = keys, oldVals = vals
        keys = [UInt64](repeating: .max, count: oldKeys.count * 2)
        vals = [Int64](repeating: 0, count: oldKeys.count * 2)
        shift -= 1
        count = 0
        for i in oldKeys.indices where oldKeys[i] != .max {
            let a = Int32(bitPattern: UInt32(truncatingIfNeeded: oldKeys[i] >> 32))
            let b = Int32(bitPattern: UInt32(truncatingIfNeeded: oldKeys[i]))
            set(a, b, oldVals[i])
        }
    }
}
