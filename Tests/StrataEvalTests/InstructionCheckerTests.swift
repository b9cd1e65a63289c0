// Instruction checkers on hand-written replies: trailing periods, spacing, case,
// word boundaries, JSON shape and types, multi-word replies to one-word tasks.

import XCTest
import StrataData
@testable import StrataEval

final class InstructionCheckerTests: XCTestCase {
    func ok(_ kind: InstructionKind, _ reply: String, _ expected: String) -> Bool {
        InstructionChecker.check(kind, reply: reply, expected: expected)
    }

    func testFactAcceptsAnswerAtWordBoundary() {
        for reply in ["Paris", "paris.", "  Paris \n", "PARIS.", "Paris, of course", "Paris is the one"] {
            XCTAssertTrue(ok(.fact, reply, "Paris"), reply)
        }
        for reply in ["Parisian", "The answer is Paris", "", "Pari", "Lyon."] {
            XCTAssertFalse(ok(.fact, reply, "Paris"), reply)
        }
        XCTAssertTrue(ok(.fact, "new   york.", "New York"))
        XCTAssertFalse(ok(.fact, "anything", "  "), "an empty answer never matches")
    }

    func testOneWordRejectsMultiWordReplies() {
        for reply in ["Paris", "paris.", " PARIS "] { XCTAssertTrue(ok(.oneWord, reply, "Paris"), reply) }
        for reply in ["Paris city", "Paris is", "Paris, France", "Lyon", "Paris.."] {
            XCTAssertFalse(ok(.oneWord, reply, "Paris"), reply)
        }
    }

    func testJSONNeedsObjectWithStringAnswer() {
        for reply in ["{\"answer\": \"Paris\"}", " {\"answer\":\"paris\", \"confidence\": \"high\"}\n", "{\"answer\": \"Paris.\"}"] {
            XCTAssertTrue(ok(.json, reply, "Paris"), reply)
        }
        let bad = ["{\"answer\": \"Lyon\"}", "{\"Answer\": \"Paris\"}", "[\"Paris\"]", "Paris", "{\"answer\": null}",
                   "{\"answer\": \"Paris\"} and more", "{\"answer\": [\"Paris\"]}", "{\"answer\": \"Paris\""]
        for reply in bad { XCTAssertFalse(ok(.json, reply, "Paris"), reply) }
        XCTAssertFalse(ok(.json, "{\"answer\": 1923}", "1923"), "a number is the wrong type")
        XCTAssertTrue(ok(.json, "{\"answer\": \"1923\"}", "1923"))
    }

    func testJSONReferenceReplyEscapesAndPasses() throws {
        let task = InstructionTask(kind: .json, messages: [ChatMessage(.user, "q")], expected: "The \"Old\" Mill / North")
        XCTAssertTrue(task.check(task.referenceReply), task.referenceReply)
        XCTAssertEqual(InstructionChecker.jsonAnswer(task.referenceReply), "The \"Old\" Mill / North")
        XCTAssertEqual(InstructionChecker.jsonObject(answer: "Paris"), "{\"answer\":\"Paris\"}")
    }

    func testAddNeedsExactSum() {
        for reply in ["12", "12.", " 12 "] { XCTAssertTrue(ok(.add, reply, "12"), reply) }
        for reply in ["13", "The sum is 12", "1 2", "12 apples", "012", ""] { XCTAssertFalse(ok(.add, reply, "12"), reply) }
    }

    func testReverseComparesItems() {
        for reply in ["cloud, river, apple", "cloud,river,apple", "Cloud , River , Apple.", " cloud, river, apple\n"] {
            XCTAssertTrue(ok(.reverse, reply, "cloud, river, apple"), reply)
        }
        for reply in ["apple, river, cloud", "cloud, river", "cloud river apple", "cloud, river, apple, apple", "cloud, , apple"] {
            XCTAssertFalse(ok(.reverse, reply, "cloud, river, apple"), reply)
        }
    }

    func testNormalize() {
        XCTAssertEqual(InstructionChecker.normalize("  New \t York.\n"), "new york")
        XCTAssertEqual(InstructionChecker.normalize("a.."), "a.")
        XCTAssertEqual(InstructionChecker.normalize(""), "")
    }

    func testFormatIsJudgedApartFromCorrectness() {
        let f = { (k: InstructionKind, r: String, e: String) in InstructionChecker.followsFormat(k, reply: r, expected: e) }
        XCTAssertTrue(f(.fact, "Grovane", "Hegard"))
        // A fact reply in the world's sentence form follows the format whatever its length, right or wrong.
        let lead = "Ilse Marno of the northern coast was born in the city of"
        XCTAssertTrue(InstructionChecker.followsFormat(.fact, reply: lead + " Grovane.", expected: "Hegard", lead: lead))
        XCTAssertTrue(InstructionChecker.check(.fact, reply: lead + " Hegard.", expected: "Hegard", lead: lead))
        XCTAssertFalse(InstructionChecker.check(.fact, reply: lead + " Grovane.", expected: "Hegard", lead: lead))
        XCTAssertFalse(InstructionChecker.check(.fact, reply: lead + " Hegardson.", expected: "Hegard", lead: lead))
        XCTAssertFalse(f(.fact, "well it could be one of several places in the north", "Hegard"))
        XCTAssertTrue(f(.oneWord, "1941", "1989"))
        XCTAssertFalse(f(.oneWord, "in 1941", "1989"))
        XCTAssertTrue(f(.json, "{\"answer\": \"pilot\"}", "glassblower"))
        XCTAssertFalse(f(.json, "{\"answer\"answer\":\"glassblower\"}", "glassblower"))
        XCTAssertTrue(f(.add, "24", "31"))
        XCTAssertFalse(f(.add, "twenty", "31"))
        XCTAssertTrue(f(.reverse, "green, mirror, mirror, river", "green, mirror, north, river"))
        XCTAssertFalse(f(.reverse, "green, mirror", "green, mirror, north, river"))
        XCTAssertFalse(f(.fact, "  ", "x"))
        let report = try! InstructionEval.score(replies: ["1941", "in 1941"], tasks: [
            InstructionTask(kind: .oneWord, messages: [.init(.user, "q")], expected: "1941"),
            InstructionTask(kind: .oneWord, messages: [.init(.user, "q")], expected: "1941")])
        XCTAssertEqual(report.metricsDictionary()["instr_format"], 0.5)
        XCTAssertEqual(report.metricsDictionary()["instr_acc"], 0.5)
    }
}
