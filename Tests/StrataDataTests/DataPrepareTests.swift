// Document reading and data preparation tests: text splitting, JSONL field
// errors naming file and line, --skip-bad-lines counting, empty files and
// documents, EOS after every document, a deterministic split, sidecar contents.

import Foundation
import XCTest
@testable import StrataData
import StrataCore
import StrataTestSupport

final class DataPrepareTests: XCTestCase {
    private func write(_ text: String, _ name: String, in dir: URL) throws -> URL {
        let u = dir.appendingPathComponent(name)
        try Data(text.utf8).write(to: u)
        return u
    }

    func testTextSplitModes() throws {
        let dir = try scratchDirectory()
        let f = try write("one\ntwo\n\n\nthree\r\n   \nfour", "a.txt", in: dir)
        var docs: [String] = []
        var stats = try DocumentReader.read(f, options: .init(textSplit: .paragraph)) { docs.append($0.text) }
        XCTAssertEqual(docs, ["one\ntwo", "three", "four"])
        docs = []
        stats = try DocumentReader.read(f, options: .init(textSplit: .line)) { docs.append($0.text) }
        XCTAssertEqual(docs, ["one", "two", "three", "four"])
        XCTAssertEqual(stats.emptyDocuments, 3)
        var lines: [Int] = []
        try DocumentReader.read(f, options: .init(textSplit: .line)) { lines.append($0.line) }
        XCTAssertEqual(lines, [1, 2, 5, 7])
    }

    func testJSONLErrorsNameFileAndLine() throws {
        let dir = try scratchDirectory()
        let f = try write("{\"text\": \"good\"}\n\n{\"text\": 3}\n{not json\n{\"body\": \"x\"}\n[1]\n", "d.jsonl", in: dir)
        assertStrataError(try DocumentReader.read(f) { _ in }, kind: .data, contains: ["d.jsonl:3: ", "'text' is not a string"], lacks: ["line 3"])
        let g = try write("{\"text\": \"a\"}\n{not json\n", "e.jsonl", in: dir)
        assertStrataError(try DocumentReader.read(g) { _ in }, contains: ["e.jsonl:2", "not valid JSON", "--skip-bad-lines"])
        let h = try write("{\"text\": \"a\"}\n{\"body\": \"x\"}\n", "h.jsonl", in: dir)
        assertStrataError(try DocumentReader.read(h) { _ in }, contains: ["h.jsonl:2", "missing field 'text'"])
        var docs: [String] = []
        let stats = try DocumentReader.read(f, options: .init(skipBadLines: true)) { docs.append($0.text) }
        XCTAssertEqual(docs, ["good"])
        XCTAssertEqual(stats.badLines, 4)
        var bodies: [String] = []
        try DocumentReader.read(h, options: .init(textField: "body", skipBadLines: true)) { bodies.append($0.text) }
        XCTAssertEqual(bodies, ["x"])
    }

    func testLinesSpanningReadChunks() throws {
        // Lines longer than the 1 MiB read chunk, CRLF endings and a BOM survive intact.
        let dir = try scratchDirectory()
        let lines = (0..<4).map { i in String(repeating: Character(UnicodeScalar(UInt8(97 + i))), count: 700_000 + i) }
        let f = try write("\u{FEFF}" + lines.joined(separator: "\r\n") + "\n", "long.txt", in: dir)
        var seen: [(Int, Int)] = []
        try LineReader.forEachLine(in: f) { n, bytes in
            XCTAssertEqual(Set(bytes).count, 1)
            seen.append((n, bytes.count))
        }
        XCTAssertEqual(seen.map(\.0), [1, 2, 3, 4])
        XCTAssertEqual(seen.map(\.1), lines.map(\.utf8.count))
    }

    func testDecodableJSONLinesNameTheLine() throws {
        struct Pair: Decodable { var prompt: String; var answer: String }
        let dir = try scratchDirectory()
        let f = try write("{\"prompt\":\"a\",\"answer\":\"b\"}\n{\"prompt\":\"c\"}\n", "p.jsonl", in: dir)
        assertStrataError(try JSONLines.forEachRecord(Pair.self, in: f) { _, _ in }, kind: .data, contains: ["p.jsonl:2", "answer"])
        var n = 0
        XCTAssertEqual(try JSONLines.forEachRecord(Pair.self, in: f, skipBadLines: true) { _, _ in n += 1 }, 1)
        XCTAssertEqual(n, 1)
    }

