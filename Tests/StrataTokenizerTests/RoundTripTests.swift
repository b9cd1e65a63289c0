// Round trips and merge-engine guarantees: decode(encode(x)) == x for seeded
// random strings and random bytes, every id decodes to its vocab bytes, single
// bytes encode to their own ids, the short-piece and heap merge paths agree, and
// 100k repeated characters encode in bounded time.

import XCTest
import Foundation
import StrataCore
@testable import StrataTokenizer

final class RoundTripTests: XCTestCase {
    func testRandomStringsRoundTrip() {
        let tok = Fixtures.small
        var rng = StrataRNG(seed: 3)
        for _ in 0..<300 {
            let s = RandomText.string(&rng, maxPieces: 80)
            XCTAssertEqual(tok.decode(tok.encode(s)), s)
            XCTAssertEqual(tok.decode(tok.encode(s, allowSpecial: true)), s)
        }
    }

    func testRandomBytesRoundTrip() {
        let tok = Fixtures.small
        var rng = StrataRNG(seed: 5)
        for _ in 0..<300 {
            let bytes = (0..<rng.int(below: 100)).map { _ in UInt8(rng.int(below: 256)) }
            XCTAssertEqual(tok.decodeBytes(tok.encode(bytes: bytes)), bytes)
        }
    }

    func testEveryIDDecodesToItsVocabBytes() {
        let tok = Fixtures.small
        for id in 0..<tok.vocab.count where !tok.isSpecial(id) {
            XCTAssertEqual(tok.decodeBytes([id]), ByteLevel.bytes(forToken: tok.vocab[id]), "id \(id)")
        }
        for b in 0..<256 {
            let id = tok.id(forToken: ByteLevel.string(forBytes: [UInt8(b)]))!
            XCTAssertEqual(tok.encode(bytes: [UInt8(b)]), [id], "byte \(b)")
            XCTAssertEqual(tok.decodeBytes([id]), [UInt8(b)])
        }
        for a in tok.addedTokens { XCTAssertEqual(tok.decode([a.id]), a.content) }
        XCTAssertEqual(tok.decode([-1, tok.vocabSize]), "\u{FFFD}\u{FFFD}", "ids outside the vocab decode as U+FFFD")
    }

    func testMostMergedTokensEncodeToThemselves() {
        let tok = Fixtures.small
        var same = 0, total = 0
        for id in 256..<tok.vocab.count where !tok.isSpecial(id) {
            total += 1
            if tok.encode(bytes: tok.decodeBytes([id])) == [id] { same += 1 }
        }
        XCTAssertGreaterThan(Double(same), 0.9 * Double(total), "\(same) of \(total)")
    }

    func testHeapAndShortMergePathsAgree() {
        let tok = Fixtures.small
        var rng = StrataRNG(seed: 9)
        let words = ["the", "and", "people", "water", "number", "sound"]
        for _ in 0..<40 {
            var s = ""
            for _ in 0..<(20 + rng.int(below: 30)) { s += words[rng.int(below: words.count)] }
            XCTAssertGreaterThan(s.utf8.count, EncoderCore.quadraticLimit, "one long letter piece takes the heap path")
            let ids = tok.encode(s)
            XCTAssertEqual(tok.decode(ids), s)
            XCTAssertEqual(ids, referenceBPE(tok, Array(s.utf8)))
        }
    }

    /// The textbook algorithm: merge the lowest-ranked pair (leftmost first) until none applies.
    func referenceBPE(_ tok: BPETokenizer, _ bytes: [UInt8]) -> [Int] {
        var rank = [BPETokenizer.Merge: Int]()
        for (r, m) in tok.merges.enumerated() where rank[m] == nil { rank[m] = r }
        var syms = bytes.map { tok.id(forToken: ByteLevel.string(forBytes: [$0]))! }
        while syms.count > 1 {
            var best = Int.max, at = -1
            for j in 0..<(syms.count - 1) {
                if let r = rank[BPETokenizer.Merge(syms[j], syms[j + 1])], r < best { best = r; at = j }
            }
            if at < 0 { break }
            let m = tok.merges[best]
            syms[at] = tok.vocab.firstIndex(of: tok.vocab[m.left] + tok.vocab[m.right])!
            syms.remove(at: at + 1)
        }
        return syms
    }

