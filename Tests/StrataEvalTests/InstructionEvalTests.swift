// Instruction evaluation: scoring hand-made replies (accuracy per kind and period,
// mean length, metric names, count mismatches), tasks from a real synthetic world,
// and one end-to-end run on a tiny random GPT-2 with a tiny chat tokenizer.

import XCTest
import StrataCore
import StrataData
import StrataModel
import StrataTokenizer
@testable import StrataEval
import StrataTestSupport

final class InstructionEvalTests: XCTestCase {
    func task(_ kind: InstructionKind, _ expected: String, period: String? = nil) -> InstructionTask {
        InstructionTask(kind: kind, messages: [ChatMessage(.user, "q")], expected: expected, period: period)
    }

    func testScoreCountsPerKindAndPeriod() throws {
        let tasks = [task(.fact, "Paris", period: "before"), task(.fact, "Lyon", period: "after"), task(.fact, "Nice", period: "after"),
                     task(.oneWord, "Paris"), task(.json, "Paris"), task(.add, "7"), task(.reverse, "c, b, a")]
        let replies = ["Paris.", "Lyon", "Nice city", "Paris France", "{\"answer\":\"Paris\"}", "8", "c, b, a"]
        let r = try InstructionEval.score(replies: replies, tasks: tasks, replyTokens: [2, 1, 2, 2, 6, 1, 5])
        XCTAssertEqual(r.overall, .init(correct: 5, count: 7))
        XCTAssertEqual(r.byKind["fact"], .init(correct: 3, count: 3))
        XCTAssertEqual(r.factByPeriod["after"], .init(correct: 2, count: 2))
        XCTAssertEqual(r.results.map(\.correct), [true, true, true, false, true, false, true])
        let m = r.metricsDictionary()
        XCTAssertEqual(m["instr_acc"]!, 5.0 / 7.0, accuracy: 1e-12)
        XCTAssertEqual(m["instr_acc.fact"], 1)
        XCTAssertEqual(m["instr_acc.fact.before"], 1)
        XCTAssertEqual(m["instr_acc.one_word"], 0)
        XCTAssertEqual(m["instr_acc.json"], 1)
        XCTAssertEqual(m["instr_acc.add"], 0)
        XCTAssertEqual(m["instr_acc.reverse"], 1)
        XCTAssertEqual(m["instr_len"]!, 19.0 / 7.0, accuracy: 1e-12)
        XCTAssertEqual(m["instr_count"], 7)
        let back = try JSONDecoder().decode(InstructionReport.self, from: r.jsonData())
        XCTAssertEqual(back, r)
    }

    func testReportGivesTheMeanGuessingChancePerPeriodOnlyWhenEveryFactTaskHasOne() throws {
        func fact(_ period: String, _ chance: Double?) -> InstructionTask {
            InstructionTask(kind: .fact, messages: [ChatMessage(.user, "q")], expected: "A", period: period, chance: chance)
        }
        let tasks = [fact("before", 0.25), fact("before", 0.125), fact("after", 0.5), fact("after", nil),
                     InstructionTask(kind: .oneWord, messages: [ChatMessage(.user, "q")], expected: "A", period: "before", chance: 1)]
        let r = try InstructionEval.score(replies: ["A", "B", "A", "A", "A"], tasks: tasks)
        let m = r.metricsDictionary()
        XCTAssertEqual(m["instr_chance.fact.before"]!, 0.1875, accuracy: 1e-12, "one-word tasks do not count")
        XCTAssertNil(m["instr_chance.fact.after"], "a task without a chance leaves its period without one")
        XCTAssertEqual(try JSONDecoder().decode(InstructionReport.self, from: r.jsonData()), r)
        XCTAssertNil(try InstructionEval.score(replies: ["3"], tasks: [task(.add, "3")]).factChanceByPeriod)
    }

