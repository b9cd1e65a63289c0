// Finite-difference and value checks of the preference ops (Ops+Preference.swift):
// rowSum, logSigmoid (including its tails), sub, gatherRows with repeated rows.

import XCTest
import Foundation
import StrataCore
@testable import StrataTensor
import StrataTestSupport

final class PreferenceOpsTests: XCTestCase {
    func testRowSumGradientAndValues() {
        var rng = StrataRNG(seed: 21)
        gradCheck([randomTensor([3, 5], &rng)]) { t, x in t.rowSum(x[0]) }
        gradCheck([randomTensor([2, 2, 4], &rng)]) { t, x in t.rowSum(x[0]) }
        let y = Tape.noGrad().rowSum(Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3]))
        XCTAssertEqual(y.shape, [2])
        XCTAssertEqual(y.toArray(), [6, 15])
        XCTAssertEqual(Tape.noGrad().rowSum(Tensor([1, 2, 3], shape: [3])).toArray(), [6])
    }

    func testLogSigmoidGradientValuesAndTails() {
        var rng = StrataRNG(seed: 22)
        gradCheck([randomTensor([7], &rng, scale: 3)], eps: 1e-3) { t, x in t.logSigmoid(x[0]) }
        let x = Tensor([0, 2, -2, 100, -100], shape: [5])
        let y = Tape.noGrad().logSigmoid(x).toArray()
        XCTAssertEqual(y[0], Float(-log(2.0)), accuracy: 1e-7)
        XCTAssertEqual(y[1], Float(-log1p(exp(-2.0))), accuracy: 1e-7)
        XCTAssertEqual(y[2], Float(-2 - log1p(exp(-2.0))), accuracy: 1e-6)
        XCTAssertEqual(y[3], 0, accuracy: 1e-20, "no overflow for large positive inputs")
        XCTAssertEqual(y[4], -100, accuracy: 1e-5, "linear tail, not -inf, for large negative inputs")
        let tape = Tape()
        let p = Tensor([-100, 100], shape: [2], requiresGrad: true)
        tape.backward(tape.sum(tape.logSigmoid(p)))
        XCTAssertEqual(p.grad!.toArray()[0], 1, accuracy: 1e-6)
        XCTAssertEqual(p.grad!.toArray()[1], 0, accuracy: 1e-20)
    }

    func testSubGradient() {
        var rng = StrataRNG(seed: 23)
        gradCheck([randomTensor([2, 3], &rng), randomTensor([2, 3], &rng)]) { t, x in t.sub(x[0], x[1]) }
        gradCheck([randomTensor([4], &rng)]) { t, x in t.sub(x[0], x[0]) }  // same tensor on both sides: zero
    }

    func testGatherRowsWithRepeatsAndVectors() {
        var rng = StrataRNG(seed: 24)
        gradCheck([randomTensor([5, 3], &rng)]) { t, x in t.gatherRows(x[0], [4, 0, 4, 2]) }
        gradCheck([randomTensor([6], &rng)]) { t, x in t.gatherRows(x[0], [3, 4, 5]) }
        let m = Tensor([0, 1, 2, 3, 4, 5], shape: [3, 2])
        let g = Tape.noGrad().gatherRows(m, [2, 0])
        XCTAssertEqual(g.shape, [2, 2])
        XCTAssertEqual(g.toArray(), [4, 5, 0, 1])
    }
}
