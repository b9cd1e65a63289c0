// The hand-written pre-tokenizer against known splits and against the regex it
// replaces (run here through NSRegularExpression as an oracle, on seeded random
// strings), plus its guarantees on arbitrary bytes.

import XCTest
import Foundation
import StrataCore
@testable import StrataTokenizer

final class PreTokenizerTests: XCTestCase {
    func testGPT2KnownSplits() {
        let p = PreTokenizer(.gpt2)
        XCTAssertEqual(p.split("Hello world"), ["Hello", " world"])
        XCTAssertEqual(p.split("don't"), ["don", "'t"])
        XCTAssertEqual(p.split("a  b"), ["a", " ", " b"])
        XCTAssertEqual(p.split("a  "), ["a", "  "])
        XCTAssertEqual(p.split("x\n\ny"), ["x", "\n", "\n", "y"])
        XCTAssertEqual(p.split("I'M 12ab"), ["I", "'", "M", " 12", "ab"])
        XCTAssertEqual(p.split(""), [])
    }

    func testCL100KKnownSplits() {
        let p = PreTokenizer(.cl100k)
        XCTAssertEqual(p.split("12345"), ["123", "45"])
        XCTAssertEqual(p.split("I'M here"), ["I", "'M", " here"])
        XCTAssertEqual(p.split("(hello"), ["(hello"])
        XCTAssertEqual(p.split("a\n  b"), ["a", "\n", " ", " b"])
        XCTAssertEqual(p.split("x.\n\n"), ["x", ".\n\n"])
        XCTAssertEqual(p.split(" 42"), [" ", "42"])
    }

    /// The regex with \s spelled as the White_Space property, which is what HF's
    /// and tiktoken's engines use (ICU's \s differs on U+0085 and U+000B).
    static func oracle(_ pattern: PreTokenizerPattern) -> NSRegularExpression {
        let r = pattern.regex!
            .replacingOccurrences(of: "\\s", with: "\\p{White_Space}")
            .replacingOccurrences(of: "\\S", with: "\\P{White_Space}")
        return try! NSRegularExpression(pattern: r)
    }

    func splitWithRegex(_ re: NSRegularExpression, _ s: String) -> [String] {
        let ns = s as NSString
        return re.matches(in: s, range: NSRange(location: 0, length: ns.length)).map { ns.substring(with: $0.range) }
    }

    func testOracleIsTheRegex() {
        XCTAssertEqual(splitWithRegex(Self.oracle(.gpt2), "a  b\u{85}\u{85}c"), ["a", " ", " b", "\u{85}", "\u{85}", "c"])
        XCTAssertEqual(splitWithRegex(Self.oracle(.cl100k), "12345'LL"), ["123", "45", "'LL"])
        XCTAssertEqual(PreTokenizer(.gpt2).split("a  b\u{85}\u{85}c"), ["a", " ", " b", "\u{85}", "\u{85}", "c"])
    }

    func testScannerMatchesRegexOnRandomText() {
        for pattern in [PreTokenizerPattern.gpt2, .cl100k] {
            let re = Self.oracle(pattern)
            let p = PreTokenizer(pattern)
            var rng = StrataRNG(seed: 7)
            for _ in 0..<400 {
                let s = RandomText.string(&rng)
                XCTAssertEqual(p.split(s), splitWithRegex(re, s), "\(pattern) on \(s.debugDescription)")
            }
        }
    }

    func testPiecesCoverArbitraryBytes() {
        var rng = StrataRNG(seed: 11)
        for pattern in PreTokenizerPattern.allCases {
            for _ in 0..<200 {
                let bytes = (0..<rng.int(below: 64)).map { _ in UInt8(rng.int(below: 256)) }
                var joined = [UInt8]()
                bytes.withUnsafeBufferPointer { b in
                    guard let base = b.baseAddress else { return }
                    PreTokenizer(pattern).forEachPiece(base, b.count) { s, e in
                        XCTAssertLessThan(s, e, "pieces are never empty")
                        joined += b[s..<e]
                    }
                }
                XCTAssertEqual(joined, bytes)
            }
        }
    }
}
