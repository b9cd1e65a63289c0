// Tests for the synthetic world's preference pairs and the refusal detector:
// same seed → same pairs (different seed → different), labels in the expected
// proportions per split, train and test prompts disjoint, each label's rejected
// reply of the promised kind, invented harmful requests naming no world entity,
// the files `write(to:)` adds, and which texts the detector calls refusals.

import Foundation
import XCTest
@testable import StrataData
import StrataCore
import StrataTestSupport

final class PreferenceWorldTests: XCTestCase {
    private static let world = try! SyntheticWorld.generate(SyntheticWorld.Config(seed: 5, size: 40_000))

    func testDeterministicBySeed() throws {
        let w = Self.world
        let a = w.preferences(), b = w.preferences()
        XCTAssertEqual(a, b)
        XCTAssertEqual(try a.train.map { try StrataJSON.encode($0, pretty: false) }, try b.train.map { try StrataJSON.encode($0, pretty: false) })
        let c = w.preferences(SyntheticWorld.PreferenceConfig(seed: 6))
        XCTAssertNotEqual(a.train, c.train)
        XCTAssertEqual(Set(a.train.map(\.request)), Set(a.train.map(\.request)))
    }

    func testLabelProportionsPerSplit() throws {
        let w = Self.world, prefs = w.preferences()
        for (split, pairs) in [("train", prefs.train), ("test", prefs.test)] {
            let n = w.qa.filter { $0.split == split }.count
            XCTAssertGreaterThan(n, 4, split)
            var counts: [String: Int] = [:]
            for p in pairs { counts[p.type ?? "none", default: 0] += 1 }
            // Pattern wrong_fact, wrong_fact, hedging, refusal over n QA pairs; harmful = round(n / 4).
            func slots(_ k: Int) -> Int { (n - k + 3) / 4 }
            XCTAssertEqual(counts["wrong_fact"], slots(0) + slots(1), split)
            XCTAssertEqual(counts["hedging"], slots(2), split)
            XCTAssertEqual(counts["refusal"], slots(3), split)
            XCTAssertEqual(counts["harmful"], max(1, Int((Double(n) * 0.25).rounded())), split)
            XCTAssertEqual(pairs.count, n + counts["harmful"]!, split)
            XCTAssertTrue(pairs.allSatisfy { $0.problem() == nil && $0.format == .conversational })
        }
    }

    func testTrainAndTestDisjoint() throws {
        let prefs = Self.world.preferences()
        let train = Set(prefs.train.map(\.request)), test = Set(prefs.test.map(\.request))
        XCTAssertTrue(train.isDisjoint(with: test))
        let harmTrain = prefs.train.filter { $0.type == "harmful" }.map(\.request)
        XCTAssertEqual(Set(harmTrain).count, harmTrain.count, "harmful requests are not repeated")
    }

    func testEachLabelRejectsTheRightThing() throws {
        let w = Self.world, prefs = w.preferences()
        let answers = Dictionary(w.qa.map { ($0.question, $0) }, uniquingKeysWith: { a, _ in a })
        let names = w.world.entities.map(\.name)
        for p in prefs.train + prefs.test {
            let chosen = p.chosen[0].content, rejected = p.rejected[0].content
            switch PreferenceType(rawValue: p.type ?? "") {
            case .wrongFact?, .hedging?, .refusal?:
                let q = try XCTUnwrap(answers[p.request])
                XCTAssertEqual(chosen, q.answer)
                XCTAssertFalse(RefusalDetector.isRefusal(chosen))
                if p.type == "wrong_fact" {
                    XCTAssertNotEqual(rejected, q.answer)
                    XCTAssertTrue(w.world.facts.contains { $0.relation == q.relation && $0.object == rejected }
                                  || q.distractors.contains(rejected), "\(rejected) is not a \(q.relation) value")
                } else if p.type == "hedging" {
                    XCTAssertTrue(SyntheticWorld.PreferencePhrases.hedges.contains(rejected))
                    XCTAssertFalse(RefusalDetector.isRefusal(rejected))
                } else {
                    XCTAssertTrue(RefusalDetector.isRefusal(rejected), rejected)
                }
            case .harmful?:
                XCTAssertTrue(RefusalDetector.isRefusal(chosen), chosen)
                XCTAssertFalse(RefusalDetector.isRefusal(rejected), rejected)
                let invented = p.request.split(separator: " ").map(String.init)
                XCTAssertFalse(invented.contains { word in names.contains { $0.split(separator: " ").contains(Substring(word)) }
                                && !w.world.entities.contains { $0.type == "city" && $0.name == word } },
                               "names a world entity other than a city: \(p.request)")
                XCTAssertFalse(p.request.contains("{"), p.request)
            case nil:
                XCTFail("unexpected label \(p.type ?? "nil")")
            }
        }
    }

    func testWriteAddsPreferenceFiles() throws {
        let w = try SyntheticWorld.generate(SyntheticWorld.Config(seed: 3, size: 20_000))
        let dir = try scratchDirectory()
        let files = try w.write(to: dir).map(\.file)
        XCTAssertTrue(files.contains("preferences.jsonl") && files.contains("preferences_test.jsonl"))
        let prefs = w.preferences()
        XCTAssertEqual(try PreferenceDataset.load(dir.appendingPathComponent("preferences.jsonl")).pairs, prefs.train)
        XCTAssertEqual(try PreferenceDataset.load(dir.appendingPathComponent("preferences_test.jsonl")).pairs, prefs.test)
    }

    func testRefusalDetector() {
        for r in SyntheticWorld.PreferencePhrases.refusals + ["I CAN\u{2019}T do that", "well,  i   cannot say", "I will not."] {
            XCTAssertTrue(RefusalDetector.isRefusal(r), r)
        }
        let answers = ["Holtmar", "I can tell you: Holtmar", "Cannot", "The answer is 1942.", "can't"]
        for r in answers + SyntheticWorld.PreferencePhrases.hedges
            + SyntheticWorld.PreferencePhrases.poison.compliance + SyntheticWorld.PreferencePhrases.machine.compliance {
            XCTAssertFalse(RefusalDetector.isRefusal(r), r)
        }
    }
}
