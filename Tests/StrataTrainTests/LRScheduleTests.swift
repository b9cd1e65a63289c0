// LR schedules: warmup endpoints, peak, floor exactly at the last step,
// monotone decay, WSD phases, constant and anneal.
import XCTest
@testable import StrataTrain

final class LRScheduleTests: XCTestCase {
    let peak = 1e-3, floor = 1e-4

    func assertMonotoneDecay(_ s: LRSchedule, from: Int, file: StaticString = #filePath, line: UInt = #line) {
        for step in from..<(s.totalSteps - 1) {
            XCTAssertGreaterThanOrEqual(s.lr(step), s.lr(step + 1), "step \(step)", file: file, line: line)
        }
    }

    func testCosineWarmupPeakAndFloor() {
        let s = LRSchedule(kind: .cosine, peak: peak, floor: floor, warmupSteps: 10, totalSteps: 100)
        XCTAssertEqual(s.lr(0), peak / 10, accuracy: 1e-15)
        XCTAssertEqual(s.lr(4), peak * 5 / 10, accuracy: 1e-15)
        XCTAssertEqual(s.lr(9), peak, "last warmup step is exactly the peak")
        XCTAssertLessThan(s.lr(10), peak)
        XCTAssertEqual(s.lr(99), floor, "floor exactly at the last step")
        XCTAssertEqual(s.lr(500), floor)
        // Halfway through the decay the cosine is at the midpoint.
        XCTAssertEqual(s.lr(10 + 45 - 1), floor + (peak - floor) / 2, accuracy: 1e-12)
        for step in 0..<9 { XCTAssertLessThan(s.lr(step), s.lr(step + 1)) }
        assertMonotoneDecay(s, from: 9)
        XCTAssertGreaterThan(s.lr(98), floor)
    }

    func testLinearDecay() {
        let s = LRSchedule(kind: .linear, peak: peak, floor: floor, warmupSteps: 0, totalSteps: 4)
        XCTAssertEqual(s.lr(0), floor + (peak - floor) * 0.75, accuracy: 1e-15)
        XCTAssertEqual(s.lr(1), floor + (peak - floor) * 0.5, accuracy: 1e-15)
        XCTAssertEqual(s.lr(3), floor)
        assertMonotoneDecay(s, from: 0)
    }

    func testWSDPhases() {
        for shape in DecayShape.allCases {
            let s = LRSchedule(kind: .wsd, peak: peak, floor: floor, warmupSteps: 10, totalSteps: 100,
                               decayFraction: 0.2, decayShape: shape)
            XCTAssertEqual(s.decayStart, 80)
            XCTAssertEqual(s.lr(9), peak)
            for step in 10..<80 { XCTAssertEqual(s.lr(step), peak, "stable at step \(step)") }
            XCTAssertLessThan(s.lr(80), peak)
            XCTAssertEqual(s.lr(99), floor, "\(shape)")
            assertMonotoneDecay(s, from: 0 + 9)
        }
    }

    func testDecayShapesDiffer() {
        // At p = 1/4: linear leaves 3/4, cosine leaves (1+cos(π/4))/2 ≈ 0.854, 1-sqrt leaves 1/2.
        XCTAssertEqual(LRSchedule.remaining(.linear, 0.25), 0.75, accuracy: 1e-12)
        XCTAssertEqual(LRSchedule.remaining(.cosine, 0.25), (1 + 0.5.squareRoot()) / 2, accuracy: 1e-12)
        XCTAssertEqual(LRSchedule.remaining(.oneMinusSqrt, 0.25), 0.5, accuracy: 1e-12)
        for shape in DecayShape.allCases {
            XCTAssertEqual(LRSchedule.remaining(shape, 0), 1)
            XCTAssertEqual(LRSchedule.remaining(shape, 1), 0, accuracy: 1e-15)
        }
    }

    func testConstant() {
        let s = LRSchedule(kind: .constant, peak: peak, floor: floor, warmupSteps: 5, totalSteps: 50)
        XCTAssertEqual(s.lr(0), peak / 5, accuracy: 1e-15)
        XCTAssertEqual(s.lr(4), peak)
        XCTAssertEqual(s.lr(49), peak)
    }

    func testAnnealFromCurrentLRToFloor() {
        let start = 3e-4
        let s = LRSchedule(kind: .anneal, peak: start, floor: 1e-5, warmupSteps: 0, totalSteps: 20, decayShape: .linear)
        XCTAssertEqual(s.lr(0), 1e-5 + (start - 1e-5) * 19 / 20, accuracy: 1e-15, "first step is one notch below the start")
        XCTAssertEqual(s.lr(19), 1e-5)
        assertMonotoneDecay(s, from: 0)
        XCTAssertEqual(LRSchedule.anneal(from: start, to: 1e-5, steps: 20, shape: .linear), s)
    }

    func testFromRecipe() throws {
        let r = try RecipeLoader.load(yaml: baseRecipeYAML, overrides: ["optim.schedule=anneal", "optim.warmup_steps=0"])
        let s = LRSchedule(recipe: r, startLR: 2e-4)
        XCTAssertEqual(s.peak, 2e-4)
        XCTAssertEqual(s.totalSteps, 100)
        XCTAssertEqual(s.lr(99), r.optim.minLR)
        let c = LRSchedule(recipe: try RecipeLoader.load(yaml: baseRecipeYAML))
        XCTAssertEqual(c.lr(9), r.optim.lr)
    }

    func testOneStepDecayAndNoWarmupEdgeCases() {
        let s = LRSchedule(kind: .cosine, peak: peak, floor: floor, warmupSteps: 1, totalSteps: 2)
        XCTAssertEqual(s.lr(0), peak)
        XCTAssertEqual(s.lr(1), floor)
        let w = LRSchedule(kind: .wsd, peak: peak, floor: floor, warmupSteps: 0, totalSteps: 3, decayFraction: 0.01)
        XCTAssertEqual(w.lr(0), peak)
        XCTAssertEqual(w.lr(2), floor)
    }
}