    func test100kRepeatedCharactersInBoundedTime() {
        let tok = Fixtures.small
        for unit in ["a", " ", "the", "é", "!", "people"] {
            let s = String(repeating: unit, count: 100_000 / unit.count)
            let start = Date()
            let ids = tok.encode(s)
            let seconds = Date().timeIntervalSince(start)
            XCTAssertLessThan(seconds, 5, "\(unit.debugDescription) × 100k took \(seconds) s")
            XCTAssertEqual(tok.decode(ids), s)
            if unit.count > 2 { XCTAssertLessThan(ids.count, s.utf8.count * 3 / 4, "\(unit) repeats merge into longer tokens") }
        }
    }

    func testEmptyInputs() {
        let tok = Fixtures.small
        XCTAssertEqual(tok.encode(""), [])
        XCTAssertEqual(tok.encode(bytes: []), [])
        XCTAssertEqual(tok.encodeBatch(["", "a", ""]).map(\.count), [0, 1, 0])
        XCTAssertEqual(tok.decode([]), "")
    }

    func testBatchMatchesSingleAndSerial() {
        let tok = Fixtures.small
        let docs = try! Fixtures.corpus()
        let batch = tok.encodeBatch(docs)
        XCTAssertEqual(batch, tok.encodeBatch(docs, parallel: false))
        for i in stride(from: 0, to: docs.count, by: 37) { XCTAssertEqual(batch[i], tok.encode(docs[i])) }
    }

    func testInvalidUTF8IsReplacedConsistently() {
        let tok = Fixtures.small
        let bytes: [UInt8] = [0x61, 0xFF, 0x62, 0xE2, 0x82, 0x63, 0xC0, 0xAF]
        let text = String(decoding: bytes, as: UTF8.self)
        XCTAssertEqual(text, "a\u{FFFD}b\u{FFFD}c\u{FFFD}\u{FFFD}")
        XCTAssertEqual(tok.decode(tok.encode(text)), text)
        XCTAssertEqual(tok.decode(tok.encode(bytes: bytes)), text, "decode replaces the same way")
        XCTAssertEqual(tok.decodeBytes(tok.encode(bytes: bytes)), bytes)
    }

    func testChunksCoverAndBalanceByBytes() {
        let texts = [String(repeating: "x", count: 1000)] + Array(repeating: "y", count: 1000) + [String(repeating: "z", count: 1000)]
        for parts in 1...4 {
            let r = ByteBalancedChunks.ranges(texts, parts: parts)
            XCTAssertTrue((1...parts).contains(r.count), "\(r)")
            XCTAssertEqual(r.first?.lowerBound, 0)
            XCTAssertEqual(r.last?.upperBound, texts.count)
            for k in 1..<r.count { XCTAssertEqual(r[k - 1].upperBound, r[k].lowerBound) }
            XCTAssertTrue(r.allSatisfy { !$0.isEmpty })
        }
        let two = ByteBalancedChunks.ranges(texts, parts: 2)
        XCTAssertEqual(two.count, 2)
        let bytes = two.map { $0.reduce(0) { $0 + texts[$1].utf8.count } }
        XCTAssertLessThan(abs(bytes[0] - bytes[1]), 1100, "halves by bytes, not by count: \(bytes)")
        XCTAssertEqual(ByteBalancedChunks.ranges(["a"], parts: 4), [0..<1])
        XCTAssertEqual(ByteBalancedChunks.ranges([], parts: 4), [])
    }
}
