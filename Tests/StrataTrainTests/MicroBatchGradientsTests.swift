// Why N ranks can equal one process bit for bit, isolated without MPI: a step's
// gradient summed per micro-batch (each computed from zero, then sum + g) is what
// two ranks hold after adding their gradients, and MicroBatchGradients gives
// exactly that in one process; accumulating in place (every contribution of the
// second backward added to the running sum one by one) rounds differently — for
// biases (summed row by row), layer norms (per-thread partial sums) and the
// embedding tables (one addition per row that uses them).
// Leaves out: MPI itself (DataParallelTests).

import XCTest
import StrataCore
import StrataTensor
import StrataModel
@testable import StrataTrain

final class MicroBatchGradientsTests: XCTestCase {
    let model = GPT2(GPT2Config(vocabSize: 50, nPositions: 16, nEmbd: 16, nLayer: 2, nHead: 2), seed: 5)

    func batch(_ seed: UInt64) -> StepBatch {
        var rng = StrataRNG(seed: seed)
        let ids = (0..<(4 * 16)).map { _ in Int32(rng.next() % 50) }
        return StepBatch(rows: 4, time: 16, inputs: ids, targets: Array(ids.dropFirst()) + [0])
    }

    func backward(_ b: StepBatch, normalizer: Float) {
        let tape = Tape(seed: 1)
        tape.backward(model.loss(b, tape: tape, normalizer: normalizer), seed: 1)
    }

    func gradients() -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name!, $0.grad?.toArray() ?? Array(repeating: 0, count: $0.count)) })
    }

    func testPerMicroBatchSumsGiveTheTwoRankSumWhileInPlaceAccumulationRoundsDifferently() {
        let mb = [batch(1), batch(2)], n = Float(2 * 4 * 16)
        var rankSum: [String: [Float]] = [:]   // what two ranks hold after the all-reduce: g0 + g1
        var perRank: [[String: [Float]]] = []
        for b in mb { model.zeroGrad(); backward(b, normalizer: n); perRank.append(gradients()) }
        for k in perRank[0].keys { rankSum[k] = zip(perRank[0][k]!, perRank[1][k]!).map { $0 + $1 } }

        model.zeroGrad()
        let sums = MicroBatchGradients(model.parameters)
        for b in mb { sums.beginMicroBatch(); backward(b, normalizer: n); sums.endMicroBatch() }
        sums.endStep()
        let summed = gradients()
        for k in rankSum.keys.sorted() { XCTAssertEqual(summed[k], rankSum[k], "\(k): per-micro-batch sums equal the two-rank sum") }

        model.zeroGrad()
        for b in mb { backward(b, normalizer: n) }
        let inPlace = gradients()
        let differing = rankSum.keys.filter { inPlace[$0] != rankSum[$0] }.sorted()
        XCTAssertFalse(differing.isEmpty, "in-place accumulation rounds differently from the two-rank sum")
        for k in differing {
            XCTAssertTrue(k.hasSuffix(".bias") || k.contains("ln") || k.contains("wte") || k.contains("wpe"),
                          "\(k): only tensors that take several additions per backward round differently")
            let scale = rankSum[k]!.map(abs).max()!
            let worst = zip(inPlace[k]!, rankSum[k]!).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(worst, 1e-6 * scale, "\(k): the difference is rounding (\(worst) of \(scale))")
        }
        print("in-place accumulation differs from the two-rank sum in: \(differing.joined(separator: ", "))")
    }
}
