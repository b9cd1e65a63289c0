// Central finite-difference checks of every differentiable op's backward.
// Each check reduces the op's output to a scalar through a fixed random projection
// (so every output element matters), then compares the tape's gradient for every
// input element with (f(x+ε) − f(x−ε)) / 2ε computed in Double where it matters.

import XCTest
import StrataCore
@testable import StrataTensor
import StrataTestSupport

final class GradCheckTests: XCTestCase {
    func testAddWithBroadcast() {
        var rng = StrataRNG(seed: 1)
        gradCheck([randomTensor([2, 3, 4], &rng), randomTensor([3, 4], &rng)]) { t, x in t.add(x[0], x[1]) }
    }

    func testMulScaleSumMean() {
        var rng = StrataRNG(seed: 2)
        gradCheck([randomTensor([3, 5], &rng), randomTensor([3, 5], &rng)]) { t, x in t.scale(t.mul(x[0], x[1]), 0.7) }
        gradCheck([randomTensor([4, 3], &rng)]) { t, x in t.mean(t.mul(x[0], x[0])) }
    }

    func testGELU() {
        var rng = StrataRNG(seed: 3)
        gradCheck([randomTensor([5, 7], &rng, scale: 2)]) { t, x in t.gelu(x[0]) }
    }

    func testLayerNorm() {
        var rng = StrataRNG(seed: 4)
        gradCheck([randomTensor([6, 8], &rng), randomTensor([8], &rng), randomTensor([8], &rng)]) { t, x in
            t.layerNorm(x[0], x[1], x[2])
        }
    }

    func testLinearAndTransposedLinear() {
        var rng = StrataRNG(seed: 5)
        gradCheck([randomTensor([2, 3, 4], &rng), randomTensor([4, 5], &rng), randomTensor([5], &rng)]) { t, x in
            t.linear(x[0], x[1], x[2])
        }
        gradCheck([randomTensor([5, 4], &rng), randomTensor([7, 4], &rng)]) { t, x in t.linearTransposed(x[0], x[1]) }
    }

    func testEmbeddingWithRepeatedIds() {
        var rng = StrataRNG(seed: 6)
        gradCheck([randomTensor([5, 3], &rng)]) { t, x in t.embedding(x[0], [1, 4, 1, 0, 1]) }
    }

    func testCausalAttention() {
        var rng = StrataRNG(seed: 7)
        gradCheck([randomTensor([2, 5, 3 * 8], &rng)]) { t, x in t.attention(x[0], heads: 2) }
    }

    func testDocumentAwareAttention() {
        var rng = StrataRNG(seed: 8)
        let starts: [Int32] = [0, 0, 2, 2, 2, 0, 1, 1, 1, 1]
        gradCheck([randomTensor([2, 5, 3 * 4], &rng)]) { t, x in t.attention(x[0], heads: 1, docStart: starts) }
    }

    /// Backwards that store into a gradient no one has written yet (linear, GELU, layer norm, attention in row
    /// blocks, a residual add) and the ones that then add to it: x read by all of them, each in turn the first
    /// to reach x's gradient (the op applied last runs its backward first).
    func testAnInputReadBySeveralOpsGetsTheSumOfTheirGradientsWhicheverComesFirst() {
        var rng = StrataRNG(seed: 21)
        let inputs = [randomTensor([1, 32, 24], &rng), randomTensor([24, 24], &rng), randomTensor([8, 24], &rng),
                      randomTensor([24], &rng), randomTensor([24], &rng)]
        let terms: [(Tape, [Tensor]) -> Tensor] = [
            { t, v in t.gelu(v[0]) },
            { t, v in t.linear(v[0], v[1]) },
            { t, v in t.layerNorm(v[0], v[3], v[4]) },
            { t, v in t.linear(t.attentionMaterialized(v[0], heads: 2, rowBlocks: 4), v[2]) },
            { t, v in t.add(v[0], v[0]) },
        ]
        for last in terms.indices {
            let order = terms.indices.map { terms[($0 + last + 1) % terms.count] }
            gradCheck(inputs) { t, v in order.dropFirst().reduce(order[0](t, v)) { t.add($0, $1(t, v)) } }
        }
    }

    func testCrossEntropyWithIgnoredTargets() {
        var rng = StrataRNG(seed: 9)
        gradCheck([randomTensor([4, 6], &rng, scale: 2)]) { t, x in t.crossEntropy(x[0], [2, -100, 5, 0]) }
    }

    func testTokenLogProbs() {
        var rng = StrataRNG(seed: 10)
        gradCheck([randomTensor([4, 6], &rng, scale: 2)]) { t, x in t.tokenLogProbs(x[0], [1, 3, -100, 5]) }
    }

    func testReshapeCarriesGradient() {
        var rng = StrataRNG(seed: 11)
        gradCheck([randomTensor([2, 6], &rng)]) { t, x in t.gelu(t.reshape(x[0], [3, 4])) }
    }

    func testDropoutMasksScalesAndBackpropagatesTheSameMask() {
        var rng = StrataRNG(seed: 12)
        let x = randomTensor([100, 50], &rng)
        let tape = Tape(recording: true, training: true, seed: 5)
        let y = tape.dropout(x, p: 0.25)
        tape.backward(tape.sum(y))
        var zeros = 0
        for i in 0..<x.count {
            if y.ptr[i] == 0 { zeros += 1; XCTAssertEqual(x.grad!.ptr[i], 0) } else {
                XCTAssertEqual(y.ptr[i], x.ptr[i] / 0.75, accuracy: 1e-5)
                XCTAssertEqual(x.grad!.ptr[i], 1 / 0.75, accuracy: 1e-5)
            }
        }
        XCTAssertEqual(Double(zeros) / Double(x.count), 0.25, accuracy: 0.03)
        // Evaluation tapes and p = 0 leave the input untouched.
        XCTAssertTrue(Tape.noGrad().dropout(x, p: 0.25) === x)
        XCTAssertTrue(Tape().dropout(x, p: 0) === x)
    }
}
