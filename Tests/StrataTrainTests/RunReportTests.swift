// The HTML run report: built from run directories written here (metrics.jsonl
// and a checkpoint's lineage.json), it draws a path in every chart, never emits an
// empty table, marks spikes and rollbacks, draws RL charts only when the runs log
// those keys, and turns bad input — a truncated metrics line, a run without
// checkpoints, a missing directory — into a warning and a part marked missing.
import XCTest
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import StrataCore
@testable import StrataTrain

final class RunReportTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("strata-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    static let sha = String(repeating: "ab", count: 32)

    func entry(_ stage: Stage, _ id: String, parent: ParentRef, tokens: Int, evals: [String: [String: Double]] = [:]) -> LineageEntry {
        LineageEntry(stage: stage, checkpointID: id, parent: parent,
                     data: [DataRecord(name: "general", path: "world/before_cutoff.jsonl", sha256: RunReportTests.sha, tokens: tokens)],
                     compute: ComputeRecord(flops: Double(tokens) * 6e6, wallSeconds: Double(tokens) / 1000, tokens: tokens),
                     evaluations: evals, created: "2026-01-01T00:00:00Z")
    }

    /// A run directory with `records` in metrics.jsonl and, if given, one checkpoint holding `lineage`.
    @discardableResult
    func writeRun(_ name: String, records: [MetricsRecord], lineage: Lineage?, extraLines: [String] = []) throws -> URL {
        let run = dir.appendingPathComponent(name)
        let log = try MetricsLog(url: run.appendingPathComponent("metrics.jsonl"))
        for r in records { try log.append(r) }
        if !extraLines.isEmpty {
            let h = try FileHandle(forWritingTo: log.url)
            try h.seekToEnd()
            try h.write(contentsOf: Data(extraLines.joined(separator: "\n").utf8))
            try h.close()
        }
        if let lineage {
            let ckpt = run.appendingPathComponent("checkpoints/step-0000004")
            try FileManager.default.createDirectory(at: ckpt, withIntermediateDirectories: true)
            try lineage.write(to: ckpt.appendingPathComponent(Lineage.fileName))
        }
        return run
    }

    func records(steps: Int, tokensPerStep: Int = 100, events: [Int: String] = [:], extra: ((Int) -> [String: Double])? = nil) -> [MetricsRecord] {
        (1...steps).flatMap { s -> [MetricsRecord] in
            var out = [MetricsRecord(step: s, loss: 5 - Double(s) * 0.1, lr: 1e-3, gradNorm: 1 + Double(s % 3), tokensPerSecond: 900,
                                     tokensSeen: s * tokensPerStep, elapsedSeconds: Double(s), events: events[s].map { [$0] } ?? [],
                                     extra: extra?(s))]
            if s % 2 == 0 { out.append(MetricsRecord(step: s, valLoss: 4.5 - Double(s) * 0.05, valLossBySource: ["general": 4.5 - Double(s) * 0.05])) }
            return out
        }
    }

    /// pretrain → dpo (with a reference), both with checkpoints.
    func twoRuns(dpoExtra: ((Int) -> [String: Double])? = nil) throws -> [URL] {
        let pre = try Lineage().appending(entry(.pretrain, "pretrain/step-0000004", parent: .randomInit, tokens: 400,
                                                evals: ["demo_eval": ["probe_acc": 0.4, "probe_count": 100]]))
        var dpoEntry = entry(.dpo, "dpo/step-0000004", parent: .checkpoint(id: "pretrain/step-0000004", sha256: RunReportTests.sha), tokens: 200,
                             evals: ["behaviour": ["behav_refusal": 0.5]])
        dpoEntry.reference = .checkpoint(id: "pretrain/step-0000004", sha256: RunReportTests.sha)
        let a = try writeRun("pretrain", records: records(steps: 4, events: [3: "spike: loss 9 is 6σ above the mean"]), lineage: pre)
        let b = try writeRun("dpo", records: records(steps: 4, tokensPerStep: 50, events: [2: "rollback: NaN loss"], extra: dpoExtra),
                             lineage: try pre.appending(dpoEntry))
        return [a, b]
    }

    /// Each chart figure's SVG, as text.
    func charts(_ html: String) -> [String] {
        html.components(separatedBy: "<figure class=\"chart\">").dropFirst().map { $0.components(separatedBy: "</figure>")[0] }
    }

    func testEveryChartHasAPathAndNoTableIsEmpty() throws {
        let html = RunReport.load(runDirectories: try twoRuns()).html()
        let figures = charts(html)
        XCTAssertGreaterThanOrEqual(figures.count, 5, "loss, lr, grad norm, tokens/s, validation")
        for f in figures { XCTAssertTrue(f.contains("<path class=\"series\" d=\"M"), "a chart without a data path: \(f.prefix(200))") }
        for body in html.components(separatedBy: "<tbody>").dropFirst() {
            XCTAssertTrue(body.components(separatedBy: "</tbody>")[0].contains("<tr"), "an empty table")
        }
        XCTAssertFalse(html.contains("class=\"missing\""), "nothing is missing from complete runs")
    }

    func testEverySVGIsWellFormedXMLEvenWithMarkupInNames() throws {
        var runs = try twoRuns()
        runs.append(try writeRun("a<b>&\"c'", records: records(steps: 3, events: [2: "spike: <x> & \"y\""]), lineage: nil))
        let html = RunReport.load(runDirectories: runs).html()
        let svgs = html.components(separatedBy: "<svg ").dropFirst().map { "<svg " + $0.components(separatedBy: "</svg>")[0] + "</svg>" }
        XCTAssertGreaterThanOrEqual(svgs.count, 6)
        for svg in svgs {
            let parser = XMLParser(data: Data(svg.utf8))
            XCTAssertTrue(parser.parse(), "not well-formed: \(parser.parserError.map { "\($0)" } ?? "?") in \(svg.prefix(300))")
        }
        XCTAssertFalse(html.contains("a<b>"), "names are escaped in the page")
    }

    func testPageIsSelfContained() throws {
        let html = RunReport.load(runDirectories: try twoRuns()).html()
        XCTAssertFalse(html.lowercased().contains("<script"))
        XCTAssertFalse(html.contains("<link"))
        XCTAssertFalse(html.contains("@import") || html.contains("url(http"))
        XCTAssertTrue(html.contains("content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\""), "a CSP forbids any load")
        let urls = html.components(separatedBy: "http:").dropFirst().map { String($0.prefix(30)) } + html.components(separatedBy: "https:").dropFirst()
        XCTAssertTrue(urls.allSatisfy { $0.hasPrefix("//www.w3.org/2000/svg") }, "only the SVG namespace may name a URL: \(urls)")
    }

    func testSpikesAndRollbacksAreMarkedOnTheCurve() throws {
        let html = RunReport.load(runDirectories: try twoRuns()).html()
        let loss = try XCTUnwrap(charts(html).first { $0.contains("Training loss") })
        XCTAssertTrue(loss.contains("class=\"spike\"") && loss.contains("pretrain step 3: spike: loss 9"), loss)
        XCTAssertTrue(loss.contains("class=\"rollback\"") && loss.contains("dpo step 2: rollback: NaN loss"), loss)
    }

    func testStagesShareOneTokenAxisStartingWhereTheParentEnded() throws {
        let report = RunReport.load(runDirectories: try twoRuns())
        XCTAssertTrue(report.usesTokenAxis)
        let dpo = try XCTUnwrap(report.runs.first { $0.name == "dpo" })
        XCTAssertEqual(dpo.tokenOffset, 400)
        let positions = dpo.tokenPositions()
        XCTAssertEqual(positions.first, 450)
        // The validation line after step 2 (no tokens_seen) sits at step 2's tokens.
        XCTAssertEqual(positions[2], 500)
    }

    func testRLChartsFollowTheExtraKeysPresent() throws {
        let plain = RunReport.load(runDirectories: try twoRuns()).html()
        XCTAssertFalse(plain.contains("Stage metrics"))
        try FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let rl = RunReport.load(runDirectories: try twoRuns { s in
            ["reward_mean": Double(s) * 0.1, "kl": 0.01 * Double(s), "refusal_rate": 0.2, "custom_margin": 1]
        }).html()
        let titles = charts(rl).compactMap { $0.components(separatedBy: "<figcaption>").dropFirst().first?.components(separatedBy: "<")[0] }
        XCTAssertTrue(titles.contains("Reward (mean)") && titles.contains("KL to the reference") && titles.contains("Refusal rate")
                      && titles.contains("custom_margin"), "\(titles)")
        XCTAssertFalse(titles.contains("Response length (mean)"), "no chart for a key no run logs")
        XCTAssertLessThan(titles.firstIndex(of: "Reward (mean)")!, titles.firstIndex(of: "custom_margin")!)
    }

    func testLineageGraphDrawsParentAndReferenceEdges() throws {
        let report = RunReport.load(runDirectories: try twoRuns())
        let graph = LineageGraph(report.runs.compactMap(\.checkpoint))
        XCTAssertEqual(Set(graph.nodes.map(\.id)), [LineageGraph.randomInitID, "pretrain/step-0000004", "dpo/step-0000004"])
        XCTAssertTrue(graph.edges.contains { $0.role == .reference && $0.to == "dpo/step-0000004" })
        XCTAssertEqual(graph.edges.filter { $0.role == .parent }.count, 2)
        XCTAssertTrue(report.html().contains("class=\"edge reference\""))
    }

    func testRewardModelAndJudgeFieldsOfLineageBecomeEdges() throws {
        // A PPO entry as a later lineage version may write it: reward_model and judges as {id, sha256}.
        let pre = try Lineage().appending(entry(.pretrain, "pretrain/step-0000004", parent: .randomInit, tokens: 400))
        let ppo = try pre.appending(entry(.ppo, "ppo/step-0000004", parent: .checkpoint(id: "pretrain/step-0000004", sha256: RunReportTests.sha),
                                          tokens: 100))
        let run = try writeRun("ppo", records: records(steps: 2), lineage: ppo)
        let file = run.appendingPathComponent("checkpoints/step-0000004/\(Lineage.fileName)")
        var raw = try StrataJSON.read(JSONValue.self, at: file)
        guard case var .object(top) = raw, case var .array(entries)? = top["entries"], case var .object(last) = entries[1] else {
            return XCTFail("unexpected lineage layout")
        }
        last["reward_model"] = .object(["id": .string("reward/step-0000150"), "sha256": .string("cc")])
        last["judges"] = .array([.object(["id": .string("judge-a"), "sha256": .string("dd")])])
        entries[1] = .object(last); top["entries"] = .array(entries); raw = .object(top)
        try StrataJSON.encode(raw).write(to: file)
        let c = try XCTUnwrap(RunData.load(run).checkpoint)
        XCTAssertEqual(c.links()[1].map(\.role), [.parent, "judges", .rewardModel])
        let graph = LineageGraph([c])
        XCTAssertTrue(graph.edges.contains(.init(from: "reward/step-0000150", to: "ppo/step-0000004", role: .rewardModel)))
        XCTAssertTrue(graph.nodes.contains { $0.id == "judge-a" && $0.external })
        let card = try ModelCard.markdown(lineage: c.lineage, links: c.links())
        XCTAssertTrue(card.contains("   - reward model: `reward/step-0000150` (sha256 `cc`)"), card)
        XCTAssertTrue(card.contains("   - judges: `judge-a` (sha256 `dd`)"), card)
    }

    func testEvaluationTableHasAColumnPerCheckpointAndLeavesCountsOut() throws {
        let html = RunReport.load(runDirectories: try twoRuns()).html()
        let table = try XCTUnwrap(html.components(separatedBy: "<table class=\"evaluations\">").dropFirst().first)
        XCTAssertTrue(table.contains("pretrain/step-0000004") && table.contains("dpo/step-0000004"))
        XCTAssertTrue(table.contains("<td>probe_acc</td><td class=\"num\">0.4</td>"), table)
        XCTAssertFalse(table.contains("probe_count"))
    }

    func testTruncatedMetricsLineIsAWarningAndTheRestIsDrawn() throws {
        var runs = try twoRuns()
        runs[0] = try writeRun("cut", records: records(steps: 3), lineage: nil, extraLines: ["{\"step\": 4, \"loss\": 2.", ""])
        let report = RunReport.load(runDirectories: runs)
        let w = try XCTUnwrap(report.warnings.first { $0.part.contains("metrics.jsonl line") })
        XCTAssertTrue(w.part.contains("cut metrics.jsonl line 5"), w.description)   // 3 train lines + 1 validation line, then the cut one
        XCTAssertEqual(report.runs[0].metrics.count, 4)
        let html = report.html()
        XCTAssertTrue(html.contains("id=\"warnings\"") && html.contains("cut metrics.jsonl line 5"))
        XCTAssertTrue(charts(html).first { $0.contains("Training loss") }?.contains("<title>cut</title>") ?? false)
    }

    func testRunWithoutCheckpointIsMarkedMissing() throws {
        let run = try writeRun("nockpt", records: records(steps: 2), lineage: nil)
        let report = RunReport.load(runDirectories: [run])
        XCTAssertTrue(report.warnings.contains { $0.part == "nockpt checkpoint" }, "\(report.warnings)")
        let html = report.html()
        XCTAssertTrue(html.contains("<em>missing</em>"))
        XCTAssertTrue(html.contains("⚠ missing: no run has a readable checkpoint lineage"))
        XCTAssertTrue(html.contains("⚠ missing: no run has a readable checkpoint"), "evaluation table marked missing")
        XCTAssertTrue(charts(html).contains { $0.contains("Training loss") })
    }

    func testMissingDirectoryAndUnreadableLineageAreWarnings() throws {
        let runs = try twoRuns()
        let broken = try writeRun("broken", records: records(steps: 2), lineage: nil)
        let ckpt = broken.appendingPathComponent("checkpoints/step-0000002")
        try FileManager.default.createDirectory(at: ckpt, withIntermediateDirectories: true)
        try Data("{\"format\": \"strata-lineage/1\", \"entries\": [".utf8).write(to: ckpt.appendingPathComponent(Lineage.fileName))
        let report = RunReport.load(runDirectories: runs + [broken, dir.appendingPathComponent("nope")])
        XCTAssertTrue(report.warnings.contains { $0.part == "broken checkpoint step-0000002" }, "\(report.warnings)")
        XCTAssertTrue(report.warnings.contains { $0.part.hasSuffix("/nope") && $0.message.contains("does not exist") }, "\(report.warnings)")
        XCTAssertTrue(report.html().contains("Evaluations per checkpoint"))
    }

    func testWriteRefusesWhenNoRunDirectoryExists() throws {
        XCTAssertThrowsError(try RunReport.write(runDirectories: [dir.appendingPathComponent("a")], to: dir.appendingPathComponent("r.html"))) { e in
            XCTAssertTrue("\(e)".contains("none of the run directories exists"), "\(e)")
        }
        let out = dir.appendingPathComponent("r.html")
        let report = try RunReport.write(runDirectories: try twoRuns(), to: out)
        XCTAssertTrue(report.warnings.isEmpty, "\(report.warnings)")
        XCTAssertTrue(try String(contentsOf: out, encoding: .utf8).hasPrefix("<!DOCTYPE html>"))
    }

    func testLongSeriesAreReducedKeepingTheirExtremes() {
        let points = (0..<10_000).map { (x: Double($0), y: Optional($0 == 5_000 ? 100.0 : 1.0)) }
        let reduced = SVGChart.reduce(points, to: 600)
        XCTAssertLessThanOrEqual(reduced.count, 620)
        XCTAssertTrue(reduced.contains { $0.y == 100 }, "the spike survives")
        let ticks = SVGChart.ticks(0, 1)
        XCTAssertEqual(ticks.count, 6)
        for (t, e) in zip(ticks, [0, 0.2, 0.4, 0.6, 0.8, 1.0]) { XCTAssertEqual(t, e, accuracy: 1e-12) }
    }
}
