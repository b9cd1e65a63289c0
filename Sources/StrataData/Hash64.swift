// Small stateless 64-bit hashing used where a decision must be a pure function
// of a few integers (train/validation split, mixture source per row, window
// permutations) so it can be recomputed after a resume without stored state.
// Leaves out: anything cryptographic (SHA256 in StrataCore covers that).

enum Hash64 {
    /// splitmix64's finalizer: a bijective avalanche mix of one word.
    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Order-sensitive combination of several words.
    static func combine(_ words: UInt64...) -> UInt64 {
        var h: UInt64 = 0x6A09_E667_F3BC_C908
        for w in words { h = mix(h ^ mix(w)) }
        return h
    }

    /// Uniform in [0, 1) from a hash value (53 bits).
    @inline(__always)
    static func unit(_ h: UInt64) -> Double {
        Double(h >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// FNV-1a over UTF-8 bytes, for keying by names.
    static func string(_ s: String) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }
}
