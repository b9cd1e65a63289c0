// Building instruction tasks: deterministic per seed, held-out tasks only from the
// test split, training tasks from the train split (optionally one period), no
// prompt shared between the two, reference replies that pass their own checkers.

import XCTest
import StrataData
@testable import StrataEval
import StrataTestSupport

/// Hand-made QA pairs: every fourth is in the test split, periods alternate, every third answer has two words.
func instructionQA(_ count: Int = 60) throws -> [SyntheticWorld.QAPair] {
    let records: [[String: Any]] = (0..<count).map { i in
        let answer = i % 3 == 0 ? "North Town\(i)" : "Town\(i)"
        return ["question": "Where was Person\(i) born?", "answer": answer, "sentence_answer": "Person\(i) was born in \(answer).",
                "verbose_answer": "Well, Person\(i) was born in \(answer).", "wrong_answer": "Elsewhere",
                "verbose_wrong_answer": "Person\(i) was born elsewhere.", "distractors": ["Elsewhere", "Nowhere"],
                "period": i % 2 == 0 ? "before" : "after", "domain": "geography", "fact_id": "F\(i)",
                "relation": "born_in", "subject": "Person\(i)", "split": i % 4 == 0 ? "test" : "train"]
    }
    let data = try JSONSerialization.data(withJSONObject: records)
    return try JSONDecoder().decode([SyntheticWorld.QAPair].self, from: data)
}

