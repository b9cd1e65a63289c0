// The encode cache on its own: keys of every length class (packed inline, in the
// arena), id lists of every length (inline, overflow, empty), growth and the
// clear at the capacity limit.

import XCTest
import StrataCore
@testable import StrataTokenizer

final class PieceCacheTests: XCTestCase {
    func key(_ i: Int, _ rng: inout StrataRNG) -> [UInt8] {
        let n = 1 + i % 40
        return (0..<n).map { _ in UInt8(rng.int(below: 4)) }   // few symbols: many keys share prefixes
    }

    func lookup(_ c: PieceCache, _ k: [UInt8]) -> [Int]? {
        k.withUnsafeBufferPointer { kb in
            let p = kb.baseAddress!, n = kb.count
            let (k0, k1) = n <= PieceCache.inlineKey ? PieceCache.pack(p, n) : (0, hashBytes(p, n))
            let h = n <= PieceCache.inlineKey ? PieceCache.mix(k0, k1, n) : k1
            let (idx, found) = c.probe(p, n, k0, k1, h)
            guard found else { return nil }
            var out = [Int]()
            c.emit(idx, into: &out)
            return out
        }
    }

    func insert(_ c: inout PieceCache, _ k: [UInt8], _ ids: [Int32]) {
        k.withUnsafeBufferPointer { kb in
            let p = kb.baseAddress!, n = kb.count
            let (k0, k1) = n <= PieceCache.inlineKey ? PieceCache.pack(p, n) : (0, hashBytes(p, n))
            let h = n <= PieceCache.inlineKey ? PieceCache.mix(k0, k1, n) : k1
            XCTAssertFalse(c.probe(p, n, k0, k1, h).1)
            ids.withUnsafeBufferPointer { c.insert(p, n, k0, k1, h, ids: $0) }
        }
    }

    func testStoresAndFindsEveryShape() {
        var rng = StrataRNG(seed: 1)
        var cache = PieceCache()
        var stored = [[UInt8]: [Int32]]()
        for i in 0..<5000 {
            let k = key(i, &rng)
            if stored[k] != nil { continue }
            let ids = (0..<(i % 6)).map { _ in Int32(rng.int(below: 100_000)) }
            insert(&cache, k, ids)
            stored[k] = ids
        }
        XCTAssertEqual(cache.count, stored.count)
        for (k, ids) in stored { XCTAssertEqual(lookup(cache, k), ids.map(Int.init), "\(k)") }
        XCTAssertNil(lookup(cache, [9, 9, 9]))
        XCTAssertNil(lookup(cache, Array(repeating: 9, count: 30)))
    }

    func testClearsAtCapacityLimit() {
        var cache = PieceCache(capacityLimit: 100)
        for i in 0..<100 { insert(&cache, Array("key\(i)".utf8), [Int32(i)]) }
        XCTAssertEqual(lookup(cache, Array("key5".utf8)), [5])
        insert(&cache, Array("one more".utf8), [7, 8, 9])
        XCTAssertEqual(cache.count, 1)
        XCTAssertNil(lookup(cache, Array("key5".utf8)))
        XCTAssertEqual(lookup(cache, Array("one more".utf8)), [7, 8, 9])
    }
}
