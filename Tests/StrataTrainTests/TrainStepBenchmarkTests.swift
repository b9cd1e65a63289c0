// `strata bench train`'s accounting on a tiny model: the share of the steps spent in products is a part of the
// steps' wall time, however long the peak measurements around the steps take. Checks structure, not speed.

import XCTest
import StrataModel
@testable import StrataBench

final class TrainStepBenchmarkTests: XCTestCase {
    /// A one-layer GPT-2 of width 32 on batches of 2 × 16, after one warm-up step.
    func tinyRun(steps: Int, peakSize: Int) -> TrainStepBenchmark.Result {
        var cfg = TrainStepBenchmark.Config()
        cfg.model = GPT2Config(vocabSize: 64, nPositions: 16, nEmbd: 32, nLayer: 1, nHead: 2)
        (cfg.batch, cfg.context, cfg.warmupSteps, cfg.steps, cfg.peakSize) = (2, 16, 1, steps, peakSize)
        return TrainStepBenchmark.run(cfg, log: { _ in })
    }

    func testMatmulShareCountsOnlyTheStepsProductsNotThePeakMeasuredAfterThem() {
        // Six 1024³ products after the step (2 GFLOP each) take far longer than one step of this model (~1 MFLOP of
        // products), even in a debug build: counted with the step, they would put the share above 1.
        let r = tinyRun(steps: 1, peakSize: 1024)
        XCTAssertGreaterThan(r.matmulShare, 0, "the steps run products")
        XCTAssertLessThanOrEqual(r.matmulShare, 1, "time inside products is part of the steps' time")
        XCTAssertTrue(r.finalLoss.isFinite)
    }

    func testEachTimedStepIsRecordedAndTheFastestStepsMFUIsAtLeastTheMeans() {
        let r = tinyRun(steps: 3, peakSize: 64)
        XCTAssertEqual(r.stepMs.count, 3)
        XCTAssertTrue(r.stepMs.allSatisfy { $0 > 0 })
        XCTAssertLessThanOrEqual(r.stepMs.reduce(0, +), r.msPerStep * 3 * (1 + 1e-9), "the steps lie inside the timed span")
        XCTAssertGreaterThanOrEqual(r.fastestStepMFU, r.mfu)
        XCTAssertEqual(r.medianStepMs, r.stepMs.sorted()[1])
    }
}
