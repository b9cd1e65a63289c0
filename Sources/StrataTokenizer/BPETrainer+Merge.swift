// The merge loop of BPE training. Words (unique pre-tokens) are symbol arrays in
// one flat buffer; each pair keeps its count and the words it occurs in. A merge
// rewrites only those words, applying count deltas for the neighbouring pairs, and
// pushes pairs that gained occurrences onto a max-heap whose stale entries are
// corrected when popped (counts only ever fall for pairs already queued).
// Leaves out: parallel merging of words (the loop is fast enough serially).

struct MergeState {
    struct Entry {
        var count: Int64
        var a: Int32
        var b: Int32
        /// Heap order: higher count first, then the smaller (a, b).
        @inline(__always)
        func before(_ o: Entry) -> Bool {
            count != o.count ? count > o.count : (a != o.a ? a < o.a : b < o.b)
        }
    }

    // Vocab: UTF-8 of each id's byte-level string (specials: their content).
    private var tokens = [[UInt8]]()
    private var tokenIndex = ByteKeyTable(capacity: 1024)
    private(set) var specialIDs = [Int]()
    private(set) var merges = [BPETokenizer.Merge]()
    // Words.
    private var symbols = [Int32]()
    private var wordStart = [Int]()
    private var wordLength = [Int32]()
    private var wordCount = [Int64]()
    // Pairs.
    private var pairIndex = PairTable(capacity: 1 << 16)
    private var pairCount = [Int64]()
    private var pairA = [Int32](), pairB = [Int32]()
    private var pairWords = [[Int32]]()
    private var touched = [Int](), touchedFlag = [Bool]()
    private var heap = [Entry]()

    init(words: ByteKeyTable, specials: [String]) {
        for s in specials { specialIDs.append(addToken(Array(s.utf8))) }
        var byteID = [Int32](repeating: 0, count: 256)
        for b in ByteLevel.alphabetOrder {
            byteID[Int(b)] = Int32(addToken(Array(ByteLevel.string(forBytes: [b]).utf8)))
        }
        for w in 0..<words.count {
            wordStart.append(symbols.count)
            words.withKey(w) { p, n in
                for k in 0..<n { symbols.append(byteID[Int(p[k])]) }
                wordLength.append(Int32(n))
            }
            wordCount.append(words.values[w])
        }
        countPairs()
    }

    /// Id of a token string, adding it when new (as HF's trainer reuses equal strings).
    private mutating func addToken(_ utf8: [UInt8]) -> Int {
        utf8.withUnsafeBufferPointer { ub in
            let (e, inserted) = tokenIndex.findOrInsert(ub.baseAddress!, ub.count, value: Int64(tokens.count))
            if inserted { tokens.append(utf8) }
            return Int(tokenIndex.values[e])
        }
    }

    func vocabStrings() -> [String] { tokens.map { String(decoding: $0, as: UTF8.self) } }

    private mutating func countPairs() {
        for w in 0..<wordStart.count {
            let s = wordStart[w], n = Int(wordLength[w]), c = wordCount[w]
            var k = 0
            while k + 1 < n {
                add(symbols[s + k], symbols[s + k + 1], c, word: Int32(w))
                k += 1
            }
        }
        touched.removeAll()
        for i in 0..<pairCount.count {
            touchedFlag[i] = false
            if pairCount[i] > 0 { heap.append(Entry(count: pairCount[i], a: pairA[i], b: pairB[i])) }
        }
        for i in stride(from: heap.count / 2 - 1, through: 0, by: -1) { siftDown(i) }
    }

    /// Adds d to pair (a, b)'s count; a gain records the word and marks the pair touched.
    @inline(__always)
    private mutating func add(_ a: Int32, _ b: Int32, _ d: Int64, word: Int32) {
        var idx = Int(pairIndex.get(a, b))
        if idx == Int(PairTable.absent) {
            idx = pairCount.count
            pairIndex.set(a, b, Int64(idx))
            pairCount.append(0); pairA.append(a); pairB.append(b)
            pairWords.append([]); touchedFlag.append(false)
        }
        pairCount[idx] += d
        if d > 0 {
            if pairWords[idx].last != word { pairWords[idx].append(word) }
            if !touchedFlag[idx] { touchedFlag[idx] = true; touched.append(idx) }
        }
    }

    mutating func run(vocabSize: Int, minFrequency: Int64) {
        while tokens.count < vocabSize, let top = pop() {
            let idx = Int(pairIndex.get(top.a, top.b))
            let real = pairCount[idx]
            if real != top.count {
                if real > 0 { push(Entry(count: real, a: top.a, b: top.b)) }
                continue
            }
            if real < 1 || real < minFrequency { break }
            let x = Int32(addToken(tokens[Int(top.a)] + tokens[Int(top.b)]))
            merges.append(BPETokenizer.Merge(Int(top.a), Int(top.b)))
            let words = pairWords[idx]
            pairWords[idx] = []
            for w in words { mergeWord(Int(w), top.a, top.b, x) }
            for t in touched {
                touchedFlag[t] = false
                if pairCount[t] > 0 { push(Entry(count: pairCount[t], a: pairA[t], b: pairB[t])) }
            }
            touched.removeAll(keepingCapacity: true)
        }
    }

    /// Replaces each (a, b) in word w by x, left to right, with HF's count deltas.
    private mutating func mergeWord(_ w: Int, _ a: Int32, _ b: Int32, _ x: Int32) {
        let s = wordStart[w], n = Int(wordLength[w]), c = wordCount[w], wid = Int32(w)
        var r = 0, out = 0
        while r < n {
            if r + 1 < n && symbols[s + r] == a && symbols[s + r + 1] == b {
                if out > 0 {
                    let prev = symbols[s + out - 1]
                    add(prev, a, -c, word: wid)
                    add(prev, x, c, word: wid)
                }
                if r + 2 < n {
                    let next = symbols[s + r + 2]
                    add(b, next, -c, word: wid)
                    add(x, next, c, word: wid)
                }
                symbols[s + out] = x
                out += 1; r += 2
            } else {
                symbols[s + out] = symbols[s + r]
                out += 1; r += 1
            }
        }
        wordLength[w] = Int32(out)
    }

    private mutating func push(_ e: Entry) {
        heap.append(e)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if !e.before(heap[parent]) { break }
            heap[i] = heap[parent]
            i = parent
        }
        heap[i] = e
    }

    private mutating func pop() -> Entry? {
        guard let last = heap.popLast() else { return nil }
        if heap.isEmpty { return last }
        let top = heap[0]
        heap[0] = last
        siftDown(0)
        return top
    }

    private mutating func siftDown(_ start: Int) {
        let n = heap.count, e = heap[start]
        var i = start
        while true {
            let l = 2 * i + 1
            if l >= n { break }
            var c = l
            if l + 1 < n && heap[l + 1].before(heap[l]) { c = l + 1 }
            if !heap[c].before(e) { break }
            heap[i] = heap[c]
            i = c
        }
        heap[i] = e
    }
}
