// The encoding engine: an immutable EncoderCore (merge ranks, byte ids, scanner,
// decode table) shared by all threads, and a per-thread EncodeWorker holding a
// cache of already-encoded pieces and scratch space. Short pieces merge by
// rescanning a small rank array; long ones (over `quadraticLimit` bytes) use a
// heap over a linked list, so 100k repeated characters cost O(n log n). The worker
// counts its merge steps (`mergeSteps`), so tests check that bound without a clock.
// Leaves out: BPE dropout, byte fallback, cross-call caching (caches live per call).

struct EncoderCore: Sendable {
    /// (left, right) → rank << 32 | merged id.
    let mergeRanks: PairTable
    /// Id of each raw byte's token, -1 if the vocab lacks it.
    let byteToID: [Int32]
    let unkID: Int32
    let fuseUnk: Bool
    let pre: PreTokenizer
    let addPrefixSpace: Bool
    /// With ignore_merges, whole pieces found here are emitted as one id.
    let wholeTokens: ByteKeyTable?
    /// Bytes of each id: decodeBytes[decodeOffsets[id]..<decodeOffsets[id + 1]].
    let decodeBytes: [UInt8]
    let decodeOffsets: [Int]
    let isSpecial: [Bool]
    let matcher: AddedTokenMatcher

    static let quadraticLimit = 48
    static let maxCachedLength = 256
}

struct EncodeWorker {
    let core: EncoderCore
    private var cache = PieceCache()
    private var syms = [Int32](repeating: 0, count: 64)
    private var packed = [Int64](repeating: 0, count: 64)
    private var links = [Int32]()
    private var heap = [UInt64]()
    /// Merge work done so far: bytes brought into merging, adjacent pairs scanned by the short
    /// path, heap entries popped and heap levels sifted by the long path. Pieces found in the
    /// piece cache and the pre-tokenizer's scan are not counted. Tests read it as a cost measure;
    /// it is added to once per merge or heap step, never per byte of cached text.
    private(set) var mergeSteps = 0

    init(core: EncoderCore) { self.core = core }

    /// Encodes p[0..<n] as ordinary text (no added-token matching).
    mutating func encodeOrdinary(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout [Int]) {
        if n == 0 { return }
        if core.addPrefixSpace && p[0] != PieceScan.blank {
            var withSpace = [UInt8](repeating: PieceScan.blank, count: n + 1)
            withSpace.withUnsafeMutableBufferPointer { wb in
                wb.baseAddress!.advanced(by: 1).update(from: p, count: n)
                scanAndEncode(UnsafePointer(wb.baseAddress!), n + 1, into: &out)
            }
        } else {
            scanAndEncode(p, n, into: &out)
        }
    }

    private mutating func scanAndEncode(_ p: UnsafePointer<UInt8>, _ n: Int, into out: inout [Int]) {
        let pre = core.pre
        CharClass.bmp.withUnsafeBufferPointer { tb in
            let table = tb.baseAddress!
            var i = 0
            while i < n {
                let e = pre.next(p, i, n, table)
                encodePiece(p + i, e - i, into: &out)
                i = e
            }
        }
    }

    @inline(__always)
    private mutating func encodePiece(_ q: UnsafePointer<UInt8>, _ len: Int, into out: inout [Int]) {
        if len == 1 {
            let id = core.byteToID[Int(q[0])]
            if id >= 0 { out.append(Int(id)) } else if core.unkID >= 0 { out.append(Int(core.unkID)) }
            return
        }
        guard len <= EncoderCore.maxCachedLength else {
            let m = merge(q, len)
            for k in 0..<m { out.append(Int(syms[k])) }
            return
        }
        let (k0, k1): (UInt64, UInt64)
        let h: UInt64
        if len <= PieceCache.inlineKey {
            (k0, k1) = PieceCache.pack(q, len)
            h = PieceCache.mix(k0, k1, len)
        } else {
            h = hashBytes(q, len)
            (k0, k1) = (0, h)
        }
        let (idx, found) = cache.probe(q, len, k0, k1, h)
        if found {
            cache.emit(idx, into: &out)
            return
        }
        let m = merge(q, len)
        syms.withUnsafeBufferPointer { sb in
            let ids = UnsafeBufferPointer(rebasing: sb[0..<m])
            cache.insert(q, len, k0, k1, h, ids: ids)
            for id in ids { out.append(Int(id)) }
        }
    }

    /// BPE-merges the bytes q[0..<len]; the result is syms[0..<returned count].
    private mutating func merge(_ q: UnsafePointer<UInt8>, _ len: Int) -> Int {
        if let whole = core.wholeTokens, let e = whole.find(q, len, hash: hashBytes(q, len)) {
            syms[0] = Int32(whole.values[e])
            return 1
        }
        if syms.count < len { syms = [Int32](repeating: 0, count: len * 2) }
        mergeSteps &+= len
        var n = 0
        for k in 0..<len {
            let id = core.byteToID[Int(q[k])]
            if id >= 0 {
                syms[n] = id; n += 1
            } else if core.unkID >= 0 && !(core.fuseUnk && n > 0 && syms[n - 1] == core.unkID) {
                syms[n] = core.unkID; n += 1
            }
        }
        if n < 2 { return n }
        if n <= EncoderCore.quadraticLimit { return mergeSmall(n) }
        return mergeHeap(n)
    }

