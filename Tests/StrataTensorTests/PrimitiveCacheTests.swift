// The matmul primitive cache's bound: past `primitiveCacheCapacity` the least
// recently used primitives are destroyed, products stay right whether their
// primitive was cached, evicted or made again, and a shape reused every call
// is never the one evicted. Leaves out: memory figures (docs/benchmarks.md).

import XCTest
@testable import StrataTensor

final class PrimitiveCacheTests: XCTestCase {
    /// C[m,n] = A[m,k]·B[k,n] through the backend, against a Double loop.
    private func checkProduct(m: Int, k: Int, n: Int, seed: Int, file: StaticString = #filePath, line: UInt = #line) {
        let a = (0..<(m * k)).map { Float(($0 * 7 + seed) % 13) / 13 - 0.5 }
        let b = (0..<(k * n)).map { Float(($0 * 5 + seed) % 11) / 11 - 0.5 }
        var av = a, bv = b, c = [Float](repeating: 0, count: m * n)
        av.withUnsafeMutableBufferPointer { ap in
            bv.withUnsafeMutableBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    Backend.shared.gemm(m: m, n: n, k: k, a: ap.baseAddress!, b: bp.baseAddress!, c: cp.baseAddress!)
                }
            }
        }
        for i in 0..<m {
            for j in 0..<n {
                let want = (0..<k).reduce(0.0) { $0 + Double(a[i * k + $1]) * Double(b[$1 * n + j]) }
                XCTAssertEqual(Double(c[i * n + j]), want, accuracy: 1e-5, "[\(m),\(k)]x[\(k),\(n)] at (\(i),\(j))", file: file, line: line)
            }
        }
    }

    func testCacheStaysWithinItsCapacityAndEvictedShapesStillMultiplyRight() {
        let backend = Backend.shared
        let saved = backend.primitiveCacheCapacity
        defer { backend.primitiveCacheCapacity = saved }
        backend.primitiveCacheCapacity = 8
        XCTAssertLessThanOrEqual(backend.cachedPrimitives, 8, "lowering the capacity evicts at once")
        for rows in 1...20 {   // 20 shapes: a decode loop's growing lengths
            checkProduct(m: rows, k: 6, n: 5, seed: rows)
            XCTAssertLessThanOrEqual(backend.cachedPrimitives, 8)
        }
        checkProduct(m: 1, k: 6, n: 5, seed: 99)   // evicted long ago: made again, still right
        XCTAssertLessThanOrEqual(backend.cachedPrimitives, 8)
    }

    func testAShapeUsedEveryCallSurvivesEvictions() {
        let backend = Backend.shared
        let saved = backend.primitiveCacheCapacity
        defer { backend.primitiveCacheCapacity = saved }
        backend.primitiveCacheCapacity = 4
        checkProduct(m: 3, k: 7, n: 9, seed: 1)
        let before = backend.cachedPrimitives
        for rows in 30..<42 {
            checkProduct(m: rows, k: 7, n: 9, seed: rows)   // a new shape each time...
            checkProduct(m: 3, k: 7, n: 9, seed: rows)      // ...and the hot one again
        }
        XCTAssertGreaterThan(before, 0)
        XCTAssertLessThanOrEqual(backend.cachedPrimitives, 4)
        // The hot shape's primitive is the most recently used after every call, so it was never evicted: one more
        // call adds no entry.
        let count = backend.cachedPrimitives
        checkProduct(m: 3, k: 7, n: 9, seed: 5)
        XCTAssertEqual(backend.cachedPrimitives, count)
    }
}
