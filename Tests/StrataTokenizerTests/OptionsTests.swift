// Model options read from tokenizer.json files: ignore_merges (a piece that is a
// vocab token is emitted whole), unk_token/fuse_unk and dropping of bytes missing
// from the vocab, add_prefix_space, and the cl100k pattern on a small model.

import XCTest
import StrataCore
@testable import StrataTokenizer

final class OptionsTests: XCTestCase {
    /// Byte tokens for `bytes` plus extra tokens, merges given as token strings.
    func model(bytes: [UInt8], extra: [String], merges: [(String, String)], options: BPETokenizer.Options) throws -> BPETokenizer {
        let vocab = bytes.map { ByteLevel.string(forBytes: [$0]) } + extra
        let index = Dictionary(uniqueKeysWithValues: vocab.enumerated().map { ($1, $0) })
        return try BPETokenizer(vocab: vocab, merges: merges.map { .init(index[$0.0]!, index[$0.1]!) }, addedTokens: [], options: options)
    }

    func testIgnoreMergesEmitsWholeVocabPieces() throws {
        let letters = Array("abcxyz".utf8)
        var o = BPETokenizer.Options()
        let plain = try model(bytes: letters, extra: ["ab", "xyz"], merges: [("a", "b")], options: o)
        XCTAssertEqual(plain.encode("xyz").count, 3, "no merge reaches xyz")
        XCTAssertEqual(plain.encode("abc"), [6, 2])
        o.ignoreMerges = true
        let whole = try model(bytes: letters, extra: ["ab", "xyz"], merges: [("a", "b")], options: o)
        XCTAssertEqual(whole.encode("xyz"), [7])
        XCTAssertEqual(whole.encode("xyz abc"), [7] + whole.encode(" abc"))
        XCTAssertEqual(whole.decode(whole.encode("xyzab")), "xyzab")
    }

    func testMissingBytesDropOrBecomeUnk() throws {
        let letters = Array("ab".utf8)
        var o = BPETokenizer.Options()
        let drop = try model(bytes: letters, extra: ["ab", "<unk>"], merges: [("a", "b")], options: o)
        XCTAssertEqual(drop.encode("aqqb"), [2], "bytes outside the vocab are dropped (as HF does without unk), then a+b merge")
        o.unkToken = "<unk>"
        let unk = try model(bytes: letters, extra: ["ab", "<unk>"], merges: [("a", "b")], options: o)
        XCTAssertEqual(unk.encode("aqqb"), [0, 3, 3, 1])
        o.fuseUnk = true
        let fused = try model(bytes: letters, extra: ["ab", "<unk>"], merges: [("a", "b")], options: o)
        XCTAssertEqual(fused.encode("aqqb"), [0, 3, 1])
        o.unkToken = "<nope>"
        XCTAssertThrowsError(try model(bytes: letters, extra: ["ab"], merges: [("a", "b")], options: o)) { XCTAssertTrue($0 is StrataError) }
    }

    func testAddPrefixSpace() throws {
        var o = Fixtures.small.options
        o.addPrefixSpace = true
        let base = Fixtures.small
        let tok = try BPETokenizer(vocab: base.vocab, merges: base.merges, addedTokens: base.addedTokens, options: o)
        XCTAssertEqual(tok.encode("people"), base.encode(" people"))
        XCTAssertEqual(tok.encode(" people"), base.encode(" people"))
        XCTAssertEqual(tok.encode("a<|endoftext|>b", allowSpecial: true),
                       base.encode(" a") + [base.eosID!] + base.encode(" b"), "each stretch between special tokens gets the space")
        XCTAssertNotEqual(tok.tokenizerHash, base.tokenizerHash)
    }
}
