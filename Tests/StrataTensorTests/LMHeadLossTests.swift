// Tests of the chunked LM head + cross-entropy (`lmHeadCrossEntropy`): loss and
// gradients of both the hidden states and the head equal the materialised
// logits path (`linearTransposed` then `crossEntropy`) within 1e-6, for chunk
// sizes that do not divide the rows, ignored targets (including a whole chunk),
// a caller-given normaliser and a non-unit upstream gradient; and a
// finite-difference check.
// Leaves out: speed and memory (measured by `strata bench`).

import XCTest
import StrataCore
import StrataTensor
import StrataTestSupport

final class LMHeadLossTests: XCTestCase {
    /// Loss, hidden gradient and head gradient of one path, the head's gradient starting from `w0grad`.
    func run(chunked: Int?, _ h: Tensor, _ w: Tensor, _ targets: [Int32], normalizer: Float?, seed: Float, w0grad: [Float])
        -> (Float, [Float], [Float]) {
        h.grad = nil
        w.grad = Tensor(w0grad, shape: w.shape)
        let tape = Tape()
        let loss = chunked.map { tape.lmHeadCrossEntropy(h, w, targets, normalizer: normalizer, chunkElements: $0) }
            ?? tape.crossEntropy(tape.linearTransposed(h, w), targets, normalizer: normalizer)
        tape.backward(loss, seed: seed)
        return (loss.item(), h.grad?.toArray() ?? [], w.grad!.toArray())
    }

    func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }

    func testChunkedLMHeadLossEqualsFullCrossEntropy() {
        var rng = StrataRNG(seed: 181)
        let n = 37, c = 16, v = 53
        let h = randomTensor([n, c], &rng), w = randomTensor([v, c], &rng, scale: 0.5)
        var targets = (0..<n).map { _ in Int32(rng.int(below: v)) }
        for i in [3, 4, 11] { targets[i] = -100 }
        for i in 20..<25 { targets[i] = -100 }       // rows 20..<25: one whole chunk of 5 ignored
        let w0 = (0..<(v * c)).map { _ in rng.normal() * 0.1 }
        for (chunk, normalizer, seed) in [(5 * v, nil, 1), (5 * v + 7, Float(40), 2.5), (1 << 21, nil, 0.5)] as [(Int, Float?, Float)] {
            let full = run(chunked: nil, h, w, targets, normalizer: normalizer, seed: seed, w0grad: w0)
            let tiled = run(chunked: chunk, h, w, targets, normalizer: normalizer, seed: seed, w0grad: w0)
            XCTAssertEqual(full.0, tiled.0, accuracy: 1e-6 * max(1, abs(full.0)), "loss, chunk \(chunk)")
            XCTAssertLessThan(maxAbsDiff(full.1, tiled.1), 1e-6, "hidden gradient, chunk \(chunk)")
            XCTAssertLessThan(maxAbsDiff(full.2, tiled.2), 1e-6, "head gradient, chunk \(chunk)")
            XCTAssertGreaterThan(full.1.map(abs).max()!, 1e-3, "the reference gradient must not be trivially zero")
        }
    }

    func testChunkedLMHeadLossWithEveryTargetIgnoredIsZeroWithNoGradient() {
        var rng = StrataRNG(seed: 2)
        let h = randomTensor([6, 4], &rng), w = randomTensor([9, 4], &rng)
        let tape = Tape()
        let loss = tape.lmHeadCrossEntropy(h, w, [Int32](repeating: -100, count: 6), chunkElements: 18)
        tape.backward(loss)
        XCTAssertEqual(loss.item(), 0)
        XCTAssertNil(h.grad)
        XCTAssertNil(w.grad)
    }

    func testChunkedLMHeadLossGradientMatchesFiniteDifferences() {
        var rng = StrataRNG(seed: 5)
        let h = randomTensor([7, 5], &rng), w = randomTensor([11, 5], &rng, scale: 0.5)
        let targets: [Int32] = [1, 10, -100, 4, 4, 0, 7]
        gradCheck([h, w], tol: 1e-2) { tape, x in
            tape.reshape(tape.lmHeadCrossEntropy(x[0], x[1], targets, chunkElements: 2 * 11), [1])
        }
    }
}
