// Probe files: the synthetic world's probes.jsonl reads back, bad lines are
// reported with file and line, and capped subsets are seeded, balanced and stable.

import XCTest
import StrataCore
import StrataData
@testable import StrataEval
import StrataTestSupport

final class ProbeSetTests: XCTestCase {
    func testSyntheticWorldProbesReadBack() throws {
        let dir = try scratchDirectory()
        let world = try SyntheticWorld.generate(SyntheticWorld.Config(seed: 3, size: 20_000))
        let url = dir.appendingPathComponent("probes.jsonl")
        try JSONLines.write(world.probes, to: url)
        let probes = try ProbeSet.read(url)
        XCTAssertEqual(probes, world.probes.map(Probe.init))
        XCTAssertTrue(probes.allSatisfy { $0.problem() == nil })
        XCTAssertEqual(Set(probes.map(\.period)), ["before", "after"])
    }

    func testBadLinesNameFileAndLine() throws {
        let dir = try scratchDirectory()
        let good = #"{"prompt": "Ann lives in", "answer": "Oslo", "distractors": ["Lima"], "period": "before", "domain": "general"}"#
        let cases: [(String, String)] = [
            (#"{"prompt": "Ann lives in", "distractors": ["Lima"], "period": "before", "domain": "general"}"#, "answer"),
            (#"{"prompt": "Ann lives in", "answer": "", "distractors": ["Lima"], "period": "before", "domain": "general"}"#, "'answer' is empty"),
            (#"{"prompt": "Ann lives in", "answer": "Oslo", "distractors": [], "period": "before", "domain": "general"}"#, "'distractors' is empty"),
            (#"{"prompt": "Ann lives in", "answer": "Oslo", "distractors": ["Oslo"], "period": "before", "domain": "general"}"#, "equals the answer"),
            (#"{"prompt": "  ", "answer": "Oslo", "distractors": ["Lima"], "period": "before", "domain": "general"}"#, "'prompt' is empty"),
            (#"{"prompt": "Ann lives in", "answer": "Oslo", "distractors": ["Lima"], "domain": "general"}"#, "period"),
            (#"{"prompt": "Ann lives in", "answer": "Oslo", "distractors": "Lima", "period": "before", "domain": "general"}"#, "distractors"),
            (#"{"prompt": "Ann lives in", "answer": "Oslo""#, "invalid JSON"),
        ]
        for (k, (bad, expected)) in cases.enumerated() {
            let url = dir.appendingPathComponent("probes\(k).jsonl")
            try (good + "\n\n" + bad + "\n" + good + "\n").write(to: url, atomically: true, encoding: .utf8)
            assertThrowsStrataError(try ProbeSet.read(url)) { e in
                XCTAssertEqual(e.kind, .data, e.description)
                XCTAssertTrue(e.description.contains(url.path + ":3"), "no file:line in \(e.description)")
                XCTAssertTrue(e.description.contains(expected), "case \(k): '\(expected)' not in \(e.description)")
            }
        }
        let empty = dir.appendingPathComponent("empty.jsonl")
        try "\n".write(to: empty, atomically: true, encoding: .utf8)
        assertThrowsStrataError(try ProbeSet.read(empty)) { XCTAssertTrue($0.message.contains("no probes")) }
        assertThrowsStrataError(try ProbeSet.read(dir.appendingPathComponent("missing.jsonl"))) { XCTAssertEqual($0.kind, .io) }
    }

    func testOptionalFieldsMayBeLeftOut() throws {
        let url = try scratchDirectory().appendingPathComponent("p.jsonl")
        try #"{"prompt": "Ann lives in", "answer": "Oslo", "distractors": ["Lima", "Rome"], "period": "after", "domain": "x"}"#
            .write(to: url, atomically: true, encoding: .utf8)
        let p = try ProbeSet.read(url)
        XCTAssertEqual(p, [Probe(prompt: "Ann lives in", answer: "Oslo", distractors: ["Lima", "Rome"], period: "after", domain: "x")])
    }

    func testSubsetIsSeededBalancedAndKeepsFileOrder() {
        // Groups of 40, 10 and 2 probes.
        var probes: [Probe] = []
        for i in 0..<52 {
            let (period, domain) = i < 40 ? ("before", "general") : i < 50 ? ("after", "general") : ("before", "medicine")
            probes.append(Probe(prompt: "p\(i)", answer: "a\(i)", distractors: ["d"], period: period, domain: domain))
        }
        let a = ProbeSet.subset(probes, limit: 20, seed: 7)
        XCTAssertEqual(a, ProbeSet.subset(probes, limit: 20, seed: 7))
        XCTAssertNotEqual(a, ProbeSet.subset(probes, limit: 20, seed: 8))
        XCTAssertEqual(a.count, 20)
        XCTAssertEqual(Set(a.map(\.prompt)).count, 20)
        let order = a.map { probes.firstIndex(of: $0)! }
        XCTAssertEqual(order, order.sorted())
        XCTAssertEqual(a.filter { $0.domain == "medicine" }.count, 2, "a small group is kept whole")
        XCTAssertEqual(a.filter { $0.period == "after" }.count, 9)
        XCTAssertEqual(a.filter { $0.period == "before" && $0.domain == "general" }.count, 9)
        XCTAssertEqual(ProbeSet.subset(probes, limit: 100, seed: 1), probes)
    }
}
