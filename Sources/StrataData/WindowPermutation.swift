// A seeded permutation of 0..<count computed on demand (a 4-round Feistel
// network with cycle walking), so a random window order needs no stored array
// and a loader's state stays a few integers. Leaves out: statistical guarantees
// beyond "looks shuffled" (not needed for data order).

struct WindowPermutation: Sendable {
    let count: Int
    private let key: UInt64
    private let halfBits: UInt64
    private let mask: UInt64

    init(count: Int, key: UInt64) {
        precondition(count > 0)
        self.count = count
        self.key = key
        var bits: UInt64 = 2
        while (UInt64(1) << bits) < UInt64(count) { bits += 1 }
        if bits % 2 == 1 { bits += 1 }
        halfBits = bits / 2
        mask = (UInt64(1) << halfBits) - 1
    }

    /// The position `i` maps to; a bijection on 0..<count.
    func callAsFunction(_ i: Int) -> Int {
        precondition(i >= 0 && i < count)
        guard count > 1 else { return 0 }
        var x = UInt64(i)
        repeat { x = encrypt(x) } while x >= UInt64(count)
        return Int(x)
    }

    private func encrypt(_ x: UInt64) -> UInt64 {
        var l = x >> halfBits, r = x & mask
        for round in 0..<4 as Range<UInt64> {
            let f = Hash64.mix(key ^ Hash64.mix(r &+ round &* 0x9E37_79B9_7F4A_7C15)) & mask
            (l, r) = (r, l ^ f)
        }
        return (l << halfBits) | r
    }
}
