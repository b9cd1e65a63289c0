// The `strata eval` job end to end on two tiny checkpoints laid out as training
// writes them: the parent is found through lineage.json, probes beside the
// training data, validation shards in the runs' data folders; JSON is written and
// the job is reproducible.

import XCTest
import StrataCore
import StrataModel
import StrataData
import StrataTokenizer
@testable import StrataEval
import StrataTestSupport

final class EvaluationTests: XCTestCase {
    static let facts = ["Alice lives in Paris.", "Bruno lives in Lima.", "Chen lives in Oslo.", "Dara lives in Rome."]

    /// runs/pretrain/checkpoints/step-0000010 (parent) and runs/continue/checkpoints/step-0000005 (child).
    func makeRuns(_ root: URL) throws -> (child: URL, parent: URL) {
        let (tok, _) = try BPETrainer.train(texts: Array(repeating: Self.facts.joined(separator: " "), count: 20),
                                            config: .init(vocabSize: 280))
        let world = root.appendingPathComponent("world")
        try FileManager.default.createDirectory(at: world, withIntermediateDirectories: true)
        let cities = ["Paris", "Lima", "Oslo", "Rome"]
        let probes = cities.indices.map { i in
            Probe(prompt: String(Self.facts[i].prefix { $0 != "." }.dropLast(cities[i].count + 1)), answer: cities[i],
                  distractors: cities.filter { $0 != cities[i] }, period: i < 2 ? "before" : "after", domain: "general")
        }
        try JSONLines.write(probes, to: world.appendingPathComponent("probes.jsonl"))
        let cfg = GPT2Config(vocabSize: tok.vocabSize, nPositions: 32, nEmbd: 32, nLayer: 1, nHead: 4)
        let parent = root.appendingPathComponent("runs/pretrain/checkpoints/step-0000010")
        let child = root.appendingPathComponent("runs/continue/checkpoints/step-0000005")
        let parentEntry = #"{"checkpoint_id": "pretrain/step-0000010", "parent": "random init", "stage": "pretrain", "#
            + #""data": [{"name": "general", "path": "\#(world.path)/before_cutoff.jsonl", "sha256": "x", "tokens": 1}]}"#
        let childEntry = #"{"checkpoint_id": "continue/step-0000005", "parent": {"id": "pretrain/step-0000010", "sha256": "ab"}, "#
            + #""stage": "continue", "data": [{"name": "news", "path": "/nowhere/after_cutoff.jsonl", "sha256": "y", "tokens": 1}]}"#
        for (dir, seed, entries) in [(parent, UInt64(1), [parentEntry]), (child, UInt64(2), [parentEntry, childEntry])] {
            try GPT2(cfg, seed: seed).save(directory: dir)
            try tok.write(to: dir.appendingPathComponent("tokenizer.json"))
            try #"{"format": "strata-lineage/1", "entries": [\#(entries.joined(separator: ", "))]}"#
                .write(to: dir.appendingPathComponent("lineage.json"), atomically: true, encoding: .utf8)
        }
        let data = root.appendingPathComponent("runs/pretrain/data")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        let w = try ShardWriter(url: data.appendingPathComponent("general.val.bin"), vocabSize: tok.vocabSize)
        for _ in 0..<6 { try w.append(tok.encode(Self.facts.joined(separator: " "))) }
        try w.finish()
        return (child, parent)
    }

