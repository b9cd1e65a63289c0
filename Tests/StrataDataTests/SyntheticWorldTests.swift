// Synthetic world tests: same seed → same bytes; every probe's subject and
// answer co-occur in its own corpus at least as often as the fact's rendering
// count, after-cutoff answers never co-occur with their subject before the
// cutoff (also with more earlier joins, moves and prizes), held-out phrasings never
// appear in training text, distractors and QA fields are well formed (never a value the
// subject holds in another fact, never an unread name beside a read answer), names are
// unique, sizes parse and scale.

import Foundation
import XCTest
@testable import StrataData
import StrataCore
import StrataTestSupport

/// Word unigrams and bigrams per document → documents, for whole-word co-occurrence queries.
private struct TermIndex {
    var postings: [String: Set<Int>] = [:]

    static func terms(_ text: String) -> [String] {
        text.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init)
    }

    init(_ docs: [String]) {
        for (d, doc) in docs.enumerated() {
            let w = TermIndex.terms(doc)
            for (i, t) in w.enumerated() {
                postings[t, default: []].insert(d)
                if i > 0 { postings[w[i - 1] + " " + t, default: []].insert(d) }
            }
        }
    }

    /// Documents containing `name` (one or two words) as whole words.
    func docs(_ name: String) -> Set<Int> { postings[TermIndex.terms(name).joined(separator: " ")] ?? [] }
}

final class SyntheticWorldTests: XCTestCase {
    private static let config = SyntheticWorld.Config(seed: 17, size: 150_000)

    private func corpus(_ out: SyntheticWorld.Output, _ name: String) -> [String] {
        out.corpora.first { $0.name == name }!.documents
    }

    func testSameSeedGivesIdenticalBytes() throws {
        let a = try scratchDirectory("synthA"), b = try scratchDirectory("synthB"), c = try scratchDirectory("synthC")
        let config = SyntheticWorld.Config(seed: 5, size: 60_000)
        let files = try SyntheticWorld.generate(config).write(to: a)
        try SyntheticWorld.generate(config).write(to: b)
        try SyntheticWorld.generate(SyntheticWorld.Config(seed: 6, size: 60_000)).write(to: c)
        XCTAssertEqual(files.map(\.file), ["before_cutoff.jsonl", "after_cutoff.jsonl", "textbook.jsonl", "domain.jsonl",
                                           "probes.jsonl", "qa.jsonl", "preferences.jsonl", "preferences_test.jsonl", "attacks.jsonl", "world.json"])
        for f in files {
            XCTAssertGreaterThan(f.bytes, 0, f.file)
            XCTAssertEqual(try Data(contentsOf: a.appendingPathComponent(f.file)), try Data(contentsOf: b.appendingPathComponent(f.file)), f.file)
        }
        XCTAssertNotEqual(try Data(contentsOf: a.appendingPathComponent("before_cutoff.jsonl")),
                          try Data(contentsOf: c.appendingPathComponent("before_cutoff.jsonl")))
        // The corpora are readable by the data pipeline's JSONL reader.
        var docs = 0
        try DocumentReader.read(a.appendingPathComponent("textbook.jsonl")) { _ in docs += 1 }
        XCTAssertGreaterThan(docs, 0)
    }

    func testProbeAnswersAppearInTheirPeriodOnly() throws {
        try assertProbeAnswersInTheirPeriodOnly(Self.config)
    }

    /// Three times the earlier joins, moves and prizes (docs/demo.md §5, round 10): many more before-cutoff dated
    /// facts, and the split rules still hold (after-cutoff answers never next to their subject before the cutoff).
    func testHigherEarlierEventChancesGiveMoreBeforeCutoffDatedFactsAndKeepTheSplit() throws {
        var more = Self.config
        more.earlierMoveChance = 0.6
        more.earlierAwardChance = 0.6
        func datedBefore(_ config: SyntheticWorld.Config) throws -> [String: Int] {
            let facts = try SyntheticWorld.generate(config).world.facts
            return Dictionary(grouping: facts.filter { $0.period == "before" && ["joined", "moved_to", "award"].contains($0.relation) },
                              by: \.relation).mapValues(\.count)
        }
        let base = try datedBefore(Self.config), raised = try datedBefore(more)
        for relation in ["joined", "moved_to", "award"] {
            let b = base[relation] ?? 0, r = raised[relation] ?? 0
            XCTAssertGreaterThanOrEqual(r, 2 * max(b, 1), "\(relation): \(r) before-cutoff facts at 0.6 against \(b) by default")
        }
        try assertProbeAnswersInTheirPeriodOnly(more)
        var bad = Self.config
        bad.earlierMoveChance = 1.5
        XCTAssertThrowsError(try SyntheticWorld.generate(bad)) { error in
            XCTAssertTrue("\(error)".contains("earlier move chance 1.5"), "\(error)")
        }
    }

