// Reports: tallies, forgetting signs, flat metric names, JSON round trips and the
// comparison table (every row and column present, missing cells marked).

import XCTest
import StrataCore
@testable import StrataEval
import StrataTestSupport

final class ReportTests: XCTestCase {
    func testForgettingSigns() {
        // The baseline knows 8/10 old facts and 1/10 new ones; the checkpoint 6/10 and 7/10.
        let base = report("base", before: (8, 10), after: (1, 10), losses: ["general": 2.0, "news": 3.0])
        let ckpt = report("ckpt", before: (6, 10), after: (7, 10), losses: ["general": 2.25, "news": 2.5]).comparing(to: base)
        let f = ckpt.forgetting!
        XCTAssertEqual(f.baseline, "base")
        XCTAssertEqual(f.probeAccuracy!, 0.2, accuracy: 1e-12, "worse on old facts is positive forgetting")
        XCTAssertEqual(f.probeAccuracyByPeriod["before"]!, 0.2, accuracy: 1e-12)
        XCTAssertNil(f.probeAccuracyByPeriod["after"])
        XCTAssertEqual(f.probeAccuracyByDomain["general"]!, 0.2, accuracy: 1e-12, "domain forgetting counts only old probes")
        XCTAssertEqual(f.probeExactMatch!, 0.2, accuracy: 1e-12)
        XCTAssertEqual(f.newKnowledgeAccuracyGain!, 0.6, accuracy: 1e-12)
        XCTAssertEqual(f.newKnowledgeExactMatchGain!, 0, accuracy: 1e-12)
        XCTAssertEqual(f.loss["general"]!, 0.25, accuracy: 1e-12, "higher loss is positive forgetting")
        XCTAssertEqual(f.loss["news"]!, -0.5, accuracy: 1e-12)
        XCTAssertEqual(f.meanLossIncrease!, -0.125, accuracy: 1e-12)
        // The other way round every sign flips.
        let back = base.comparing(to: report("ckpt", before: (6, 10), after: (7, 10), losses: ["general": 2.25, "news": 2.5])).forgetting!
        XCTAssertEqual(back.probeAccuracy!, -0.2, accuracy: 1e-12)
        XCTAssertEqual(back.newKnowledgeAccuracyGain!, -0.6, accuracy: 1e-12)
        XCTAssertEqual(back.loss["general"]!, -0.25, accuracy: 1e-12)
    }

    func testLossesMeasuredDifferentlyAreNotCompared() {
        let base = EvalReport(label: "b", validation: [SourceLoss(name: "g", loss: 2, tokens: 64, windows: 2, context: 32)])
        let other = EvalReport(label: "c", validation: [SourceLoss(name: "g", loss: 3, tokens: 32, windows: 1, context: 32)])
        XCTAssertTrue(other.comparing(to: base).forgetting!.loss.isEmpty)
    }

    func testTalliesAndMerging() {
        let results = [result(period: "before", domain: "general", correct: true, exact: true),
                       result(period: "before", domain: "medicine", correct: false),
                       result(period: "after", domain: "general", correct: true, candidates: 2)]
        let r = ProbeReport(results: results, exactMatchEvaluated: true)
        XCTAssertEqual(r.overall.count, 3)
        XCTAssertEqual(r.overall.correct, 2)
        XCTAssertEqual(r.overall.exactMatches, 1)
        XCTAssertEqual(r.overall.chance, (0.25 + 0.25 + 0.5) / 3, accuracy: 1e-12)
        XCTAssertEqual(r.byPeriodDomain.keys.sorted(), ["after/general", "before/general", "before/medicine"])
        XCTAssertEqual(r.oldKnowledge(domain: "general")?.count, 1)
        XCTAssertEqual(r.oldKnowledge?.count, 2)
        XCTAssertEqual(r.oldKnowledge?.accuracy ?? 0, 0.5, accuracy: 1e-12)
        XCTAssertEqual(ProbeScore.merged(Array(r.byPeriod.values)), r.overall)
    }