    func testScoreWithoutLengthsAndMismatchedCounts() throws {
        let tasks = [task(.add, "3"), task(.add, "4")]
        let r = try InstructionEval.score(replies: ["3", "5"], tasks: tasks, keepResults: false)
        XCTAssertNil(r.metricsDictionary()["instr_len"])
        XCTAssertNil(r.metricsDictionary()["instr_acc.fact"], "kinds without tasks have no metric")
        XCTAssertEqual(r.metricsDictionary()["instr_acc.add"], 0.5)
        XCTAssertTrue(r.results.isEmpty)
        assertThrowsStrataError(try InstructionEval.score(replies: ["3"], tasks: tasks)) { XCTAssertTrue("\($0)".contains("1 replies for 2 tasks")) }
        assertThrowsStrataError(try InstructionEval.score(replies: ["3", "4"], tasks: tasks, replyTokens: [1])) { _ in }
    }

    func testTasksFromSyntheticWorld() throws {
        let world = try SyntheticWorld.generate(SyntheticWorld.Config(seed: 2, size: 20_000))
        let tasks = InstructionTasks.build(qa: world.qa, seed: 0, perKind: 8)
        let test = Set(world.qa.filter { $0.split == "test" }.map(\.factID))
        XCTAssertTrue(tasks.compactMap(\.factID).allSatisfy(test.contains))
        XCTAssertTrue(tasks.contains { $0.kind == .fact })
        XCTAssertTrue(tasks.allSatisfy { $0.check($0.referenceReply) })
        let train = InstructionTasks.training(qa: world.qa, seed: 0, perKind: 50, periods: ["before"])
        XCTAssertTrue(Set(tasks.map(\.instruction)).isDisjoint(with: train.map(\.instruction)))
    }

    func testEndToEndOnTinyModelIsDeterministic() throws {
        let docs = ["Where was Person1 born? Town1. Add 3 and 4. 7. Reverse the list: apple, river, stone",
                    "Answer in one word: Answer in JSON with the key \"answer\": {\"answer\": \"Town2\"}"]
        let tok = try BPETokenizer.train(texts: docs, config: BPETrainer.Config(
            vocabSize: 300, specialTokens: ["<|endoftext|>"] + ChatTemplate.chatML.specialTokens))
        let model = GPT2(GPT2Config(vocabSize: tok.vocabSize, nPositions: 128, nEmbd: 16, nLayer: 1, nHead: 2), seed: 11)
        let tasks = InstructionTasks.build(qa: try instructionQA(24), seed: 2, perKind: 2)
        let config = InstructionEval.Config(maxNewTokens: 5, maxBatchRows: 4)
        let a = try InstructionEval.evaluate(model: model, tokenizer: tok, tasks: tasks, config: config)
        let b = try InstructionEval.evaluate(model: model, tokenizer: tok, tasks: tasks, config: config)
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.overall.count, tasks.count)
        XCTAssertEqual(a.results.count, tasks.count)
        for kind in InstructionKind.allCases { XCTAssertEqual(a.byKind[kind.rawValue]?.count, 2, kind.rawValue) }
        let len = try XCTUnwrap(a.meanReplyTokens)
        XCTAssertTrue(len >= 0 && len <= 5, "\(len)")
        XCTAssertEqual(Set(a.metricsDictionary().keys).isSuperset(of: ["instr_acc", "instr_acc.fact", "instr_acc.one_word",
                                                                        "instr_acc.json", "instr_acc.add", "instr_acc.reverse", "instr_len"]), true)
        // Scoring the generated replies again gives the same report.
        XCTAssertEqual(try InstructionEval.score(replies: a.results.map(\.reply), tasks: tasks,
                                                 replyTokens: a.results.map { $0.replyTokens ?? -1 }), a)
    }

    func testTokenizerWithoutChatTokensIsRefused() throws {
        let tok = try BPETokenizer.train(texts: ["plain text only"], config: BPETrainer.Config(vocabSize: 270))
        assertThrowsStrataError(try InstructionEval.chatTokenizer(tok)) { XCTAssertTrue("\($0)".contains("<|im_start|>")) }
    }
}
