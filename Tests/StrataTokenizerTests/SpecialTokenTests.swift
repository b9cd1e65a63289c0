// Special and added tokens: raw special-token text stays ordinary text unless
// allowSpecial, matching is leftmost-longest, added tokens get ids after the vocab
// (existing ones keep theirs) and survive a write/read, and eosID finds the marker.

import XCTest
import Foundation
import StrataCore
@testable import StrataTokenizer

final class SpecialTokenTests: XCTestCase {
    func testSpecialTextIsOrdinaryUnlessAllowed() throws {
        let tok = Fixtures.small
        let eos = try XCTUnwrap(tok.eosID)
        XCTAssertEqual(tok.id(forSpecial: "<|endoftext|>"), eos)
        let text = "a<|endoftext|>b <|endoftext|>"
        let plain = tok.encode(text)
        XCTAssertFalse(plain.contains(eos))
        XCTAssertEqual(tok.decode(plain), text)
        let allowed = tok.encode(text, allowSpecial: true)
        XCTAssertEqual(allowed.filter { $0 == eos }.count, 2)
        XCTAssertEqual(tok.decode(allowed), text)
        XCTAssertEqual(tok.decode(allowed, skipSpecial: true), "ab ")
        XCTAssertEqual(tok.encodeBatch([text], allowSpecial: true)[0], allowed)
    }

    func testAddingSpecialTokens() throws {
        let tok = Fixtures.small
        let before = tok.vocabSize
        let (grown, ids) = try tok.addingSpecialTokens(["<|im_start|>", "<|im_end|>", "<|endoftext|>"])
        XCTAssertEqual(ids, [before, before + 1, tok.eosID!])
        XCTAssertEqual(grown.vocabSize, before + 2)
        XCTAssertEqual(tok.vocabSize, before, "the original is unchanged")
        let chat = "<|im_start|>user\nhi<|im_end|>"
        let enc = grown.encode(chat, allowSpecial: true)
        XCTAssertEqual(enc.first, before)
        XCTAssertEqual(enc.last, before + 1)
        XCTAssertFalse(grown.encode(chat).contains(before))
        XCTAssertEqual(grown.decode(enc), chat)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("strata-tok-grown.json")
        try grown.write(to: url)
        let back = try BPETokenizer(contentsOf: url)
        XCTAssertEqual(back.encode(chat, allowSpecial: true), enc)
        XCTAssertEqual(back.id(forSpecial: "<|im_end|>"), before + 1)
        try? FileManager.default.removeItem(at: url)
        XCTAssertThrowsError(try tok.addingSpecialTokens([""])) { XCTAssertTrue($0 is StrataError) }
    }

    func testLongestMatchWinsAndNonSpecialAlwaysMatches() throws {
        let tok = Fixtures.small
        let (grown, ids) = try tok.addingSpecialTokens(["<|im", "<|im_start|>"])
        XCTAssertEqual(grown.encode("<|im_start|>", allowSpecial: true), [ids[1]])
        XCTAssertEqual(grown.encode("<|imx", allowSpecial: true).first, ids[0])
        let normal = try BPETokenizer(vocab: tok.vocab, merges: tok.merges,
                                      addedTokens: tok.addedTokens + [.init(id: tok.vocabSize, content: "[[x]]", special: false)])
        XCTAssertEqual(normal.encode("a[[x]]b"), normal.encode("a") + [tok.vocabSize] + normal.encode("b"))
        XCTAssertFalse(normal.isSpecial(tok.vocabSize))
    }

    func testTrainerValidatesConfig() {
        let docs = ["hello world"]
        XCTAssertThrowsError(try BPETokenizer.train(texts: docs, config: .init(vocabSize: 100))) { XCTAssertTrue($0 is StrataError) }
        XCTAssertThrowsError(try BPETokenizer.train(texts: docs, config: .init(specialTokens: ["a", "a"])))
        XCTAssertThrowsError(try BPETokenizer.train(texts: [], config: .init(vocabSize: 300))) { error in
            XCTAssertEqual((error as? StrataError)?.kind, .data)
        }
        XCTAssertThrowsError(try BPETokenizer.train(texts: ["", ""], config: .init(vocabSize: 300)))
    }

    func testTrainedSpecialsComeFirst() throws {
        let tok = try BPETokenizer.train(texts: ["aaa bbb aaa"], config: .init(vocabSize: 262, specialTokens: ["<s>", "</s>"]))
        XCTAssertEqual(tok.id(forSpecial: "<s>"), 0)
        XCTAssertEqual(tok.eosID, 1)
        XCTAssertEqual(tok.vocabSize, 262)
        XCTAssertEqual(tok.decode(tok.encode("aaa bbb")), "aaa bbb")
    }

    func testTruncatingAddedTokensRecoversTheTokenizerTheyWereAddedTo() throws {
        let tok = Fixtures.small
        let (grown, ids) = try tok.addingSpecialTokens(["<|im_start|>", "<|im_end|>"])
        XCTAssertEqual(ids, [tok.vocabSize, tok.vocabSize + 1])
        XCTAssertNotEqual(grown.hash, tok.hash)
        XCTAssertEqual(grown.truncatingAddedTokens(toSize: tok.vocabSize)?.hash, tok.hash)
        XCTAssertEqual(grown.truncatingAddedTokens(toSize: grown.vocabSize)?.hash, grown.hash)
        XCTAssertNil(grown.truncatingAddedTokens(toSize: 10), "cannot drop vocabulary entries")
        XCTAssertNil(grown.truncatingAddedTokens(toSize: grown.vocabSize + 5))
    }
}
