// The demo world's design rules (issue 21) on a reduced world, in seconds: every
// before-cutoff fact is stated in pretraining text in several phrasings and never in
// its held-out one; reply sentences restate the subject in a training phrasing, then
// give the answer; no held-out question (QA test split) is in the SFT data, and the
// test split holds ~1/5 of before-cutoff and ~1/2 of after-cutoff questions; no
// after-cutoff fact is stated in before-cutoff text in any phrasing; SFT replay pieces
// come from the named files only and make up the asked-for share.
// Leaves out: what a model learns from the world (the demo and docs/demo.md measure that).

import XCTest
import Foundation
import StrataCore
@testable import StrataData
import StrataEval
@testable import StrataTrain
import StrataTestSupport

final class WorldDesignTests: XCTestCase {
    private static let out = Result { try SyntheticWorld.generate(SyntheticWorld.Config(seed: 5, size: 120_000)) }

    /// A fact's sentence in template `t`, first letter capitalised, as the renderer writes it.
    private func stated(_ f: SyntheticWorld.FactRecord, _ t: String) -> String {
        var s = t.replacingOccurrences(of: "{S}", with: f.subjectName).replacingOccurrences(of: "{O}", with: f.object)
        if let y = f.year { s = s.replacingOccurrences(of: "{Y}", with: String(y)) }
        return s.prefix(1).uppercased() + s.dropFirst()
    }

    private func text(_ out: SyntheticWorld.Output, _ names: [String]) -> String {
        out.corpora.filter { names.contains($0.name) }.flatMap(\.documents).joined(separator: "\n")
    }

    func testEveryBeforeCutoffFactIsStatedInSeveralPhrasingsButNeverItsHeldOutOne() throws {
        let out = try Self.out.get()
        let pretraining = text(out, ["before_cutoff", "textbook"])
        var distinct: [Int] = []
        for f in out.world.facts where f.period == "before" && f.domain == "general" {
            let relation = try XCTUnwrap(SyntheticWorld.Relation(rawValue: f.relation))
            let phrasings = relation.templates.filter { $0 != f.heldOutTemplate }
                .filter { pretraining.contains(stated(f, $0).dropLast()) }   // without the final period: mid-sentence forms count
            distinct.append(phrasings.count)
            XCTAssertFalse(pretraining.contains(stated(f, f.heldOutTemplate).dropLast()), "\(f.id) held-out phrasing leaked")
        }
        XCTAssertGreaterThan(distinct.count, 50)
        XCTAssertGreaterThanOrEqual(distinct.min() ?? 0, 2, "every fact in at least two phrasings")
        XCTAssertGreaterThanOrEqual(Double(distinct.reduce(0, +)) / Double(distinct.count), 4, "four phrasings on average")
    }

    func testReplySentencesRestateTheSubjectInATrainingPhrasingThenTheAnswer() throws {
        let out = try Self.out.get()
        let facts = Dictionary(uniqueKeysWithValues: out.world.facts.map { ($0.id, $0) })
        for q in out.qa {
            let f = try XCTUnwrap(facts[q.factID]), relation = try XCTUnwrap(SyntheticWorld.Relation(rawValue: q.relation))
            XCTAssertEqual(q.sentenceAnswer, stated(f, relation.templates[relation.answerTemplate]))
            XCTAssertNotEqual(relation.templates[relation.answerTemplate], f.heldOutTemplate, "the reply phrasing is never held out")
            let lead = try XCTUnwrap(q.answerLead, q.sentenceAnswer)
            XCTAssertTrue(lead.contains(q.subject) && q.sentenceAnswer.hasPrefix(lead + " " + q.answer), q.sentenceAnswer)
            XCTAssertEqual(q.reply(answering: q.distractors[0]), q.sentenceAnswer.replacingOccurrences(of: q.answer, with: q.distractors[0]))
        }
        // The checker takes the sentence and the bare answer, and rejects the sentence with another answer.
        let q = try XCTUnwrap(out.qa.first { $0.split == "test" })
        let task = try XCTUnwrap(InstructionTasks.build(qa: out.qa, seed: 0, perKind: 500).first { $0.kind == .fact && $0.factID == q.factID })
        XCTAssertEqual(task.referenceReply, q.sentenceAnswer)
        XCTAssertTrue(task.check(q.sentenceAnswer)); XCTAssertTrue(task.check(q.answer))
        XCTAssertFalse(task.check(q.reply(answering: q.distractors[0])))
    }

    func testNoHeldOutAfterCutoffOrSupersededQuestionIsInTheSFTData() throws {
        let out = try Self.out.get()
        let dir = try scratchDirectory()
        _ = try WorldChatData.write(qa: out.qa, seed: 5, to: dir)
        let sft = try SFTDataset.load(dir.appendingPathComponent(WorldChatData.fileName)).conversations
        let asked = Set(sft.flatMap { $0.messages.filter { $0.role == .user }.map(\.content) })
        let test = out.qa.filter { $0.split == "test" }
        XCTAssertFalse(test.isEmpty)
        for q in test { XCTAssertFalse(asked.contains { $0.contains(q.question) }, "held-out question in SFT data: \(q.question)") }
        let after = out.qa.filter { $0.period == "after" }
        for q in after { XCTAssertFalse(asked.contains { $0.contains(q.question) }, "after-cutoff question in SFT data: \(q.question)") }
        // Nor a question about a fact the news supersedes (the earlier move or join of a person who moves or joins again).
        let stale = WorldChatData.superseded(out.qa)
        XCTAssertFalse(stale.isEmpty, "the world has people with an earlier and a later event of one relation")
        for q in out.qa where stale.contains(q.factID) {
            XCTAssertEqual(q.period, "before")
            XCTAssertTrue(after.contains { $0.subject == q.subject && $0.relation == q.relation }, q.question)
            XCTAssertFalse(asked.contains { $0.contains(q.question) }, "superseded question in SFT data: \(q.question)")
        }
        // Held-out shares: one in five before the cutoff, one in two after it (enough after-cutoff questions for a
        // rate), exactly up to rounding.
        for (period, share) in [("before", 0.2), ("after", 0.5)] {
            let qs = out.qa.filter { $0.period == period }
            XCTAssertEqual(qs.filter { $0.split == "test" }.count, Int((Double(qs.count) * share).rounded()), period)
        }
    }

    func testAfterCutoffFactsAreNeverStatedBeforeTheCutoff() throws {
        let out = try Self.out.get()
        let before = text(out, ["before_cutoff", "textbook"]), after = text(out, ["after_cutoff"])
        let facts = out.world.facts.filter { $0.period == "after" }
        XCTAssertGreaterThan(facts.count, 10)
        for f in facts {
            let relation = try XCTUnwrap(SyntheticWorld.Relation(rawValue: f.relation))
            for t in relation.templates { XCTAssertFalse(before.contains(stated(f, t).dropLast()), "\(f.id) stated before the cutoff") }
            XCTAssertTrue(relation.templates.contains { after.contains(stated(f, $0).dropLast()) }, "\(f.id) never stated after")
        }
    }
}
