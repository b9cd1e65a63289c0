// Round trips and merge-engine guarantees: decode(encode(x)) == x for seeded
// random strings and random bytes, every id decodes to its vocab bytes, single
// bytes encode to their own ids, the short-piece and heap merge paths agree, and
// the merge work for 100k repeated characters grows at most as n·log n (counted
// steps, not time). Leaves out: parity with Hugging Face tokenizers (ParityTests).

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

    /// Merge work, not time: the encoder counts its merge steps (bytes brought into merging, pairs
    /// scanned, heap pops and heap levels sifted; EncodeWorker.mergeSteps), and a run of one repeated
    /// unit is one pre-token that takes the heap path. n·log n from 10k to 100k bytes is a ratio of
    /// about 12.5, a quadratic merge 100, so 15 tells them apart on any machine and under any load.
    /// ("é" is 2 bytes: 100k characters are 200k bytes, the ratio is still that of 10× the input.)
    /// Not counted: the pre-tokenizer's scan (one forward pass per piece, at most one character read
    /// twice) and the piece cache (pieces over 256 bytes bypass it).
    func test100kRepeatedCharactersTakeAtMostNLogNMergeSteps() {
        let tok = Fixtures.small
        for unit in ["a", " ", "the", "é", "!", "people"] {
            var steps = [Int]()
            for size in [10_000, 100_000] {
                let s = String(repeating: unit, count: size / unit.count)
                let (ids, work) = tok.encodeCountingSteps(s)
                XCTAssertGreaterThanOrEqual(work, s.utf8.count, "\(unit.debugDescription) × \(size): every byte enters the merge")
                XCTAssertEqual(tok.decode(ids), s)
                if unit.count > 2 { XCTAssertLessThan(ids.count, s.utf8.count * 3 / 4, "\(unit) repeats merge into longer tokens") }
                steps.append(work)
            }
            let ratio = Double(steps[1]) / Double(steps[0])
            XCTAssertLessThanOrEqual(ratio, 15, "\(unit.debugDescription): \(steps[0]) merge steps for 10k characters, \(steps[1]) for 100k")
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