    func testPrepareWritesShardsWithEOSAndSidecars() throws {
        let dir = try scratchDirectory()
        let docs = (0..<60).map { "document number \($0)" }
        let jsonl = docs.map { "{\"text\": \"\($0)\"}" }.joined(separator: "\n") + "\n{\"text\": \"   \"}\n"
        let a = try write(jsonl, "a.jsonl", in: dir)
        _ = try write("", "empty.txt", in: dir)
        _ = try write("a plain text file", "b.txt", in: dir)
        var config = DataPrepare.Config(inputs: [a.path, dir.appendingPathComponent("empty.txt").path,
                                                 dir.appendingPathComponent("b.txt").path],
                                        outputDirectory: dir.appendingPathComponent("out").path)
        config.valFraction = 0.25
        config.seed = 4
        config.batchDocuments = 7
        let report = try DataPrepare.run(config, encoder: ByteEncoder())
        XCTAssertEqual(report.emptyDocuments, 1)
        XCTAssertEqual(report.emptyFiles, 1)
        let train = try Shard(contentsOf: report.train.shardURL)
        let val = try Shard(contentsOf: report.validation!.shardURL)
        XCTAssertEqual(train.dtype, .uint16)
        // Decode documents back (split on EOS) and check each landed in the split the hash says.
        func documents(_ s: Shard) -> [String] {
            let t = s.tokens(in: 0..<s.count)
            XCTAssertEqual(t.last, 256)
            return t.split(separator: 256).map { String(decoding: $0.map { UInt8($0) }, as: UTF8.self) }
        }
        let valDocs = documents(val), trainDocs = documents(train)
        XCTAssertEqual(trainDocs.count + valDocs.count, 61)
        XCTAssertTrue(valDocs.count > 5 && valDocs.count < 30, "\(valDocs.count) validation documents")
        for (i, d) in docs.enumerated() {
            let v = DataPrepare.isValidation(sourceIndex: 0, documentIndex: i, seed: 4, fraction: 0.25)
            XCTAssertTrue((v ? valDocs : trainDocs).contains(d), d)
        }
        let side = try ShardSidecar.read(at: report.train.sidecarURL)
        XCTAssertEqual(side, report.train.sidecar)
        XCTAssertEqual(side.tokenCount, train.count)
        XCTAssertEqual(side.sources.count, 3)
        XCTAssertEqual(side.sources[0].sha256, try SHA256.hex(fileAt: a))
        XCTAssertEqual(side.sources[0].emptyDocuments, 1)
        XCTAssertTrue(side.sources[1].emptyFile)
        XCTAssertEqual(side.tokenizerHash, "bytes-257")
        XCTAssertEqual(side.sources.reduce(0) { $0 + $1.tokens }, train.count)
        // Same inputs and seed → same bytes, whatever the batch size.
        config.outputDirectory = dir.appendingPathComponent("out2").path
        config.batchDocuments = 100
        let again = try DataPrepare.run(config, encoder: ByteEncoder())
        XCTAssertEqual(try Data(contentsOf: again.train.shardURL), try Data(contentsOf: report.train.shardURL))
    }

    func testPrepareRejectsBadInputs() throws {
        let dir = try scratchDirectory()
        let a = try write("{\"text\": \"ok\"}\n{\"text\": 1}\n", "a.jsonl", in: dir)
        let out = dir.appendingPathComponent("o").path
        assertStrataError(try DataPrepare.run(.init(inputs: [a.path], outputDirectory: out), encoder: ByteEncoder()),
                          kind: .data, contains: ["a.jsonl:2"])
        var skip = DataPrepare.Config(inputs: [a.path], outputDirectory: out)
        skip.reader.skipBadLines = true
        XCTAssertEqual(try DataPrepare.run(skip, encoder: ByteEncoder()).badLines, 1)
        var u16 = skip
        u16.dtype = .uint16
        assertStrataError(try DataPrepare.run(u16, encoder: ByteEncoder(vocabSize: 70_000)), kind: .config, contains: ["uint16", "65536"])
        assertStrataError(try DataPrepare.run(skip, encoder: ByteEncoder(eosID: nil)), contains: ["end-of-text"])
        let e = try write("", "e.txt", in: dir)
        assertStrataError(try DataPrepare.run(.init(inputs: [e.path], outputDirectory: out), encoder: ByteEncoder()),
                          kind: .data, contains: ["no documents"])
        assertStrataError(try DataPrepare.run(.init(inputs: [dir.appendingPathComponent("nope").path], outputDirectory: out),
                                              encoder: ByteEncoder()), kind: .io, contains: ["nope"])
    }
}