    @inline(__always)
    private func rank(_ a: Int32, _ b: Int32) -> Int64 {
        let v = core.mergeRanks.get(a, b)
        return v == PairTable.absent ? Int64.max : v
    }

    /// Repeatedly merges the lowest-ranked (then leftmost) adjacent pair.
    private mutating func mergeSmall(_ n0: Int) -> Int {
        if packed.count < n0 { packed = [Int64](repeating: 0, count: n0 * 2) }
        var n = n0, steps = n0
        let table = core.mergeRanks
        defer { mergeSteps &+= steps }
        return syms.withUnsafeMutableBufferPointer { sb in
            packed.withUnsafeMutableBufferPointer { pb in
                let s = sb.baseAddress!, pk = pb.baseAddress!
                @inline(__always) func r(_ a: Int32, _ b: Int32) -> Int64 {
                    let v = table.get(a, b)
                    return v == PairTable.absent ? Int64.max : v
                }
                for j in 0..<(n - 1) { pk[j] = r(s[j], s[j + 1]) }
                while n > 1 {
                    var best = Int64.max, bj = -1, j = 0
                    while j < n - 1 {
                        if pk[j] < best { best = pk[j]; bj = j }
                        j += 1
                    }
                    steps &+= n
                    if bj < 0 { break }
                    s[bj] = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
                    var k = bj + 1
                    while k < n - 1 { s[k] = s[k + 1]; k += 1 }
                    k = bj + 1
                    while k < n - 2 { pk[k] = pk[k + 1]; k += 1 }
                    n -= 1
                    if bj > 0 { pk[bj - 1] = r(s[bj - 1], s[bj]) }
                    if bj < n - 1 { pk[bj] = r(s[bj], s[bj + 1]) }
                }
                return n
            }
        }
    }

    /// The same merge order via a min-heap of (rank, position) over a linked list.
    private mutating func mergeHeap(_ n: Int) -> Int {
        if links.count < 2 * n { links = [Int32](repeating: 0, count: 2 * n) }
        heap.removeAll(keepingCapacity: true)
        for i in 0..<n {
            links[2 * i] = Int32(i - 1)
            links[2 * i + 1] = i + 1 < n ? Int32(i + 1) : -1
        }
        for i in 0..<(n - 1) {
            let v = rank(syms[i], syms[i + 1])
            if v != Int64.max { heapPush(UInt64(v >> 32) << 32 | UInt64(i)) }
        }
        while let top = heapPop() {
            mergeSteps &+= 1
            let pos = Int(top & 0xFFFF_FFFF), r = Int64(top >> 32)
            if syms[pos] < 0 { continue }
            let nx = Int(links[2 * pos + 1])
            if nx < 0 { continue }
            let cur = rank(syms[pos], syms[nx])
            if cur == Int64.max || cur >> 32 != r { continue }
            syms[pos] = Int32(truncatingIfNeeded: cur & 0xFFFF_FFFF)
            syms[nx] = -1
            let nn = Int(links[2 * nx + 1])
            links[2 * pos + 1] = Int32(nn)
            if nn >= 0 { links[2 * nn] = Int32(pos) }
            let pv = Int(links[2 * pos])
            if pv >= 0 {
                let v = rank(syms[pv], syms[pos])
                if v != Int64.max { heapPush(UInt64(v >> 32) << 32 | UInt64(pv)) }
            }
            if nn >= 0 {
                let v = rank(syms[pos], syms[nn])
                if v != Int64.max { heapPush(UInt64(v >> 32) << 32 | UInt64(pos)) }
            }
        }
        var m = 0
        for i in 0..<n where syms[i] >= 0 { syms[m] = syms[i]; m += 1 }
        return m
    }

    private mutating func heapPush(_ x: UInt64) {
        heap.append(x)
        var i = heap.count - 1
        while i > 0 {
            mergeSteps &+= 1
            let parent = (i - 1) / 2
            if heap[parent] <= x { break }
            heap[i] = heap[parent]
            i = parent
        }
        heap[i] = x
    }

    private mutating func heapPop() -> UInt64? {
        guard let last = heap.popLast() else { return nil }
        if heap.isEmpty { return last }
        let top = heap[0]
        var i = 0
        let n = heap.count
        while true {
            mergeSteps &+= 1
            let l = 2 * i + 1
            if l >= n { break }
            var c = l
            if l + 1 < n && heap[l + 1] < heap[l] { c = l + 1 }
            if heap[c] >= last { break }
            heap[i] = heap[c]
            i = c
        }
        heap[i] = last
        return top
    }
}