    /// A second earlier join or move (round 15 in docs/demo.md): some people hold two before-cutoff events of one
    /// relation, to different values, at least 3 years apart, each with its own QA pair in the train or test split;
    /// none do at the default chance of 0, and the split rules still hold.
    func testSecondMovesGivePeopleTwoBeforeCutoffEventsOfOneRelationTwoValuesYearsApart() throws {
        var config = SyntheticWorld.Config(seed: 3, size: 230_000)
        config.earlierMoveChance = 0.8; config.earlierAwardChance = 0.8
        func pairs(_ config: SyntheticWorld.Config) throws -> (SyntheticWorld.Output, [[SyntheticWorld.FactRecord]]) {
            let out = try SyntheticWorld.generate(config)
            let dated = out.world.facts.filter { $0.period == "before" && ["joined", "moved_to"].contains($0.relation) }
            return (out, Dictionary(grouping: dated) { $0.subject + "/" + $0.relation }.values.filter { $0.count > 1 })
        }
        XCTAssertEqual(try pairs(config).1.count, 0, "no second move at the default chance")
        config.secondMoveChance = 0.5
        let (out, twice) = try pairs(config)
        XCTAssertGreaterThanOrEqual(twice.count, 10, "people with two before-cutoff joins or moves at chance 0.5")
        let asked = Dictionary(grouping: out.qa) { $0.factID }
        for events in twice {
            XCTAssertEqual(events.count, 2, "\(events.map(\.id)): at most two before-cutoff events of a relation")
            XCTAssertNotEqual(events[0].object, events[1].object, "\(events.map(\.id)): two values")
            let years = events.compactMap(\.year)
            XCTAssertEqual(years.count, 2)
            XCTAssertGreaterThanOrEqual(abs(years[0] - years[1]), 3, "\(events.map(\.id)): years \(years)")
            XCTAssertTrue(years.allSatisfy { $0 <= config.cutoffYear }, "\(events.map(\.id)): years \(years)")
            for e in events {
                XCTAssertEqual(asked[e.id]?.count, 1, "\(e.id) has its QA pair")
                XCTAssertTrue(asked[e.id]?.first?.question.contains(String(e.year!)) ?? false, "\(e.id): the question names the year")
            }
        }
        try assertProbeAnswersInTheirPeriodOnly(config)
        config.secondMoveChance = -0.1
        XCTAssertThrowsError(try SyntheticWorld.generate(config)) { XCTAssertTrue("\($0)".contains("second move chance -0.1"), "\($0)") }
    }

    /// Fewer people per organisation (round 15 in docs/demo.md): more organisations before the cutoff and a third as
    /// many new ones after it, with the split rules holding; out-of-range values are refused by name.
    func testPersonsPerOrganisationSetsHowManyOrganisationsTheWorldHas() throws {
        var config = SyntheticWorld.Config(seed: 4, size: 230_000)
        config.earlierMoveChance = 0.8; config.earlierAwardChance = 0.8
        func organisations(_ config: SyntheticWorld.Config) throws -> (before: Int, after: Int) {
            let orgs = try SyntheticWorld.generate(config).world.entities.filter { $0.type == "organisation" }
            return (orgs.filter { $0.period == "before" }.count, orgs.filter { $0.period == "after" }.count)
        }
        let persons = 49   // 215 per MB at 230 KB
        XCTAssertEqual(try organisations(config).before, persons / 7)
        config.personsPerOrganisation = 3
        let more = try organisations(config)
        XCTAssertEqual(more.before, persons / 3)
        XCTAssertEqual(more.after, persons / 3 / 3)
        try assertProbeAnswersInTheirPeriodOnly(config)
        config.personsPerOrganisation = 1
        XCTAssertThrowsError(try SyntheticWorld.generate(config)) { XCTAssertTrue("\($0)".contains("persons per organisation 1"), "\($0)") }
    }

