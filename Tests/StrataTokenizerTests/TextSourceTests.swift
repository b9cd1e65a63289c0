// Reading training/encoding input: invalid UTF-8 is refused naming file and line (as
// `data prepare` does; skipped as a bad line in JSONL with skipBadLines), empty files and
// lines are handled, bad JSONL lines fail with file and line or are skipped and
// counted, and the id-array line format parses and rejects as it should.

import XCTest
import Foundation
import StrataCore
@testable import StrataTokenizer

final class TextSourceTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("strata-textsource-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func file(_ name: String, _ bytes: [UInt8]) throws -> URL {
        let url = dir.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    func testTextLinesAndInvalidUTF8IsRefusedWithItsLine() throws {
        let url = try file("a.txt", Array("one\n\n".utf8) + [0x61, 0xFF, 0x62] + Array("\nlast\n".utf8))
        XCTAssertThrowsError(try TextSource.read([url])) { error in
            let e = error as? StrataError
            XCTAssertEqual(e?.kind, .data)
            XCTAssertTrue(e?.description.contains("a.txt:3") == true && e?.description.contains("not valid UTF-8 (at byte 1") == true, "\(error)")
        }
        let good = try file("g.txt", Array("one\n\nh\u{e9}\nlast\n".utf8))
        XCTAssertEqual(try TextSource.read([good]).texts, ["one", "", "hé", "last"])
        let empty = try file("e.txt", [])
        XCTAssertEqual(try TextSource.read([empty]).texts, [])
    }

    func testJSONLErrorsNameFileAndLine() throws {
        let url = try file("d.jsonl", Array("{\"text\": \"ok\"}\nnot json\n{\"other\": 1}\n\n{\"text\": 5}\n{\"text\": \"x\\u00e9\"}\n".utf8))
        XCTAssertThrowsError(try TextSource.read([url])) { error in
            let e = error as? StrataError
            XCTAssertEqual(e?.kind, .data)
            XCTAssertTrue(e?.description.contains("d.jsonl:2") == true, "\(error)")
        }
        let docs = try TextSource.read([url], config: .init(skipBadLines: true))
        XCTAssertEqual(docs.texts, ["ok", "xé"])
        XCTAssertEqual(docs.skippedLines, 3)
        XCTAssertThrowsError(try TextSource.document("{\"body\": \"x\"}", field: "text", file: "f.jsonl", line: 7)) { error in
            XCTAssertTrue("\(error)".contains("f.jsonl:7") && "\(error)".contains("'text'"))
        }
        XCTAssertEqual(try TextSource.document("{\"body\": \"x\"}", field: "body", file: "f", line: 1), "x")
    }

    func testJSONLWithInvalidUTF8IsRefusedOrSkippedAsABadLine() throws {
        let url = try file("u.jsonl", Array("{\"text\": \"a".utf8) + [0xC3] + Array("b\"}\n{\"text\": \"ok\"}\n".utf8))
        XCTAssertThrowsError(try TextSource.read([url])) { XCTAssertTrue("\($0)".contains("u.jsonl:1"), "\($0)") }
        let docs = try TextSource.read([url], config: .init(skipBadLines: true))
        XCTAssertEqual(docs.texts, ["ok"])
        XCTAssertEqual(docs.skippedLines, 1)
    }

    func testMissingFileIsIOError() {
        XCTAssertThrowsError(try TextSource.read([dir.appendingPathComponent("none.txt")])) {
            XCTAssertEqual(($0 as? StrataError)?.kind, .io)
        }
    }

    func testIDLines() throws {
        XCTAssertEqual(TokenIDLines.format([1, 22, 333]), "[1,22,333]")
        XCTAssertEqual(TokenIDLines.format([]), "[]")
        XCTAssertEqual(try TokenIDLines.parse(" [1, 2,3] ", file: "f", line: 1), [1, 2, 3])
        XCTAssertEqual(try TokenIDLines.parse("[]", file: "f", line: 1), [])
        XCTAssertThrowsError(try TokenIDLines.parse("1,2", file: "ids.txt", line: 4)) { XCTAssertTrue("\($0)".contains("ids.txt:4")) }
        XCTAssertThrowsError(try TokenIDLines.parse("[1,a]", file: "ids.txt", line: 5)) { XCTAssertTrue("\($0)".contains("ids.txt:5")) }
    }
}