final class InstructionTasksTests: XCTestCase {
    func testBuildIsDeterministicPerSeed() throws {
        let qa = try instructionQA()
        let a = InstructionTasks.build(qa: qa, seed: 7, perKind: 5), b = InstructionTasks.build(qa: qa, seed: 7, perKind: 5)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, InstructionTasks.build(qa: qa, seed: 8, perKind: 5))
        let counts = Dictionary(grouping: a, by: \.kind).mapValues(\.count)
        for kind in InstructionKind.allCases { XCTAssertEqual(counts[kind], 5, kind.rawValue) }
    }

    func testFactQuestionsAreDrawnPerPeriodSoAfterCutoffOnesAreNotCrowdedOut() throws {
        var qa = try instructionQA(80)   // test split: 20 before-cutoff questions; make 10 after-cutoff ones test too
        for i in qa.indices where i % 8 == 1 { qa[i].split = "test" }
        let six = InstructionTasks.build(qa: qa, seed: 4, perKind: 6).filter { $0.kind == .fact }
        XCTAssertEqual(six.filter { $0.period == "before" }.count, 6)
        XCTAssertEqual(six.filter { $0.period == "after" }.count, 6)
        let many = InstructionTasks.build(qa: qa, seed: 4, perKind: 15)
        XCTAssertEqual(many.filter { $0.kind == .fact && $0.period == "before" }.count, 15)
        XCTAssertEqual(many.filter { $0.kind == .fact && $0.period == "after" }.count, 10, "all there are")
        XCTAssertEqual(many.filter { $0.kind == .json }.count, 15, "format kinds draw from the whole pool")
    }

    func testGuessingChanceIsOneOverTheRelationsDistinctAnswersInTheWholeWorld() throws {
        var qa = try instructionQA(40)
        // Two relations: "born_in" keeps its 40 distinct towns; "award" has 4 prizes, repeated.
        for i in qa.indices where i % 2 == 1 { qa[i].relation = "award"; qa[i].answer = "Prize\(i % 8 / 2)" }
        let tasks = InstructionTasks.build(qa: qa, seed: 1, perKind: 100)
        let facts = tasks.filter { $0.factID != nil }
        XCTAssertFalse(facts.isEmpty)
        for t in facts {
            let q = qa.first { $0.factID == t.factID }!
            XCTAssertEqual(t.chance!, q.relation == "award" ? 1.0 / 4 : 1.0 / 20, accuracy: 1e-12,
                           "distinct answers counted over both splits and periods, not the test split alone")
        }
        XCTAssertTrue(tasks.filter { $0.kind == .add || $0.kind == .reverse }.allSatisfy { $0.chance == nil })
        let train = InstructionTasks.training(qa: qa, seed: 1, perKind: 100)
        XCTAssertTrue(train.filter { $0.factID != nil }.allSatisfy { $0.chance != nil })
    }

    func testHeldOutTasksUseTestSplitAndRightShapes() throws {
        let qa = try instructionQA()
        let testFacts = Set(qa.filter { $0.split == "test" }.map(\.factID))
        let tasks = InstructionTasks.build(qa: qa, seed: 1, perKind: 100, system: "Be brief.")
        for t in tasks {
            XCTAssertEqual(t.messages.map(\.role), [.system, .user])
            XCTAssertTrue(t.check(t.referenceReply), "\(t.kind): \(t.referenceReply)")
            switch t.kind {
            case .fact, .oneWord, .json:
                XCTAssertTrue(testFacts.contains(t.factID ?? ""), t.instruction)
                XCTAssertNotNil(t.period)
            case .add, .reverse:
                XCTAssertNil(t.factID)
            }
        }
        // Test split has 15 facts; one_word keeps only single-word answers (10 of them).
        XCTAssertEqual(tasks.filter { $0.kind == .fact }.count, 15)
        let oneWord = tasks.filter { $0.kind == .oneWord }
        XCTAssertEqual(oneWord.count, 10)
        XCTAssertTrue(oneWord.allSatisfy { !$0.expected.contains(" ") && $0.instruction.hasPrefix("Answer in one word: ") })
        XCTAssertTrue(tasks.filter { $0.kind == .json }.allSatisfy { $0.instruction.hasPrefix("Answer in JSON with the key \"answer\": ") })
        for t in tasks where t.kind == .add {
            let nums = t.instruction.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            XCTAssertEqual(nums.count, 2)
            XCTAssertEqual(String(nums.reduce(0, +)), t.expected)
        }
        for t in tasks where t.kind == .reverse {
            let items = t.instruction.dropFirst("Reverse the list: ".count).components(separatedBy: ", ")
            XCTAssertEqual(items.reversed().joined(separator: ", "), t.expected)
            XCTAssertGreaterThanOrEqual(items.count, 3)
        }
        XCTAssertEqual(Set(tasks.map { "\($0.kind)|\($0.instruction)" }).count, tasks.count, "no duplicate tasks")
    }

    func testTrainingNeverOverlapsHeldOutTasks() throws {
        let qa = try instructionQA()
        let test = InstructionTasks.build(qa: qa, seed: 3, perKind: 60)
        for seed: UInt64 in [3, 4] {
            let train = InstructionTasks.training(qa: qa, seed: seed, perKind: 200)
            XCTAssertTrue(Set(test.map(\.instruction)).isDisjoint(with: train.map(\.instruction)))
            XCTAssertTrue(Set(test.compactMap(\.factID)).isDisjoint(with: train.compactMap(\.factID)))
            XCTAssertGreaterThan(train.filter { $0.kind == .add }.count, 100)
        }
        let before = InstructionTasks.training(qa: qa, seed: 3, perKind: 200, periods: ["before"])
        let factBased = before.filter { $0.factID != nil }
        XCTAssertFalse(factBased.isEmpty)
        XCTAssertTrue(factBased.allSatisfy { $0.period == "before" })
        XCTAssertTrue(before.contains { $0.kind == .reverse })
    }

    func testTrainingConversationsAreValidChats() throws {
        let qa = try instructionQA()
        let convs = InstructionTasks.trainingConversations(qa: qa, seed: 5, perKind: 4, periods: ["before"])
        let tasks = InstructionTasks.training(qa: qa, seed: 5, perKind: 4, periods: ["before"])
        XCTAssertEqual(convs.count, tasks.count)
        XCTAssertEqual(convs.count, 20)
        for (c, t) in zip(convs, tasks) {
            XCTAssertNil(c.problem())
            XCTAssertEqual(c.messages.map(\.role), [.user, .assistant])
            XCTAssertEqual(c.messages.last?.content, t.referenceReply)
        }
    }

    func testTRLJSONLLoadsBackAsTheSameConversations() throws {
        let tasks = InstructionTasks.training(qa: try instructionQA(), seed: 9, perKind: 3, system: "Be brief.")
        let url = try scratchDirectory().appendingPathComponent("sft.jsonl")
        try InstructionTasks.trlJSONL(tasks).write(to: url, atomically: true, encoding: .utf8)
        let loaded = try SFTDataset.load(url)
        XCTAssertEqual(loaded.skippedLines, 0)
        XCTAssertEqual(loaded.conversations, tasks.map { $0.conversation() })
    }
}
