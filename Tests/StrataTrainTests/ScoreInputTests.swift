// `strata score` on a damaged input: a binary (non-UTF-8) file is not mistaken for a
// preference file and its error names the file and the line, instead of a bare
// "couldn't be opened" without a line number.
// Leaves out: scoring itself (PreferenceStageTests).

import Foundation
import XCTest
import StrataCore
import StrataData
@testable import StrataTrain

final class ScoreInputTests: XCTestCase {
    func testGarbageFileErrorNamesFileAndLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("strata-score-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let garbage = dir.appendingPathComponent("garbage.jsonl")
        var rng = StrataRNG(seed: 9)
        try Data((0..<4000).map { _ in UInt8(rng.int(below: 256)) }).write(to: garbage)
        XCTAssertFalse(try Score.isPreferenceFile(garbage))
        XCTAssertThrowsError(try SFTDataset.load(garbage)) { error in
            XCTAssertTrue("\(error)".contains("garbage.jsonl:"), "\(error)")
        }
        let pairs = dir.appendingPathComponent("pairs.jsonl")
        try Data("\n  \n{\"prompt\": \"p\", \"chosen\": \"a\", \"rejected\": \"b\"}\n\u{FF}".utf8).write(to: pairs)
        XCTAssertTrue(try Score.isPreferenceFile(pairs), "the first non-blank line decides")
        XCTAssertThrowsError(try Score.isPreferenceFile(dir.appendingPathComponent("missing.jsonl"))) {
            XCTAssertTrue("\($0)".contains("missing.jsonl"), "\($0)")
        }
    }
}
