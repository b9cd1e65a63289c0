// Finite-difference and value checks of the RL tape ops (StrataTensor/Ops+RL.swift):
// tokenEntropy (against a direct Double computation, inactive rows, gradient),
// pointwise (a caller-given value and slope), weightedSum.

import XCTest
import Foundation
import StrataCore
import StrataTensor
import StrataTestSupport

final class RLOpsTests: XCTestCase {
    func testTokenEntropyMatchesDefinitionAndSkipsInactiveRows() {
        var rng = StrataRNG(seed: 31)
        let v = 37                                          // two SIMD16 blocks and a scalar tail
        let logits = randomTensor([4, v], &rng, scale: 2, requiresGrad: false)
        let h = Tape.noGrad().tokenEntropy(logits, active: [true, false, true, true]).toArray()
        for r in 0..<4 {
            let row = (0..<v).map { Double(logits.ptr[r * v + $0]) }
            let m = row.max()!, z = row.map { exp($0 - m) }.reduce(0, +)
            let p = row.map { exp($0 - m) / z }
            let expected = r == 1 ? 0 : -p.reduce(0) { $0 + ($1 > 0 ? $1 * log($1) : 0) }
            XCTAssertEqual(Double(h[r]), expected, accuracy: 1e-5, "row \(r)")
        }
        // Uniform logits: entropy log V.
        XCTAssertEqual(Tape.noGrad().tokenEntropy(Tensor(zeros: [1, 16])).item(), Float(log(16.0)), accuracy: 1e-6)
    }

    func testTokenEntropyGradientMatchesFiniteDifferences() {
        var rng = StrataRNG(seed: 32)
        gradCheck([randomTensor([3, 7], &rng, scale: 1.5)], eps: 1e-2) { t, x in t.tokenEntropy(x[0]) }
        gradCheck([randomTensor([4, 5], &rng)], eps: 1e-2) { t, x in t.tokenEntropy(x[0], active: [false, true, true, false]) }
        gradCheck([randomTensor([2, 33], &rng)], eps: 1e-2) { t, x in t.tokenEntropy(x[0]) }
    }

    func testPointwiseCarriesTheGivenSlope() {
        var rng = StrataRNG(seed: 33)
        // f_i(x) = sin(x)·(i+1) with slope cos(x)·(i+1): the op must give exactly what the caller says.
        gradCheck([randomTensor([2, 3], &rng)], eps: 1e-3) { t, x in
            t.pointwise(x[0]) { i, v in (sin(v) * Float(i + 1), cos(v) * Float(i + 1)) }
        }
    }

    func testWeightedSumGradientAndValue() {
        var rng = StrataRNG(seed: 34)
        let w: [Float] = [0.5, -1, 0, 2, 0.25, 3]
        gradCheck([randomTensor([2, 3], &rng)], eps: 1e-2) { t, x in t.weightedSum(x[0], w) }
        let s = Tape.noGrad().weightedSum(Tensor([1, 2, 3, 4, 5, 6], shape: [6]), w)
        XCTAssertEqual(s.item(), 0.5 - 2 + 0 + 8 + 1.25 + 18, accuracy: 1e-6)
    }
}
