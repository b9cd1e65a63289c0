// MetricsLog (JSON lines, truncation on resume) and ProgressLine formatting.
import XCTest
import StrataCore
@testable import StrataTrain

final class MetricsProgressTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("strata-metrics-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testAppendWritesOneSnakeCaseLinePerRecord() throws {
        let url = dir.appendingPathComponent("run/metrics.jsonl")
        let log = try MetricsLog(url: url)
        try log.append(MetricsRecord(step: 10, loss: 3.5, lr: 6e-4, gradNorm: 0.9, tokensPerSecond: 1200, tokensSeen: 2560,
                                     elapsedSeconds: 2.5, events: ["skip: step 7"]))
        try log.append(MetricsRecord(step: 20, loss: .nan, events: [], valLoss: 3.4, valLossBySource: ["web": 3.3, "code": .infinity]))
        let text = try String(contentsOf: url, encoding: .utf8)
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        XCTAssertTrue(text.hasSuffix("\n"))
        XCTAssertTrue(lines[0].contains("\"grad_norm\":0.9") && lines[0].contains("\"tokens_per_s\":1200"), String(lines[0]))
        XCTAssertTrue(lines[0].contains("\"elapsed_s\":2.5") && lines[0].contains("\"events\":[\"skip: step 7\"]"))
        XCTAssertFalse(lines[1].contains("\"loss\""), "NaN loss is left out, not written as invalid JSON")
        XCTAssertFalse(lines[1].contains("code"), "non-finite per-source values are left out")
        let back = try MetricsLog.read(url)
        XCTAssertEqual(back.map(\.step), [10, 20])
        XCTAssertEqual(back[0].gradNorm, 0.9)
        XCTAssertEqual(back[1].valLossBySource, ["web": 3.3])
    }

    func testReopenAppendsAndTruncateDropsLaterSteps() throws {
        let url = dir.appendingPathComponent("metrics.jsonl")
        do {
            let log = try MetricsLog(url: url)
            for s in stride(from: 10, through: 50, by: 10) { try log.append(MetricsRecord(step: s, loss: 1)) }
        }
        // Simulate a crash mid-line.
        let h = try FileHandle(forWritingTo: url)
        try h.seekToEnd()
        try h.write(contentsOf: Data("{\"step\":60,\"lo".utf8))
        try h.close()

        let log = try MetricsLog(url: url)
        let removed = try log.truncate(keepingThrough: 30)
        XCTAssertEqual(removed, 3, "steps 40, 50 and the half line")
        try log.append(MetricsRecord(step: 40, loss: 0.5))
        XCTAssertEqual(try MetricsLog.read(url).map(\.step), [10, 20, 30, 40])
        XCTAssertEqual(try MetricsLog.read(url).last?.loss, 0.5)
    }

    func testProgressFormat() {
        let s = ProgressLine.Status(step: 120, totalSteps: 5000, loss: 3.21454, lr: 6e-4, tokensPerSecond: 12_345,
                                    elapsedSeconds: 62, sessionStartStep: 0)
        let text = ProgressLine.format(s)
        XCTAssertTrue(text.hasPrefix("step 120/5000 (2.4%)"), text)
        XCTAssertTrue(text.contains("loss 3.2145"), text)
        XCTAssertTrue(text.contains("lr 6.00e-04"), text)
        XCTAssertTrue(text.contains("12.3k tok/s"), text)
        XCTAssertTrue(text.contains("1m02s elapsed"), text)
        // ETA: 62 s / 120 steps × 4880 steps left = 2521.3 s → 42m01s.
        XCTAssertTrue(text.hasSuffix("ETA 42m01s"), text)
    }

    func testETAUsesThisSessionsPace() {
        let resumed = ProgressLine.Status(step: 1010, totalSteps: 2000, elapsedSeconds: 20, sessionStartStep: 1000)
        XCTAssertEqual(ProgressLine.eta(resumed) ?? -1, 20.0 / 10 * 990, accuracy: 1e-9)
        let fresh = ProgressLine.Status(step: 1000, totalSteps: 2000, elapsedSeconds: 0, sessionStartStep: 1000)
        XCTAssertNil(ProgressLine.eta(fresh))
        XCTAssertTrue(ProgressLine.format(fresh).hasSuffix("ETA --"))
    }

    func testRenderInPlaceVersusPlainLines() {
        let s = ProgressLine.Status(step: 15, totalSteps: 100, loss: 2, elapsedSeconds: 1)
        let tty = ProgressLine(inPlace: true, interval: 10)
        XCTAssertEqual(tty.render(s), "\r" + ProgressLine.format(s) + "\u{1B}[K")
        XCTAssertEqual(tty.finish, "\n")
        let plain = ProgressLine(inPlace: false, interval: 10)
        XCTAssertNil(plain.render(s), "plain output only every interval steps")
        var at20 = s
        at20.step = 20
        XCTAssertEqual(plain.render(at20), ProgressLine.format(at20) + "\n")
        var last = s
        last.step = 100
        XCTAssertNotNil(plain.render(last), "the last step always prints")
        XCTAssertEqual(plain.finish, "")
    }

    func testDurationAndRateFormatting() {
        XCTAssertEqual(ProgressLine.duration(42), "42s")
        XCTAssertEqual(ProgressLine.duration(62), "1m02s")
        XCTAssertEqual(ProgressLine.duration(3725), "1h02m")
        XCTAssertEqual(ProgressLine.duration(90_000), "1d01h")
        XCTAssertEqual(ProgressLine.duration(.infinity), "--")
        XCTAssertEqual(ProgressLine.rate(950), "950")
        XCTAssertEqual(ProgressLine.rate(1_234_567), "1.23M")
    }
}
