// Tests for rendering preference pairs to ids and laying them out as a [2P, T]
// batch: exact prompt/response ids (ChatML and plain), exactly which positions
// carry loss, agreement with SFT's loss mask for the same conversation, chosen
// rows before rejected rows, padding, last-token indices, dropping long pairs,
// and the errors. Byte-level tokenizer with <|im_start|> = 300, <|im_end|> = 301.

import Foundation
import XCTest
@testable import StrataData
import StrataCore
import StrataTestSupport

final class PreferenceRenderTests: XCTestCase {
    let tok = ChatTokenizer(encode: { $0.utf8.map { Int($0) } },
                            specialID: { ["<|im_start|>": 300, "<|im_end|>": 301][$0] }, endOfText: 256, tokenBytes: { _ in 1 })
    let t = ChatTemplate.chatML

    private func bytes(_ s: String) -> [Int32] { s.utf8.map { Int32($0) } }

    func testRenderConversationalPair() throws {
        let r = try t.render(pair: .chat("q", chosen: "ab", rejected: "xyz"), tok)
        XCTAssertEqual(r.prompt, [300] + bytes("user\nq") + [301] + bytes("\n") + [300] + bytes("assistant\n"))
        XCTAssertEqual(r.chosen, bytes("ab") + [301])
        XCTAssertEqual(r.rejected, bytes("xyz") + [301])
        XCTAssertEqual(r.suffix, bytes("\n"), "the template's newline after <|im_end|> follows either response")
        XCTAssertEqual(r.longestSequence, r.prompt.count + 4 + 1)
        // Several assistant turns continue with a fresh assistant header.
        let multi = PreferencePair(prompt: [ChatMessage(.user, "q")], chosen: [ChatMessage(.assistant, "x"), ChatMessage(.assistant, "y")],
                                   rejected: [ChatMessage(.assistant, "z")])
        XCTAssertEqual(try t.render(pair: multi, tok).chosen, bytes("x") + [301] + bytes("\n") + [300] + bytes("assistant\ny") + [301])
    }

    func testRenderPlainPair() throws {
        let r = try t.render(pair: .plain("ab", chosen: " c", rejected: " dd"), tok)
        XCTAssertEqual(r, RenderedPair(prompt: bytes("ab"), chosen: bytes(" c") + [256], rejected: bytes(" dd") + [256]))
    }

    /// Each side's text is encoded whole (as transformers does): a tokenizer that merges "\n" with the spaces after it
    /// must see the assistant header's newline and the content together.
    func testResponsesAreEncodedAsWholeTextWithMarginCarried() throws {
        // Encodes "\n " as one token (500) and every other byte as itself.
        let merging = ChatTokenizer(encode: { s in
            var out: [Int] = [], b = Array(s.utf8), i = 0
            while i < b.count {
                if b[i] == 10, i + 1 < b.count, b[i + 1] == 32 { out.append(500); i += 2 } else { out.append(Int(b[i])); i += 1 }
            }
            return out
        }, specialID: { ["<|im_start|>": 300, "<|im_end|>": 301][$0] }, endOfText: 256, tokenBytes: { $0 == 500 ? 2 : 1 })
        var pair = PreferencePair(prompt: [ChatMessage(.user, "q")], chosen: [ChatMessage(.assistant, "x"), ChatMessage(.assistant, " y")],
                                  rejected: [ChatMessage(.assistant, "z")])
        pair.margin = 1.5
        let r = try t.render(pair: pair, merging)
        XCTAssertEqual(r.chosen, bytes("x") + [301] + bytes("\n") + [300] + bytes("assistant") + [500] + bytes("y") + [301])
        XCTAssertEqual(r.margin, 1.5)
        // SFT renders the same conversation identically, and trains the merged token (it holds content).
        let (tokens, trained) = try t.tokens(.chat(pair.prompt + pair.chosen), merging)
        let at = try XCTUnwrap(tokens.firstIndex(of: 500))
        XCTAssertTrue(trained[at])
        XCTAssertFalse(trained[at - 1], "the header's role is not trained")
    }