    private func assertProbeAnswersInTheirPeriodOnly(_ config: SyntheticWorld.Config) throws {
        let out = try SyntheticWorld.generate(config)
        let before = TermIndex(corpus(out, "before_cutoff") + corpus(out, "textbook"))
        let after = TermIndex(corpus(out, "after_cutoff")), domain = TermIndex(corpus(out, "domain"))
        let renderings = Dictionary(uniqueKeysWithValues: out.world.facts.map { ($0.id, $0.renderings) })
        var periods = Set<String>()
        for p in out.probes {
            periods.insert(p.period + "/" + p.domain)
            let own = p.domain == "medicine" ? domain : p.period == "after" ? after : before
            let together = own.docs(p.subject).intersection(own.docs(p.answer)).count
            XCTAssertGreaterThanOrEqual(together, renderings[p.factID]!, "\(p.factID) \(p.subject) / \(p.answer)")
            if p.period == "after" {
                XCTAssertTrue(before.docs(p.subject).isDisjoint(with: before.docs(p.answer)),
                              "after-cutoff fact \(p.factID) (\(p.subject), \(p.answer)) appears before the cutoff")
            }
            if p.domain == "medicine" {
                XCTAssertTrue(before.docs(p.subject).isEmpty && after.docs(p.subject).isEmpty, p.subject)
            }
        }
        XCTAssertEqual(periods, ["before/general", "after/general", "before/medicine"])
        XCTAssertGreaterThan(out.probes.filter { $0.period == "after" }.count, 10)
    }

    func testHeldOutPhrasingsNeverAppearInTrainingText() throws {
        let out = try SyntheticWorld.generate(Self.config)
        let all = out.corpora.flatMap(\.documents).joined(separator: "\n").lowercased()
        for p in out.probes {
            XCTAssertFalse(all.contains((p.prompt + " " + p.answer).lowercased()), "held-out rendering of \(p.factID) leaked: \(p.prompt)")
        }
        // Structural reason: no cloze span (up to {O}) of a template occurs inside another template of its relation.
        for r in SyntheticWorld.Relation.allCases {
            for i in r.clozeTemplates {
                let t = r.templates[i]
                let span = String(t[..<t.range(of: "{O}")!.upperBound]).lowercased()
                for (j, u) in r.templates.enumerated() where j != i {
                    XCTAssertFalse(u.lowercased().contains(span), "\(r): '\(t)' inside '\(u)'")
                }
            }
            XCTAssertGreaterThanOrEqual(r.clozeTemplates.count, 2, "\(r)")
        }
    }

    func testDistractorsAndQuestionAnswers() throws {
        let out = try SyntheticWorld.generate(Self.config)
        let facts = Dictionary(uniqueKeysWithValues: out.world.facts.map { ($0.id, $0) })
        let cutoff = out.world.cutoffYear
        for p in out.probes {
            XCTAssertEqual(p.distractors.count, 3, p.factID)
            XCTAssertEqual(Set(p.distractors).count, 3)
            XCTAssertFalse(p.distractors.contains(p.answer))
            XCTAssertFalse(p.prompt.contains(p.answer), "prompt gives the answer away: \(p.prompt)")
            XCTAssertTrue(p.prompt.contains(p.subject))
            if let year = Int(p.answer) {
                for d in p.distractors { XCTAssertEqual(Int(d)! > cutoff, year > cutoff, "\(p.factID) year distractor \(d)") }
            }
            XCTAssertEqual(facts[p.factID]!.object, p.answer)
        }
        for q in out.qa {
            XCTAssertNotEqual(q.wrongAnswer, q.answer)
            // Lower-case values are capitalised at the start of a sentence.
            XCTAssertTrue(q.sentenceAnswer.lowercased().contains(q.answer.lowercased())
                          && q.sentenceAnswer.lowercased().contains(q.subject.lowercased()), q.sentenceAnswer)
            XCTAssertTrue(q.verboseAnswer.contains(q.sentenceAnswer))
            let verboseWrong = q.verboseWrongAnswer.lowercased()
            XCTAssertTrue(verboseWrong.contains(q.wrongAnswer.lowercased()) && !verboseWrong.contains(" \(q.answer.lowercased()) "))
            XCTAssertGreaterThan(q.verboseWrongAnswer.count, q.sentenceAnswer.count)
            XCTAssertTrue(q.question.hasSuffix("?") && q.question.contains(q.subject))
        }
        let test = out.qa.filter { $0.split == "test" }.count
        XCTAssertTrue(test > out.qa.count / 10 && test < out.qa.count * 3 / 10, "\(test) test questions of \(out.qa.count)")
    }

