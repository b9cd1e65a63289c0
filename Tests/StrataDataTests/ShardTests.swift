// Shard format tests: round trips in both dtypes, dtype choice, and each header
// violation (magic, version, dtype, truncation, trailing bytes) rejected.

import Foundation
import XCTest
@testable import StrataData
import StrataCore
import StrataTestSupport

final class ShardTests: XCTestCase {
    func testRoundTripUInt16AndUInt32() throws {
        let dir = try scratchDirectory()
        var rng = StrataRNG(seed: 3)
        let small = (0..<5000).map { _ in rng.int(below: 65_536) }
        let s16 = try makeShard(small, vocab: 65_536, at: dir, name: "a.bin")
        XCTAssertEqual(s16.dtype, .uint16)
        XCTAssertEqual(s16.count, small.count)
        XCTAssertEqual((0..<s16.count).map { s16[$0] }, small)
        XCTAssertEqual(s16.tokens(in: 100..<200), small[100..<200].map { Int32($0) })

        let big = (0..<3000).map { _ in rng.int(below: 200_000) }
        let s32 = try makeShard(big, vocab: 200_000, at: dir, name: "b.bin")
        XCTAssertEqual(s32.dtype, .uint32)
        XCTAssertEqual(s32.tokens(in: 0..<big.count), big.map { Int32($0) })
        XCTAssertEqual(s32.vocabSize, 200_000)
        let size = try FileManager.default.attributesOfItem(atPath: s32.url.path)[.size] as? Int
        XCTAssertEqual(size, 32 + 4 * big.count)
        XCTAssertNoThrow(try s32.validateTokens())
    }

    func testEmptyShardIsValid() throws {
        let s = try makeShard([], at: try scratchDirectory())
        XCTAssertEqual(s.count, 0)
        XCTAssertEqual(s.tokens(in: 0..<0), [])
    }

    func testDTypeChoiceAndVocabTooLarge() throws {
        XCTAssertEqual(try ShardDType.choose(vocabSize: 65_536), .uint16)
        XCTAssertEqual(try ShardDType.choose(vocabSize: 65_537), .uint32)
        assertStrataError(try ShardDType.choose(vocabSize: 70_000, requested: .uint16), kind: .config,
                          contains: ["70000", "uint16", "65536"])
        let dir = try scratchDirectory()
        assertStrataError(try ShardWriter(url: dir.appendingPathComponent("x.bin"), vocabSize: 100_000, dtype: .uint16),
                          contains: ["uint16"])
        let w = try ShardWriter(url: dir.appendingPathComponent("y.bin"), vocabSize: 10)
        assertStrataError(try w.append([3, 10]), kind: .data, contains: ["token id 10", "0..<10"])
    }

    func testUnfinishedWriterLeavesNoShard() throws {
        let dir = try scratchDirectory()
        let url = dir.appendingPathComponent("z.bin")
        do {
            let w = try ShardWriter(url: url, vocabSize: 50)
            try w.append([1, 2, 3])
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
        XCTAssertFalse(FileManager.default.fileExists(atPath: url.path + ".partial"))
    }

    func testHeaderViolationsAreRejected() throws {
        let dir = try scratchDirectory()
        let good = try makeShard(Array(0..<100), at: dir)
        let bytes = try Data(contentsOf: good.url)
        func corrupt(_ name: String, _ edit: (inout Data) -> Void) throws -> URL {
            var d = bytes
            edit(&d)
            let u = dir.appendingPathComponent(name)
            try d.write(to: u)
            return u
        }
        let magic = try corrupt("magic.bin") { $0[0] = UInt8(ascii: "X") }
        assertStrataError(try Shard(contentsOf: magic), kind: .format, contains: ["magic", "magic.bin"])
        let version = try corrupt("version.bin") { $0[8] = 9 }
        assertStrataError(try Shard(contentsOf: version), kind: .format, contains: ["version 9"])
        let dtype = try corrupt("dtype.bin") { $0[12] = 3 }
        assertStrataError(try Shard(contentsOf: dtype), kind: .format, contains: ["width 3"])
        let truncated = try corrupt("trunc.bin") { $0.removeLast(7) }
        assertStrataError(try Shard(contentsOf: truncated), kind: .format, contains: ["truncated body", "100"])
        let trailing = try corrupt("trail.bin") { $0.append(contentsOf: [0, 0]) }
        assertStrataError(try Shard(contentsOf: trailing), kind: .format, contains: ["trailing bytes"])
        let short = try corrupt("short.bin") { $0 = $0.prefix(10) }
        assertStrataError(try Shard(contentsOf: short), kind: .format, contains: ["shorter than the 32-byte header"])
        let hugeCount = try corrupt("count.bin") { $0[23] = 0xFF }
        assertStrataError(try Shard(contentsOf: hugeCount), kind: .format, contains: ["truncated body"])
        assertStrataError(try Shard(contentsOf: dir.appendingPathComponent("missing.bin")), kind: .io, contains: ["missing.bin"])
    }
}