    func testBatchLayoutAndLossPositions() throws {
        let pairs = [try t.render(pair: .chat("q", chosen: "ab", rejected: "xyz"), tok),
                     try t.render(pair: .chat("a much longer question", chosen: "ab", rejected: "c"), tok),
                     try t.render(pair: .chat("w", chosen: "k", rejected: "mn"), tok)]
        let L = pairs[0].prompt.count
        let T = L + 5                      // pair 0's rejected side (+ the newline suffix) fills a row exactly
        let b = try PreferenceBatch.make(pairs, rowLength: T, padID: 0)
        XCTAssertEqual(b.pairCount, 2)
        XCTAssertEqual(b.droppedTooLong, 1)
        XCTAssertEqual(b.keptPairs, [0, 2])
        XCTAssertEqual(b.rows, 4)
        XCTAssertEqual([b.ids.count, b.targets.count, b.mask.count], [4 * T, 4 * T, 4 * T])
        let order = [(0, pairs[0].chosen), (2, pairs[2].chosen), (0, pairs[0].rejected), (2, pairs[2].rejected)]
        for (row, (p, response)) in order.enumerated() {
            let seq = pairs[p].prompt + response + pairs[p].suffix, n = seq.count, off = row * T
            XCTAssertEqual(Array(b.ids[off..<off + n]), seq, "row \(row)")
            XCTAssertEqual(Array(b.ids[off + n..<off + T]), Array(repeating: 0, count: T - n), "row \(row) padding")
            let lossAt = (0..<T).filter { b.mask[off + $0] == 1 }
            XCTAssertEqual(lossAt, Array((pairs[p].prompt.count - 1)...(n - 3)), "row \(row): one loss position per response token, none on the suffix")
            XCTAssertEqual(lossAt.map { b.targets[off + $0] }, response, "row \(row): targets are the response tokens")
            XCTAssertTrue((0..<T).filter { b.mask[off + $0] == 0 }.allSatisfy { b.targets[off + $0] == -100 })
            XCTAssertEqual(b.lastIndex[row], Int32(n - 1))
            XCTAssertEqual(b.ids[off + n - 2], 301, "the response closes the message")
            XCTAssertEqual(b.ids[off + n - 1], 10, "the last real token is the template's newline, where transformers reads a reward")
            XCTAssertEqual(b.responseTokens[row], response.count)
        }
        XCTAssertEqual(b.responseTokens, [3, 2, 4, 3])
    }

    func testChosenRowMatchesSFTLossMask() throws {
        let pair = PreferencePair.chat("Where was Ana born?", chosen: "Holtmar", rejected: "Dunvik", system: "Be brief.")
        let b = try PreferenceBatch.make([try t.render(pair: pair, tok)], rowLength: 80, padID: 0)
        let sft = try t.render(.chat(pair.prompt + pair.chosen), tok)
        let n = sft.count   // SFT drops the last token (the trailing newline) from the inputs
        XCTAssertEqual(Array(b.ids[0..<n]), sft.ids)
        XCTAssertEqual(Array(b.targets[0..<n]), sft.targets)
        XCTAssertTrue(b.targets[n..<80].allSatisfy { $0 == -100 })
    }

    func testBatchErrors() throws {
        let good = try t.render(pair: .chat("q", chosen: "a", rejected: "b"), tok)
        assertStrataError(try PreferenceBatch.make([good], rowLength: 1, padID: 0), kind: .config, contains: ["row length 1"])
        let empty = RenderedPair(prompt: [1], chosen: [], rejected: [2])
        assertStrataError(try PreferenceBatch.make([good, empty], rowLength: 64, padID: 0), kind: .data, contains: ["pair 1"])
        let none = try PreferenceBatch.make([good], rowLength: 4, padID: 0)
        XCTAssertEqual([none.pairCount, none.droppedTooLong, none.ids.count], [0, 1, 0])
        let bare = ChatTokenizer(encode: { $0.utf8.map { Int($0) } }, specialID: { _ in nil }, endOfText: 256, tokenBytes: { _ in 1 })
        assertStrataError(try t.render(pair: .chat("q", chosen: "a", rejected: "b"), bare), kind: .config, contains: ["<|im_start|>"])
        XCTAssertNoThrow(try t.render(pair: .plain("q", chosen: "a", rejected: "b"), bare))
    }
}