    func testNoDistractorIsAValueItsSubjectHoldsInAnotherFact() throws {
        // With many earlier joins and moves, most people hold two organisations or cities: the other one must
        // never be offered as a wrong answer (a model that knows only the earlier fact would prefer it).
        // The demo's size: a 150 KB world has only four organisations before the cutoff, too few to avoid them.
        var config = SyntheticWorld.Config(seed: 17, size: 250_000)
        config.earlierMoveChance = 0.8; config.earlierAwardChance = 0.8
        let out = try SyntheticWorld.generate(config)
        var own: [String: Set<String>] = [:]
        var cityOrOrganisationFacts: [String: Int] = [:]   // subject → facts valued in a city or an organisation
        let cityOrOrganisation: Set = ["birthplace", "moved_to", "employer", "joined"]
        for f in out.world.facts {
            own[f.subjectName, default: []].insert(f.object)
            if cityOrOrganisation.contains(f.relation) { cityOrOrganisationFacts[f.subjectName, default: 0] += 1 }
        }
        var probesWhoseSubjectHoldsTwo = 0
        for p in out.probes {
            let others = own[p.subject]!.subtracting([p.answer])
            XCTAssertTrue(Set(p.distractors).isDisjoint(with: others), "\(p.factID): distractors \(p.distractors) include \(p.subject)'s own \(others)")
            if cityOrOrganisation.contains(p.relation), cityOrOrganisationFacts[p.subject, default: 0] > 2 { probesWhoseSubjectHoldsTwo += 1 }
        }
        for q in out.qa {
            let others = own[q.subject]!.subtracting([q.answer])
            XCTAssertTrue(Set(q.distractors).isDisjoint(with: others), "\(q.factID): \(q.distractors) against \(others)")
        }
        // An after-cutoff fact whose answer the pretrained model has read (a before-cutoff organisation) is never
        // offered beside a name it cannot have read (an organisation founded after the cutoff).
        let period = Dictionary(out.world.entities.map { ($0.name, $0.period) }, uniquingKeysWith: { a, _ in a })
        let afterNames = Set(out.world.entities.filter { $0.period == "after" }.map(\.name))
        XCTAssertGreaterThan(afterNames.count, 0)
        for p in out.probes where p.period == "after" && period[p.answer] == "before" {
            XCTAssertTrue(Set(p.distractors).isDisjoint(with: afterNames), "\(p.factID): \(p.answer) beside \(p.distractors)")
        }
        XCTAssertGreaterThan(probesWhoseSubjectHoldsTwo, 20, "too few dated joins and moves for the check to bite")
    }

    func testWorldShapeAndNames() throws {
        let out = try SyntheticWorld.generate(Self.config)
        let w = out.world
        let names = w.entities.map { $0.name.lowercased() }
        XCTAssertEqual(Set(names).count, names.count, "entity names must be unique")
        let templateWords = SyntheticWorld.WorldBuilder.templateWords()
        for e in w.entities where e.type != "person" { XCTAssertFalse(templateWords.contains(e.name.lowercased()), e.name) }
        let entityPeriod = Dictionary(uniqueKeysWithValues: w.entities.map { ($0.id, $0.period) })
        for f in w.facts {
            XCTAssertTrue((6...14).contains(f.renderings))
            let yearValued = ["birth_year", "city_founded", "founded"].contains(f.relation)
            if let year = f.year ?? (yearValued ? Int(f.object) : nil) {
                XCTAssertEqual(f.period == "after", year > w.cutoffYear, f.id)
            } else {
                XCTAssertEqual(f.period, entityPeriod[f.subject], f.id)   // undated facts of new organisations are after
            }
        }
        let kinds = Set(w.entities.map(\.type))
        XCTAssertEqual(kinds, ["country", "city", "person", "organisation", "prize", "disease", "remedy"])
        XCTAssertGreaterThan(w.entities.filter { $0.type == "person" }.count, 20)
        // New organisations are never named before the cutoff.
        let before = TermIndex(corpus(out, "before_cutoff") + corpus(out, "textbook"))
        for e in w.entities where e.period == "after" { XCTAssertTrue(before.docs(e.name).isEmpty, e.name) }
    }

    func testSizeParsingAndScaling() throws {
        XCTAssertEqual(try ByteSize.parse("2MB"), 2_000_000)
        XCTAssertEqual(try ByteSize.parse("500kb"), 500_000)
        XCTAssertEqual(try ByteSize.parse("1.5GB"), 1_500_000_000)
        XCTAssertEqual(try ByteSize.parse("12345"), 12345)
        assertStrataError(try ByteSize.parse("two MB"), kind: .config, contains: ["two MB"])
        assertStrataError(try ByteSize.parse("0"), kind: .config, contains: ["not a size"])
        assertStrataError(try SyntheticWorld.generate(SyntheticWorld.Config(seed: 0, size: 10)), kind: .config, contains: ["size"])
        let target = 300_000
        let total = try SyntheticWorld.generate(SyntheticWorld.Config(seed: 2, size: target)).corpora.reduce(0) { $0 + $1.bytes }
        XCTAssertEqual(Double(total), Double(target), accuracy: 0.25 * Double(target))
    }
}