    func testEvaluatesCheckpointAgainstItsParent() throws {
        let root = try scratchDirectory()
        let (child, parent) = try makeRuns(root)
        var cfg = Evaluation.Config(checkpoint: child.path)
        cfg.json = root.appendingPathComponent("eval.json").path
        cfg.validation.windows = 4
        var lines: [String] = []
        let outcome = try Evaluation.run(cfg, log: { lines.append($0) })
        XCTAssertEqual(outcome.reports.map(\.label), ["pretrain/step-0000010", "continue/step-0000005"])
        XCTAssertEqual(outcome.reports[0].checkpoint, parent.standardizedFileURL.path)
        XCTAssertNil(outcome.reports[0].forgetting)
        let f = try XCTUnwrap(outcome.reports[1].forgetting)
        XCTAssertEqual(f.baseline, "pretrain/step-0000010")
        XCTAssertEqual(f.loss.keys.sorted(), ["general"])
        XCTAssertNotNil(f.probeAccuracy)
        XCTAssertNotNil(f.newKnowledgeAccuracyGain)
        for r in outcome.reports {
            XCTAssertEqual(r.probes?.overall.count, 4)
            XCTAssertEqual(r.validation.map(\.name), ["general"])
            XCTAssertEqual(r.validation[0].windows, 4)
        }
        XCTAssertTrue(lines.contains { $0.contains("probes: 4 of 4 from") && $0.contains("world/probes.jsonl") }, "\(lines)")
        let written = try StrataJSON.read([EvalReport].self, at: URL(fileURLWithPath: cfg.json!))
        XCTAssertEqual(written, outcome.reports)
        XCTAssertTrue(outcome.table.contains("pretrain/step-0000010") && outcome.table.contains("continue/step-0000005"))
        XCTAssertTrue(outcome.table.contains("loss general") && outcome.table.contains("forget"))
        XCTAssertEqual(try Evaluation.run(cfg, log: { _ in }).reports, outcome.reports, "the same evaluation gives the same reports")
    }

    func testOptionsAndMissingParent() throws {
        let root = try scratchDirectory()
        let (child, parent) = try makeRuns(root)
        var cfg = Evaluation.Config(checkpoint: child.path)
        cfg.maxProbes = 2
        cfg.parentBaseline = false
        cfg.data = [Evaluation.DataSpec(name: "facts", path: root.appendingPathComponent("runs/pretrain/data/general.val.bin").path)]
        let one = try Evaluation.run(cfg, log: { _ in })
        XCTAssertEqual(one.reports.count, 1)
        XCTAssertEqual(one.reports[0].probes?.overall.count, 2)
        XCTAssertEqual(one.reports[0].validation.map(\.name), ["facts"])
        XCTAssertEqual(one.reports[0].probes?.byPeriod.keys.sorted(), ["after", "before"], "the subset is balanced")

        cfg.baseline = parent.path     // an explicit baseline is used even with parentBaseline off
        XCTAssertEqual(try Evaluation.run(cfg, log: { _ in }).reports.count, 2)

        try FileManager.default.removeItem(at: parent)
        var lines: [String] = []
        let orphan = try Evaluation.run(Evaluation.Config(checkpoint: child.path), log: { lines.append($0) })
        XCTAssertEqual(orphan.reports.count, 1)
        XCTAssertTrue(lines.contains { $0.contains("parent checkpoint 'pretrain/step-0000010' not found") }, "\(lines)")
    }

    func testBadInputsAreReported() throws {
        let root = try scratchDirectory()
        let (child, _) = try makeRuns(root)
        XCTAssertEqual(try Evaluation.DataSpec.parse("general=a/b.bin"), Evaluation.DataSpec(name: "general", path: "a/b.bin"))
        for bad in ["general", "=x.bin", "general="] {
            assertThrowsStrataError(try Evaluation.DataSpec.parse(bad)) { XCTAssertTrue($0.message.contains("name=path")) }
        }
        assertThrowsStrataError(try Evaluation.run(Evaluation.Config(checkpoint: root.path), log: { _ in })) {
            XCTAssertTrue($0.message.contains("config.json is missing"), $0.description)
        }
        try FileManager.default.removeItem(at: child.appendingPathComponent("lineage.json"))
        var cfg = Evaluation.Config(checkpoint: child.path)
        assertThrowsStrataError(try Evaluation.run(cfg, log: { _ in })) { XCTAssertTrue($0.message.contains("nothing to evaluate"), $0.description) }
        cfg.maxProbes = 0
        cfg.probes = root.appendingPathComponent("world/probes.jsonl").path
        assertThrowsStrataError(try Evaluation.run(cfg, log: { _ in })) { XCTAssertTrue($0.message.contains("max probes is 0"), $0.description) }
    }
}
