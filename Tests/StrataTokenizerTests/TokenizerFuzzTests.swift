// A seeded fuzz over 240 mutated tokenizer.json files (the committed HF GPT-2 fixture):
// byte flips, truncations, changed digits (ids, merge ranks), deleted and duplicated
// spans. Every mutation either loads — and then encodes and decodes text without
// crashing — or throws a StrataError.
// Leaves out: the well-formed rejections with exact messages (TokenizerJSONTests).

import Foundation
import XCTest
import StrataCore
@testable import StrataTokenizer

final class TokenizerFuzzTests: XCTestCase {
    func testFuzzedTokenizerJSONLoadsOrThrowsNeverCrashes() throws {
        let original = Fixtures.data("hf_gpt2.tokenizer.json")
        let sample = "Hello, world! It's 2026 — naïve café <|endoftext|> 日本語 😀\n\ttabs"
        var rng = StrataRNG(seed: 4242)
        var loaded = 0, refused = 0
        for round in 0..<240 {
            let data = mutate(original, round: round, rng: &rng)
            do {
                let tok = try BPETokenizer(jsonData: data, source: "fuzz-\(round).json")
                let ids = tok.encode(sample, allowSpecial: true)
                _ = tok.decode(ids)
                _ = tok.decode([-1, 0, tok.vocabSize, tok.vocabSize + 7])
                loaded += 1
            } catch is StrataError {
                refused += 1
            }
        }
        XCTAssertEqual(loaded + refused, 240)
        XCTAssertGreaterThan(refused, 80, "most mutations must be caught (loaded \(loaded))")
    }

    private func mutate(_ original: Data, round: Int, rng: inout StrataRNG) -> Data {
        var d = original
        switch round % 5 {
        case 0:
            for _ in 0..<(1 + rng.int(below: 6)) { let i = rng.int(below: d.count); d[i] = UInt8(rng.int(below: 256)) }
        case 1:
            d = d.prefix(rng.int(below: d.count))
        case 2:  // change digits: ids in the vocab, special token ids, numbers in options
            let digits = d.indices.filter { (0x30...0x39).contains(d[$0]) }
            for _ in 0..<(1 + rng.int(below: 3)) { d[digits[rng.int(below: digits.count)]] = UInt8(0x30 + rng.int(below: 10)) }
        case 3:  // delete a span
            let a = rng.int(below: d.count), n = 1 + rng.int(below: 64)
            d.removeSubrange(a..<min(d.count, a + n))
        default:  // duplicate a span somewhere else
            let a = rng.int(below: d.count), n = 1 + rng.int(below: 64)
            let span = d.subdata(in: a..<min(d.count, a + n))
            d.insert(contentsOf: span, at: rng.int(below: d.count))
        }
        return d
    }
}
