// The world's judging data for RLAIF: every train-split fact asked first (the
// judge answers with the right reply sentence), then right and wrong replies
// (as reply sentences) as a single reply and once as a pair in a seeded order,
// answered with the template's one-word answers; the file parses as SFT chat data,
// its template file reads back as the template and the held-out pairs file as
// preference data; agreement pairs come from the test split only.
// Leaves out: training a judge (the demo does; Demo+RL.swift).

import XCTest
import Foundation
import StrataCore
import StrataData
import StrataRL
@testable import StrataTrain
import StrataTestSupport

final class WorldJudgeDataTests: XCTestCase {
    func testEveryTrainFactIsAskedRightWrongAndAsAPairWithOneWordAnswers() throws {
        let out = try SyntheticWorld.generate(SyntheticWorld.Config(seed: 3, size: 60_000))
        let train = out.qa.filter { $0.split == "train" && $0.answer != $0.wrongAnswer }
        let chats = WorldJudgeData.conversations(qa: out.qa, seed: 3)
        XCTAssertEqual(chats.count, 3 * train.count)
        let t = WorldJudgeData.template
        let answers = chats.map { $0.last!.content }
        XCTAssertEqual(chats.map { $0.map(\.role) }, Array(repeating: [.user, .assistant, .user, .assistant], count: chats.count))
        XCTAssertEqual(answers.filter { $0 == t.yes }.count + answers.filter { $0 == t.no }.count, chats.count, "only A or B")
        // The judge's own answer is the question's right reply sentence.
        let byQuestion = Dictionary(train.map { ($0.question, $0) }, uniquingKeysWith: { a, _ in a })
        for c in chats { XCTAssertEqual(c[1].content, byQuestion[c[0].content].map { $0.reply(answering: $0.answer) }, c[0].content) }
        // Singles: half right (yes), half wrong (no); pairs: the right reply's position is seeded, not fixed.
        let singles = chats.filter { $0[2].content.hasPrefix("Reply: ") }, pairs = chats.filter { $0[2].content.hasPrefix("A: ") }
        XCTAssertEqual(singles.count + pairs.count, chats.count)
        XCTAssertEqual(singles.filter { $0.last!.content == t.yes }.count, train.count)
        let firstRight = pairs.filter { $0.last!.content == t.a }.count
        XCTAssertGreaterThan(firstRight, pairs.count / 4); XCTAssertLessThan(firstRight, 3 * pairs.count / 4)
        // Each single reply is judged by the truth: the right answer's reply sentence gets yes, the wrong one's no;
        // a sentence restates the subject before the value, as SFT replies do.
        for q in train.prefix(20) {
            func single(_ reply: String) -> [ChatMessage]? {
                singles.first { $0[0].content == q.question && $0[2].content == "Reply: \(reply)\nCorrect? A for yes, B for no." }
            }
            let right = q.reply(answering: q.answer), wrong = q.reply(answering: q.wrongAnswer)
            XCTAssertEqual(single(right)?.last?.content, t.yes, q.question)
            XCTAssertEqual(single(wrong)?.last?.content, t.no, q.question)
            if q.answerLead != nil {
                XCTAssertTrue(right.hasPrefix(q.subject) || right.contains(q.subject + " "), right)
                XCTAssertTrue(right.contains(" " + q.answer), "the value follows a space, as in pretraining text: \(right)")
            }
        }
        XCTAssertGreaterThan(train.filter { $0.answerLead != nil }.count, train.count / 2, "most replies are sentences")
        let testQuestions = Set(out.qa.filter { $0.split == "test" }.map(\.question))
        XCTAssertFalse(chats.contains { testQuestions.contains($0[0].content) },
                       "no held-out question is in the judge's training data")
        XCTAssertEqual(WorldJudgeData.conversations(qa: out.qa, seed: 3), chats, "deterministic by seed")
    }

    func testTheFilesParseAsChatDataAndTheTemplateReadsBack() throws {
        let dir = try scratchDirectory()
        let out = try SyntheticWorld.generate(SyntheticWorld.Config(seed: 1, size: 40_000))
        let written = try WorldJudgeData.write(qa: out.qa, seed: 1, to: dir)
        let data = try SFTDataset.load(dir.appendingPathComponent(written.file))
        XCTAssertEqual(data.conversations.count, written.conversations)
        let template = try StrataJSON.read(JudgeTemplate.self, at: dir.appendingPathComponent(WorldJudgeData.templateFileName))
        XCTAssertEqual(template, WorldJudgeData.template)
        XCTAssertNoThrow(try template.validate())
        let test = try PreferenceDataset.load(dir.appendingPathComponent(WorldJudgeData.testFileName))
        let agreement = WorldJudgeData.agreementPairs(qa: out.qa)
        XCTAssertEqual(test.pairs.map { $0.chosen[0].content }, agreement.map(\.right))
        XCTAssertEqual(test.pairs.map { $0.rejected[0].content }, agreement.map(\.wrong))
        XCTAssertEqual(test.pairs.map(\.type), agreement.map(\.period))
    }

    func testAgreementPairsAreHeldOutAndPairTheRightAnswerWithWrongOnes() throws {
        let out = try SyntheticWorld.generate(SyntheticWorld.Config(seed: 2, size: 60_000))
        let pairs = WorldJudgeData.agreementPairs(qa: out.qa)
        let test = Dictionary(out.qa.filter { $0.split == "test" }.map { ($0.question, $0) }, uniquingKeysWith: { a, _ in a })
        XCTAssertFalse(pairs.isEmpty)
        for p in pairs {
            let q = try XCTUnwrap(test[p.question], "only test-split questions")
            XCTAssertEqual(p.right, q.reply(answering: q.answer)); XCTAssertNotEqual(p.wrong, p.right); XCTAssertEqual(p.period, q.period)
            XCTAssertTrue(([q.wrongAnswer] + q.distractors).contains { p.wrong == q.reply(answering: $0) }, p.wrong)
        }
    }
}
