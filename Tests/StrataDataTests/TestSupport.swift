// Test helpers: a byte-level TokenEncoder (ids 0...255 are bytes, 256 is
// end-of-text) and a scratch directory per test. Leaves out: anything BPE.

import Foundation
import XCTest
@testable import StrataData
import StrataCore

struct ByteEncoder: TokenEncoder {
    var vocabSize = 257
    var eosID: Int? = 256
    var hash: String { "bytes-\(vocabSize)" }
    func encodeBatch(_ texts: [String]) -> [[Int]] { texts.map { $0.utf8.map { Int($0) } } }
}

extension XCTestCase {
    /// A fresh directory for this test, removed when the test ends.
    func scratchDirectory(_ name: String = #function) throws -> URL {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("strata-data-tests-\(safe)-\(getpid())")
        try? FileManager.default.removeItem(at: url)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }
}

/// Write a shard holding `tokens` and open it.
func makeShard(_ tokens: [Int], vocab: Int = 1000, at dir: URL, name: String = "s.bin") throws -> Shard {
    let url = dir.appendingPathComponent(name)
    let w = try ShardWriter(url: url, vocabSize: vocab)
    try w.append(tokens)
    try w.finish()
    return try Shard(contentsOf: url)
}

/// Assert `body` throws a StrataError whose description contains every needle.
func assertStrataError(_ body: @autoclosure () throws -> Any, kind: StrataError.Kind? = nil, contains needles: [String],
                       lacks absent: [String] = [], file: StaticString = #filePath, line: UInt = #line) {
    do {
        _ = try body()
        XCTFail("expected a StrataError containing \(needles)", file: file, line: line)
    } catch let e as StrataError {
        if let kind { XCTAssertEqual(e.kind, kind, "\(e)", file: file, line: line) }
        for n in needles { XCTAssertTrue(e.description.contains(n), "'\(n)' not in: \(e)", file: file, line: line) }
        for n in absent { XCTAssertFalse(e.description.contains(n), "'\(n)' should not be in: \(e)", file: file, line: line) }
    } catch {
        XCTFail("expected StrataError, got \(error)", file: file, line: line)
    }
}
