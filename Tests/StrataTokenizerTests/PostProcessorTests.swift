// The RobertaProcessing post-processor against Hugging Face `tokenizers` (fixture
// hf_roberta.* written by tools/fixtures/roberta_fixture.py --tokenizer): a tokenizer
// trained by HF with <s> <pad> </s> <unk> <mask> and RobertaProcessing reads, its
// framed ids (<s> … </s>, <mask> matched in the text) and plain ids match HF's for
// every parity input, and writing it back keeps the post-processor field for field;
// adding it to a Strata tokenizer keeps the hash; a post-processor whose cls/sep id
// disagrees with added_tokens is refused by name.

import XCTest
import Foundation
import StrataCore
@testable import StrataTokenizer

final class PostProcessorTests: XCTestCase {
    struct Expected: Decodable { let texts: [String], framed: [[Int]], plain: [[Int]] }

    func testRobertaProcessingMatchesHuggingFaceAndRoundTrips() throws {
        let tok = try BPETokenizer(contentsOf: Fixtures.url("hf_roberta.tokenizer.json"))
        let want = try JSONDecoder().decode(Expected.self, from: Fixtures.data("hf_roberta.expected.json"))
        XCTAssertEqual(tok.options.roberta, RobertaProcessing(cls: ("<s>", 0), sep: ("</s>", 2), trimOffsets: true, addPrefixSpace: true))
        XCTAssertGreaterThan(want.texts.count, 80)
        for (i, text) in want.texts.enumerated() {
            XCTAssertEqual(tok.encodeFramed(text), want.framed[i], "framed \(text.debugDescription)")
            XCTAssertEqual(tok.encode(text, allowSpecial: true), want.plain[i], "plain \(text.debugDescription)")
        }
        XCTAssertTrue(want.framed.last!.contains(4), "the mask texts hold <mask> (id 4)")
        let back = try BPETokenizer(jsonData: Data(tok.jsonString().utf8), source: "written")
        XCTAssertEqual(back.options, tok.options)
        XCTAssertEqual(back.hash, tok.hash)
        let written = try JSONSerialization.jsonObject(with: Data(tok.jsonString().utf8)) as! [String: Any]
        let post = written["post_processor"] as! [String: Any]
        XCTAssertEqual(post["type"] as? String, "RobertaProcessing")
        XCTAssertEqual((post["cls"] as! [Any]).first as? String, "<s>"); XCTAssertEqual((post["sep"] as! [Any]).last as? Int, 2)
    }

    func testAddingThePostProcessorKeepsIdsAndRefusesAWrongID() throws {
        let (grown, ids) = try Fixtures.small.addingSpecialTokens(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
        let framedTok = try grown.withPostProcessor(.roberta(cls: ("<s>", ids[0]), sep: ("</s>", ids[2])))
        XCTAssertEqual(framedTok.hash, grown.hash, "the post-processor changes no id of encode")
        XCTAssertEqual(framedTok.encodeFramed("hello <mask>"), [ids[0]] + grown.encode("hello <mask>", allowSpecial: true) + [ids[2]])
        XCTAssertEqual(grown.encodeFramed("hello"), grown.encode("hello"), "no post-processor: nothing added")
        XCTAssertThrowsError(try grown.withPostProcessor(.roberta(cls: ("<s>", ids[0] + 1), sep: ("</s>", ids[2])))) {
            XCTAssertTrue("\($0)".contains("cls is [\"<s>\", \(ids[0] + 1)]") && "\($0)".contains("has id \(ids[0])"), "\($0)")
        }
        var json = try JSONSerialization.jsonObject(with: Data(framedTok.jsonString().utf8)) as! [String: Any]
        json["post_processor"] = ["type": "RobertaProcessing", "sep": ["</s>"], "cls": ["<s>", ids[0]]]
        XCTAssertThrowsError(try BPETokenizer(jsonData: try JSONSerialization.data(withJSONObject: json), source: "edited")) {
            XCTAssertTrue("\($0)".contains("'sep' is not a [token, id] pair"), "\($0)")
        }
    }
}
