// SpikeGuard: outliers are skipped and kept out of the history, NaN/Inf and
// repeated spikes roll back, normal noise is never flagged, state round-trips.
import XCTest
import StrataCore
@testable import StrataTrain

final class SpikeGuardTests: XCTestCase {
    /// Feeds `n` steps of noisy loss around `level` and returns the guard.
    func warmed(_ n: Int = 200, level: Double = 3.0, seed: UInt64 = 7, config: GuardConfig = GuardConfig()) -> SpikeGuard {
        var g = SpikeGuard(config: config)
        var rng = StrataRNG(seed: seed)
        for step in 0..<n {
            let v = g.check(step: step, loss: level + 0.05 * Double(rng.normal()), gradNorm: exp(0.1 * Double(rng.normal())))
            XCTAssertEqual(v, .accept)
        }
        return g
    }

    func testInjectedLossOutlierIsSkippedAndNotRecorded() {
        var g = warmed()
        let before = g.losses
        guard case let .skip(reason) = g.check(step: 200, loss: 4.0, gradNorm: 1.0) else { return XCTFail("expected skip") }
        XCTAssertTrue(reason.contains("loss 4"), reason)
        XCTAssertEqual(g.losses, before, "skipped values stay out of the history")
        XCTAssertEqual(g.totalSkips, 1)
        XCTAssertEqual(g.check(step: 201, loss: 3.0, gradNorm: 1.0), .accept)
        XCTAssertEqual(g.losses.count, 128, "history is capped at the window")
    }

    func testGradNormSpikeIsSkipped() {
        var g = warmed()
        guard case let .skip(reason) = g.check(step: 200, loss: 3.0, gradNorm: 20) else { return XCTFail("expected skip") }
        XCTAssertTrue(reason.contains("gradient norm"), reason)
        XCTAssertEqual(g.check(step: 201, loss: 3.0, gradNorm: 1.3), .accept, "a 30% rise is normal variation")
    }

    func testLowerLossIsNeverASpike() {
        var g = warmed()
        XCTAssertEqual(g.check(step: 200, loss: 0.5, gradNorm: 0.2), .accept)
    }

    func testNonFiniteRollsBackEvenWhenDisabledOrEarly() {
        var g = SpikeGuard()
        guard case let .rollback(r1) = g.check(step: 0, loss: .nan, gradNorm: 1) else { return XCTFail("NaN loss") }
        XCTAssertTrue(r1.contains("nan"), r1)
        var off = GuardConfig()
        off.enabled = false
        var d = SpikeGuard(config: off)
        guard case .rollback = d.check(step: 0, loss: 1, gradNorm: .infinity) else { return XCTFail("Inf grad norm") }
        XCTAssertEqual(d.check(step: 1, loss: 1e9, gradNorm: 1), .accept, "disabled guard judges no spikes")
    }

    func testNoJudgementBeforeMinHistory() {
        var g = warmed(63)
        XCTAssertEqual(g.check(step: 63, loss: 100, gradNorm: 100), .accept)
        XCTAssertEqual(g.losses.count, 64)
    }

    func testRepeatedSpikesRollBack() {
        var g = warmed()
        guard case .skip = g.check(step: 200, loss: 5, gradNorm: 1) else { return XCTFail() }
        guard case .skip = g.check(step: 230, loss: 5, gradNorm: 1) else { return XCTFail() }
        guard case let .rollback(reason) = g.check(step: 260, loss: 5, gradNorm: 1) else { return XCTFail("third spike") }
        XCTAssertTrue(reason.contains("3 spikes within 100 steps"), reason)
        g.didRollback(toStep: 150)
        XCTAssertEqual(g.lrMultiplier, 0.5)
        XCTAssertEqual(g.totalRollbacks, 1)
        XCTAssertTrue(g.losses.isEmpty, "replay is judged afresh")
        XCTAssertEqual(g.check(loss: 5, gradNorm: 1), .accept, "a level shift is learned again, not a rollback loop")
        XCTAssertEqual(g.lastStep, 150)
    }

    func testSpikesFarApartDoNotRollBack() {
        var g = warmed(400)
        var rng = StrataRNG(seed: 99)
        for step in 400..<1000 {
            let spike = step % 150 == 0
            let v = g.check(step: step, loss: spike ? 6 : 3 + 0.05 * Double(rng.normal()), gradNorm: 1)
            if spike {
                guard case .skip = v else { return XCTFail("step \(step): \(v)") }
            } else {
                XCTAssertEqual(v, .accept)
            }
        }
        XCTAssertEqual(g.totalSkips, 4)
    }

    func testNoFalsePositivesOnNoisyDecreasingLoss() {
        var g = SpikeGuard()
        var rng = StrataRNG(seed: 1234)
        var flagged = [String]()
        for step in 0..<10_000 {
            let t = Double(step)
            let loss = 2.0 + 8.0 * exp(-t / 1500) + 0.1 * Double(rng.normal())
            let grad = (0.5 + 2.0 * exp(-t / 800)) * exp(0.15 * Double(rng.normal()))
            let v = g.check(step: step, loss: loss, gradNorm: grad)
            if v != .accept { flagged.append("\(step): \(v)") }
        }
        XCTAssertEqual(flagged, [])
        XCTAssertTrue(g.isStable)
    }

    func testNoFalsePositivesOnSlowlyRisingLoss() {
        var g = SpikeGuard()
        var rng = StrataRNG(seed: 5)
        for step in 0..<5000 {
            let loss = 3.0 + 0.0002 * Double(step) + 0.05 * Double(rng.normal())
            XCTAssertEqual(g.check(step: step, loss: loss, gradNorm: 1 + 0.0001 * Double(step)), .accept)
        }
    }

    func testIsStableAfterQuietSteps() {
        var g = warmed()
        XCTAssertTrue(g.isStable)
        _ = g.check(step: 200, loss: 9, gradNorm: 1)
        XCTAssertFalse(g.isStable)
        for step in 201..<300 { _ = g.check(step: step, loss: 3, gradNorm: 1) }
        XCTAssertFalse(g.isStable, "99 quiet steps < stable_steps 100")
        _ = g.check(step: 300, loss: 3, gradNorm: 1)
        XCTAssertTrue(g.isStable)
        XCTAssertTrue(g.isStable(lastSteps: 50))
    }

    func testStateRoundTripGivesIdenticalVerdicts() throws {
        var a = warmed(150)
        _ = a.check(step: 150, loss: 8, gradNorm: 1)
        let b0 = try StrataJSON.decode(SpikeGuard.self, from: try StrataJSON.encode(a), file: "guard.json")
        XCTAssertEqual(b0, a)
        var b = b0
        var rng = StrataRNG(seed: 3)
        for step in 151..<400 {
            let loss = step % 37 == 0 ? 7 : 3 + 0.05 * Double(rng.normal())
            XCTAssertEqual(a.check(step: step, loss: loss, gradNorm: 1), b.check(step: step, loss: loss, gradNorm: 1))
        }
        XCTAssertEqual(a, b)
    }

    func testCheckWithoutStepCounts() {
        var g = SpikeGuard()
        _ = g.check(loss: 1, gradNorm: 1)
        _ = g.check(loss: 1, gradNorm: 1)
        XCTAssertEqual(g.lastStep, 1)
    }
}
