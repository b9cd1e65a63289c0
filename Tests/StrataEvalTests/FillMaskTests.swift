// Fill-mask's top-K against transformers: on the committed RoBERTa fixture model
// (Tests/StrataModelTests/Fixtures/roberta_tiny, written by
// tools/fixtures/roberta_fixture.py), the top-5 ids at each <mask> of the fixture
// row equal those transformers' logits give (fill_mask.json), in order, and the
// JSON line has the documented keys.

import XCTest
import Foundation
import StrataCore
import StrataModel
@testable import StrataEval

final class FillMaskTests: XCTestCase {
    struct Expected: Decodable { let ids: [Int32], top_k: Int, positions: [Int], candidates: [[Int]] }

    func testTopKMatchesTransformersOnTheFixtureModel() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("StrataModelTests/Fixtures/roberta_tiny")
        let model = try Roberta.load(directory: dir)
        let want = try StrataJSON.read(Expected.self, at: dir.appendingPathComponent("fill_mask.json"))
        let got = try FillMask.predict(encoder: model, ids: want.ids, positions: want.positions, topK: want.top_k) { "id\($0)" }
        XCTAssertEqual(got.map(\.position), want.positions)
        XCTAssertEqual(got.map { $0.candidates.map(\.id) }, want.candidates)
        let line = got[0].jsonLine
        XCTAssertTrue(line.hasPrefix("{\"position\": \(want.positions[0]), \"candidates\": [{\"id\": \(want.candidates[0][0]), \"token\": \"id"), line)
        XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(line.utf8)))
    }
}