    func testMetricsDictionaryNames() {
        let base = report("base", before: (8, 10), after: (1, 10), losses: ["general": 2.0, "news": 3.0])
        let ckpt = report("ckpt", before: (6, 10), after: (7, 10), losses: ["general": 2.25, "news": 2.5]).comparing(to: base)
        let m = ckpt.metricsDictionary()
        let expected: [String: Double] = [
            "probe_acc": 0.65, "probe_acc.before": 0.6, "probe_acc.after": 0.7, "probe_em.before": 0.6, "probe_em.after": 0,
            "probe_acc.domain.general": 0.65, "probe_count.before": 10, "probe_chance": 0.25,
            "val_loss.general": 2.25, "val_loss.news": 2.5, "val_loss.all": 2.375, "val_ppl.general": exp(2.25),
            "forgetting.probe_acc": 0.2, "forgetting.probe_acc.before": 0.2, "forgetting.probe_acc.domain.general": 0.2,
            "forgetting.probe_em.before": 0.2, "forgetting.val_loss.general": 0.25, "forgetting.val_loss.news": -0.5,
            "gain.probe_acc.after": 0.6, "gain.probe_em.after": 0,
        ]
        for (k, v) in expected { XCTAssertEqual(m[k] ?? .nan, v, accuracy: 1e-9, k) }
        XCTAssertNil(m["forgetting.probe_acc.after"])
        XCTAssertTrue(m.values.allSatisfy(\.isFinite))
        XCTAssertNil(base.metricsDictionary()["forgetting.probe_acc"], "no baseline, no forgetting")
        var noEM = base
        noEM.probes!.exactMatchEvaluated = false
        XCTAssertNil(noEM.metricsDictionary()["probe_em.before"])
    }

    func testJSONRoundTripWithSortedKeys() throws {
        let base = report("base", before: (8, 10), after: (1, 10), losses: ["general": 2.0])
        let ckpt = report("ckpt", before: (6, 10), after: (7, 10), losses: ["general": 2.25]).comparing(to: base)
        let url = try scratchDirectory().appendingPathComponent("r.json")
        try ckpt.write(to: url)
        XCTAssertEqual(try EvalReport.read(at: url), ckpt)
        let text = String(decoding: try ckpt.jsonData(pretty: false), as: UTF8.self)
        XCTAssertTrue(text.hasPrefix(#"{"forgetting":{"baseline":"base","#), text.prefix(80) + "")
        XCTAssertTrue(text.contains(#""probe_accuracy_by_period":{"before":"#))
    }

    func testTableHasEveryRowAndColumn() {
        let base = report("pretrain/step-0000600", before: (8, 10), after: (1, 10), losses: ["general": 2.0])
        let cont = report("continue/step-0000200", before: (6, 10), after: (7, 10), losses: ["general": 2.25, "news": 2.5]).comparing(to: base)
        let noProbes = EvalReport(label: "x", validation: [SourceLoss(name: "news", loss: 4, tokens: 64, windows: 2, context: 32)])
        let table = EvalTable.render([base, cont, noProbes])
        let lines = table.split(separator: "\n").map(String.init)
        let header = lines[0]
        for col in ["checkpoint", "loss general", "loss news", "acc before", "acc after", "em before", "em after", "forget", "gain after"] {
            XCTAssertTrue(header.contains(col), "missing column \(col) in \(header)")
        }
        XCTAssertTrue(header.range(of: "acc before")!.lowerBound < header.range(of: "acc after")!.lowerBound)
        XCTAssertTrue(lines[1].allSatisfy { $0 == "-" || $0 == " " })
        XCTAssertTrue(lines[2].hasPrefix("pretrain/step-0000600"))
        XCTAssertTrue(lines[3].hasPrefix("continue/step-0000200"))
        XCTAssertTrue(lines[4].hasPrefix("x "))
        XCTAssertEqual(Set(lines[0...4].map(\.count)).count, 1, "fixed width:\n\(table)")
        XCTAssertTrue(lines[3].contains("2.250 (+0.250)"), lines[3])
        XCTAssertTrue(lines[3].contains("+20.0") && lines[3].contains("+60.0"), lines[3])
        XCTAssertTrue(lines[3].contains("60.0%") && lines[3].contains("70.0%"), lines[3])
        let cells = lines[4].split(separator: " ")
        XCTAssertEqual(cells.filter { $0 == "-" }.count, 7, "missing cells show '-': \(lines[4])")
        XCTAssertTrue(table.contains("chance 25.0%"))
        XCTAssertEqual(EvalTable.render([]), "(no evaluation reports)\n")
    }
}
