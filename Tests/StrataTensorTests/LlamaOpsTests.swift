// Finite-difference checks of the Llama-family ops (RMSNorm, SwiGLU, rotary
// embeddings, grouped-query packing) plus the properties that pin their meaning:
// rope at position 0 is the identity and preserves each head's norm, groupedQKV
// repeats each key/value head for the query heads that share it.

import XCTest
import StrataCore
import StrataTensor
import StrataTestSupport

final class LlamaOpsTests: XCTestCase {
    func testRMSNormGradientsMatchFiniteDifferences() {
        var rng = StrataRNG(seed: 1)
        let x = randomTensor([3, 8], &rng), w = randomTensor([8], &rng)
        gradCheck([x, w], eps: 1e-2, tol: 2e-2) { t, i in t.rmsNorm(i[0], i[1], eps: 1e-6) }
    }

    func testRMSNormMatchesItsDefinition() {
        let x = Tensor([3, 4, 0, 0], shape: [1, 4]), w = Tensor([1, 2, 1, 1], shape: [4])
        let y = Tape.noGrad().rmsNorm(x, w, eps: 0).toArray()   // rms = √(25/4) = 2.5
        XCTAssertEqual(y, [1.2, 3.2, 0, 0].map { Float($0) }, accuracy: 1e-6)
    }

    func testSwiGLUGradientsMatchFiniteDifferences() {
        var rng = StrataRNG(seed: 2)
        let a = randomTensor([4, 6], &rng, scale: 2), b = randomTensor([4, 6], &rng)
        gradCheck([a, b], eps: 1e-2, tol: 2e-2) { t, i in t.swiglu(i[0], i[1]) }
    }

    func testRopeGradientMatchesFiniteDifferences() {
        var rng = StrataRNG(seed: 3)
        let x = randomTensor([5, 2 * 8], &rng), table = RotaryTable(headDim: 8, base: 100, maxPositions: 3)
        // Positions past the table (3, 7) take the on-the-fly path.
        gradCheck([x], eps: 1e-2, tol: 2e-2) { t, i in t.rope(i[0], heads: 2, positions: [0, 1, 2, 3, 7], table: table) }
    }

    func testRopeIsIdentityAtZeroAndRotatesPairsHalfApart() {
        let table = RotaryTable(headDim: 4, base: 10000, maxPositions: 8)
        let x = Tensor([1, 2, 3, 4, 1, 2, 3, 4], shape: [2, 4])
        let y = Tape.noGrad().rope(x, heads: 1, positions: [0, 1], table: table).toArray()
        XCTAssertEqual(Array(y[0..<4]), [1, 2, 3, 4])
        // Position 1: pair (x0, x2) rotates by 1 rad, pair (x1, x3) by 10000^(-1/2) = 0.01 rad.
        XCTAssertEqual(y[4], Float(1 * cos(1.0) - 3 * sin(1.0)), accuracy: 1e-6)
        XCTAssertEqual(y[6], Float(3 * cos(1.0) + 1 * sin(1.0)), accuracy: 1e-6)
        XCTAssertEqual(y[5], Float(2 * cos(0.01) - 4 * sin(0.01)), accuracy: 1e-6)
        XCTAssertEqual(y[4] * y[4] + y[5] * y[5] + y[6] * y[6] + y[7] * y[7], 30, accuracy: 1e-4)
    }

    func testGroupedQKVGradientsMatchFiniteDifferences() {
        var rng = StrataRNG(seed: 4)
        let q = randomTensor([3, 4 * 2], &rng), k = randomTensor([3, 2 * 2], &rng), v = randomTensor([3, 2 * 2], &rng)
        gradCheck([q, k, v], eps: 1e-2, tol: 2e-2) { t, i in t.groupedQKV(i[0], i[1], i[2], heads: 4, kvHeads: 2) }
    }

    func testGroupedQKVRepeatsEachKVHeadForItsGroup() {
        let q = Tensor((0..<8).map(Float.init), shape: [1, 8])                       // 4 heads of D = 2
        let k = Tensor([10, 11, 20, 21], shape: [1, 4]), v = Tensor([30, 31, 40, 41], shape: [1, 4])
        let y = Tape.noGrad().groupedQKV(q, k, v, heads: 4, kvHeads: 2).toArray()
        XCTAssertEqual(Array(y[8..<16]), [10, 11, 10, 11, 20, 21, 20, 21])
        XCTAssertEqual(Array(y[16..<24]), [30, 31, 30, 31, 40, 41, 40, 41])
    }
}

private func XCTAssertEqual(_ a: [Float], _ b: [Float], accuracy: Float, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, file: file, line: line) }
}

final class EncoderOpsTests: XCTestCase {
    func testErfGELUGradientMatchesFiniteDifferences() {
        var rng = StrataRNG(seed: 5)
        let x = randomTensor([3, 7], &rng, scale: 2)
        gradCheck([x], eps: 1e-2, tol: 2e-2) { t, i in t.geluErf(i[0]) }
        XCTAssertEqual(Tape.noGrad().geluErf(Tensor([1], shape: [1])).item(), 0.841_344_7, accuracy: 1e-6)
    }

    func testBidirectionalAttentionGradientsMatchFiniteDifferences() {
        var rng = StrataRNG(seed: 6)
        let q = randomTensor([2 * 4, 2 * 3], &rng), k = randomTensor([2 * 4, 2 * 3], &rng), v = randomTensor([2 * 4, 2 * 3], &rng)
        let mask = [true, true, true, false, true, true, true, true]   // row 0's last token is padding
        gradCheck([q, k, v], eps: 1e-2, tol: 2e-2) { t, i in t.bidirectionalAttention(i[0], i[1], i[2], heads: 2, time: 4, keyMask: mask) }
    }

    func testPaddedKeysGetNoWeightAndEarlierTokensSeeLaterOnes() {
        // One head, D = 1: q = 0 gives uniform weights over the attendable keys.
        let q = Tensor(zeros: [3, 1]), k = Tensor([1, 2, 3], shape: [3, 1]), v = Tensor([10, 20, 90], shape: [3, 1])
        let y = Tape.noGrad().bidirectionalAttention(q, k, v, heads: 1, time: 3, keyMask: [true, true, false]).toArray()
        XCTAssertEqual(y, [15, 15, 15])   // position 0 reads position 1; nobody reads the padded 90
    }
}
