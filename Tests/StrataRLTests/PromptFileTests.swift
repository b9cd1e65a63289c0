// Prompt files: TRL prompt-only JSONL parsing (plain and conversational, extra
// columns kept), file:line errors for bad lines, writing back, and the world's
// instruction tasks as train/test prompt files.

import Foundation
import XCTest
import StrataCore
import StrataData
import StrataEval
@testable import StrataRL
import StrataTestSupport

final class PromptFileTests: XCTestCase {
    func write(_ lines: [String], _ name: String = "prompts.jsonl") throws -> URL {
        let url = try scratchDirectory(name).appendingPathComponent(name)
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func testPlainAndConversationalPromptsLoadWithTheirExtraColumns() throws {
        let url = try write([
            #"{"prompt": "Add 3 and 4.", "answer": "7", "kind": "add"}"#,
            "",
            #"{"prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Where was Person1 born?"}], "answer": "Town1", "id": 12, "tags": ["a"], "ok": true}"#,
        ])
        let set = try PromptDataset.load(url)
        XCTAssertEqual(set.records.count, 2)
        XCTAssertEqual(set.lineNumbers, [1, 3])
        XCTAssertEqual(set.records[0].format, .plain)
        XCTAssertEqual(set.records[0].request, "Add 3 and 4.")
        XCTAssertEqual(set.records[0].text("answer"), "7")
        XCTAssertEqual(set.records[1].format, .conversational)
        XCTAssertEqual(set.records[1].messages, [ChatMessage(.system, "Be brief."), ChatMessage(.user, "Where was Person1 born?")])
        XCTAssertEqual(set.records[1].columns["id"], .number(12))
        XCTAssertEqual(set.records[1].text("id"), "12")
        XCTAssertEqual(set.records[1].columns["tags"], .array([.string("a")]))
        XCTAssertEqual(set.records[1].columns["ok"], .bool(true))
        XCTAssertEqual(set.location(1), "\(url.path):3")
    }

    func testWrittenPromptsLoadBackUnchanged() throws {
        let records = [PromptRecord.plain("hello", columns: ["answer": .string("x"), "n": .number(2.5)]),
                       PromptRecord.chat([ChatMessage(.user, "Reverse the list: a, b")], columns: ["meta": .object(["k": .null])])]
        let url = try scratchDirectory().appendingPathComponent("p.jsonl")
        try PromptDataset.write(records, to: url)
        XCTAssertEqual(try PromptDataset.load(url).records, records)
    }

    func testBadLinesAreRefusedNamingFileLineAndReason() throws {
        let cases: [(String, String)] = [
            (#"{"messages": [{"role": "user", "content": "hi"}]}"#, "SFT conversation"),
            (#"{"chosen": "a", "rejected": "b"}"#, "preference pair"),
            (#"{"prompt": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}"#, "must end with a user turn"),
            (#"{"prompt": [{"role": "robot", "content": "hi"}]}"#, "unknown role \"robot\""),
            (#"{"prompt": "   "}"#, "empty string"),
            (#"{"prompt": 7}"#, "a number"),
            (#"{"prompt": "ok""#, "not valid JSON"),
        ]
        for (line, reason) in cases {
            let url = try write([#"{"prompt": "fine"}"#, line], "bad.jsonl")
            assertThrowsStrataError(try PromptDataset.load(url)) { e in
                XCTAssertTrue(e.operation.hasSuffix("bad.jsonl:2"), "\(e)")
                XCTAssertTrue(e.message.contains(reason), "\(line) → \(e)")
            }
            let skipped = try PromptDataset.load(url, skipBadLines: true)
            XCTAssertEqual(skipped.records.count, 1)
            XCTAssertEqual(skipped.skippedLines, 1)
        }
    }

    func testAFileWithNoUsablePromptIsRefused() throws {
        let url = try write([#"{"text": "x"}"#])
        assertThrowsStrataError(try PromptDataset.load(url, skipBadLines: true)) { XCTAssertTrue($0.message.contains("no usable prompts"), "\($0)") }
    }

    func testMissingRuleColumnIsNamedWithItsLine() throws {
        let url = try write([#"{"prompt": "a", "answer": "1"}"#, #"{"prompt": "b", "answer": ["1"]}"#])
        let set = try PromptDataset.load(url)
        assertThrowsStrataError(try set.requireColumn("answer", for: "reward rule exact_match")) { e in
            XCTAssertTrue(e.operation.contains(":2"), "\(e)")
            XCTAssertTrue(e.message.contains("\"answer\" is a list"), "\(e)")
        }
    }

    func testWorldInstructionPromptsAreTheEvaluationTasksAndDisjointFromTraining() throws {
        var cfg = SyntheticWorld.Config(seed: 5, size: 60_000)
        cfg.minRenderings = 2; cfg.maxRenderings = 3
        let world = try SyntheticWorld.generate(cfg)
        let dir = try scratchDirectory()
        let written = try InstructionPrompts.write(qa: world.qa, to: dir,
                                                   config: .init(trainPerKind: 30, trainSeed: 1, testPerKind: 10, generatedPerKind: 300))
        XCTAssertEqual(written.map(\.file), [InstructionPrompts.trainFile, InstructionPrompts.testFile, InstructionPrompts.generatedFile])
        let train = try PromptDataset.load(dir.appendingPathComponent(InstructionPrompts.trainFile))
        let test = try PromptDataset.load(dir.appendingPathComponent(InstructionPrompts.testFile))
        XCTAssertEqual(test.records.compactMap(InstructionPrompts.task), InstructionTasks.build(qa: world.qa, seed: 0, perKind: 10))
        XCTAssertEqual(train.records.count, written[0].records)
        XCTAssertTrue(Set(train.records.map(\.request)).isDisjoint(with: test.records.map(\.request)))
        for kind in InstructionKind.allCases {
            XCTAssertTrue(train.records.contains { $0.text("kind") == kind.rawValue }, kind.rawValue)
            XCTAssertTrue(test.records.contains { $0.text("kind") == kind.rawValue }, kind.rawValue)
        }
        XCTAssertTrue(test.records.allSatisfy { $0.format == .conversational && $0.text("answer") != nil })
    }

    func testGeneratedPromptsAreManyDistinctAdditionsAndReversalsNeverHeldOut() throws {
        var cfg = SyntheticWorld.Config(seed: 5, size: 60_000)
        cfg.minRenderings = 2; cfg.maxRenderings = 3
        let world = try SyntheticWorld.generate(cfg)
        let dir = try scratchDirectory()
        // The held-out set at its largest (every test-split task up to 400 a kind) against 1,500 generated a kind.
        let written = try InstructionPrompts.write(qa: world.qa, to: dir, config: .init(testPerKind: 400, generatedPerKind: 1_500))
        XCTAssertEqual(written.last?.file, InstructionPrompts.generatedFile)
        let generated = try PromptDataset.load(dir.appendingPathComponent(InstructionPrompts.generatedFile))
        let test = try PromptDataset.load(dir.appendingPathComponent(InstructionPrompts.testFile))
        let kinds = Dictionary(grouping: generated.records) { $0.text("kind") ?? "?" }
        XCTAssertEqual(Set(kinds.keys), ["add", "reverse"])
        XCTAssertEqual(kinds["add"]?.count, 1_500)
        XCTAssertEqual(kinds["reverse"]?.count, 1_500)
        XCTAssertEqual(Set(generated.records.map(\.request)).count, 3_000, "every generated prompt is distinct")
        XCTAssertTrue(Set(generated.records.map(\.request)).isDisjoint(with: test.records.map(\.request)))
        XCTAssertGreaterThan(test.records.filter { $0.text("kind") == "add" }.count, 40, "the held-out additions are many too")
        // Every generated prompt's answer is right by the same checker the reward uses.
        for r in generated.records {
            let task = try XCTUnwrap(InstructionPrompts.task(r))
            XCTAssertTrue(task.check(task.referenceReply), task.instruction)
        }
    }

    func testAPromptFilterKeepsTheListedValuesWithTheirLineNumbers() throws {
        let url = try write([
            #"{"prompt": "Add 3 and 4.", "answer": "7", "kind": "add"}"#,
            #"{"prompt": "Where was Person1 born?", "answer": "Town1", "kind": "fact"}"#,
            #"{"prompt": "Reverse: a b c", "answer": "c b a", "kind": "reverse"}"#,
        ], "filter.jsonl")
        let kept = try PromptDataset.load(url).keeping(column: "kind", values: ["add", "reverse"], key: "grpo.prompt_filter")
        XCTAssertEqual(kept.records.map { $0.text("kind") }, ["add", "reverse"])
        XCTAssertEqual(kept.lineNumbers, [1, 3])
        XCTAssertEqual(kept.location(1), "\(url.path):3", "errors about kept prompts still name their line in the file")
        assertThrowsStrataError(try PromptDataset.load(url).keeping(column: "kind", values: ["addition"], key: "grpo.prompt_filter")) { e in
            XCTAssertTrue(e.operation.contains("grpo.prompt_filter"), "\(e)")
            XCTAssertTrue(e.fix?.contains("add, fact, reverse") ?? false, "the fix lists the values the column holds: \(e)")
        }
        assertThrowsStrataError(try PromptDataset.load(url).keeping(column: "kind", values: [], key: "ppo.prompt_filter")) { e in
            XCTAssertTrue("\(e)".contains("values is empty"), "\(e)")
        }
        assertThrowsStrataError(try PromptDataset.load(url).keeping(column: "level", values: ["1"], key: "ppo.prompt_filter")) { e in
            XCTAssertTrue("\(e)".contains("\"level\" is missing") && "\(e)".contains(":1"), "\(e)")
        }
    }
}

final class PromptOrderTests: XCTestCase {
    func testEveryEpochVisitsEachPromptOnceAndStepsAreReproducible() throws {
        let order = try PromptOrder(count: 7, seed: 3)
        let steps = (0..<7).map { order.indices(step: $0, batchSize: 3) }   // 21 draws = 3 epochs
        let flat = steps.flatMap { $0 }
        for e in 0..<3 { XCTAssertEqual(Set(flat[(7 * e)..<(7 * e + 7)]), Set(0..<7), "epoch \(e)") }
        XCTAssertNotEqual(order.permutation(epoch: 0), order.permutation(epoch: 1))
        XCTAssertEqual(try PromptOrder(count: 7, seed: 3).indices(step: 5, batchSize: 3), steps[5], "a resumed run draws the same prompts")
        XCTAssertNotEqual(try PromptOrder(count: 7, seed: 4).permutation(epoch: 0), order.permutation(epoch: 0))
        XCTAssertEqual(order.epoch(step: 5, batchSize: 3), 2)
        assertThrowsStrataError(try PromptOrder(count: 0, seed: 1)) { XCTAssertTrue($0.message.contains("no prompts")) }
    }
}
