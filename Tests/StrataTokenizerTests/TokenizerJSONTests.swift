// tokenizer.json: what Strata writes reads back identically (and hashes the same),
// and each unsupported or broken file is rejected with a StrataError that names
// the problem.

import XCTest
import Foundation
import StrataCore
@testable import StrataTokenizer

final class TokenizerJSONTests: XCTestCase {
    func base() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Fixtures.data("hf_gpt2.tokenizer.json")) as! [String: Any]
    }

    func load(_ root: [String: Any]) throws -> BPETokenizer {
        try BPETokenizer(jsonData: JSONSerialization.data(withJSONObject: root), source: "test.json")
    }

    func expectRejected(_ what: String, containing word: String, _ edit: (inout [String: Any]) -> Void) throws {
        var root = try base()
        edit(&root)
        XCTAssertThrowsError(try load(root), what) { error in
            guard let e = error as? StrataError else { return XCTFail("\(what): not a StrataError: \(error)") }
            XCTAssertTrue(e.description.contains(word), "\(what): '\(e.description)' lacks '\(word)'")
            XCTAssertTrue(e.description.contains("test.json"), "\(what): error names the file")
        }
    }

    func editModel(_ root: inout [String: Any], _ body: (inout [String: Any]) -> Void) {
        var m = root["model"] as! [String: Any]
        body(&m)
        root["model"] = m
    }

    func testBaseFixtureLoads() throws { XCTAssertNoThrow(try load(base())) }

    func testRejections() throws {
        try expectRejected("other model", containing: "WordPiece") { r in editModel(&r) { $0["type"] = "WordPiece" } }
        try expectRejected("no merges", containing: "empty") { r in editModel(&r) { $0["merges"] = [Any]() } }
        try expectRejected("unknown part", containing: "not in the vocab") { r in
            editModel(&r) { $0["merges"] = [["zzqq", "a"]] + ($0["merges"] as! [Any]) }
        }
        try expectRejected("missing result", containing: "not in the vocab") { r in
            editModel(&r) { m in
                XCTAssertNil((m["vocab"] as! [String: Any])["!~"])
                m["merges"] = (m["merges"] as! [Any]) + [["!", "~"]]
            }
        }
        try expectRejected("version", containing: "version") { $0["version"] = "2.0" }
        try expectRejected("normalizer", containing: "NFC") { $0["normalizer"] = ["type": "NFC"] }
        try expectRejected("pre-tokenizer", containing: "Metaspace") { $0["pre_tokenizer"] = ["type": "Metaspace"] }
        try expectRejected("unknown regex", containing: "regex") { r in
            r["pre_tokenizer"] = ["type": "Sequence", "pretokenizers": [
                ["type": "Split", "pattern": ["Regex": "\\w+"], "behavior": "Isolated", "invert": false],
                ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false]]]
        }
        try expectRejected("no decoder", containing: "decoder") { $0["decoder"] = NSNull() }
        try expectRejected("template", containing: "TemplateProcessing") { $0["post_processor"] = ["type": "TemplateProcessing"] }
        try expectRejected("byte fallback", containing: "byte_fallback") { r in editModel(&r) { $0["byte_fallback"] = true } }
        try expectRejected("dropout", containing: "dropout") { r in editModel(&r) { $0["dropout"] = 0.1 } }
        try expectRejected("subword prefix", containing: "continuing_subword_prefix") { r in editModel(&r) { $0["continuing_subword_prefix"] = "##" } }
        try expectRejected("id gap", containing: "outside") { r in
            editModel(&r) { m in var v = m["vocab"] as! [String: Any]; v["Ġthe"] = 99999; m["vocab"] = v }
        }
        try expectRejected("lstrip", containing: "lstrip") { r in
            var a = (r["added_tokens"] as! [[String: Any]])[0]; a["lstrip"] = true; r["added_tokens"] = [a]
        }
        try expectRejected("added id clash", containing: "added token") { r in
            var a = (r["added_tokens"] as! [[String: Any]])[0]; a["id"] = 5; r["added_tokens"] = [a]
        }
        try expectRejected("truncation", containing: "truncation") { $0["truncation"] = ["max_length": 8] }
        XCTAssertThrowsError(try BPETokenizer(jsonData: Data("[1,2]".utf8), source: "test.json")) { XCTAssertTrue($0 is StrataError) }
        XCTAssertThrowsError(try BPETokenizer(contentsOf: URL(fileURLWithPath: "/nonexistent/tokenizer.json"))) {
            XCTAssertEqual(($0 as? StrataError)?.kind, .io)
        }
    }


    func testStringMergesAndPairMergesLoadAlike() throws {
        var root = try base()
        editModel(&root) { m in m["merges"] = (m["merges"] as! [[String]]).map { $0.joined(separator: " ") } }
        let a = try load(root), b = try load(base())
        XCTAssertEqual(a.merges, b.merges)
        XCTAssertEqual(a.tokenizerHash, b.tokenizerHash)
    }

    func testWriteReadRoundTrip() throws {
        for name in ["hf_gpt2", "hf_cl100k", "gpt2_layout", "strata_cl100k"] {
            let tok = try BPETokenizer(contentsOf: Fixtures.url(name + ".tokenizer.json"))
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("strata-tok-\(name).json")
            try tok.write(to: url)
            let back = try BPETokenizer(contentsOf: url)
            XCTAssertEqual(back.vocab, tok.vocab)
            XCTAssertEqual(back.merges, tok.merges)
            XCTAssertEqual(back.addedTokens, tok.addedTokens)
            XCTAssertEqual(back.options, tok.options)
            XCTAssertEqual(back.tokenizerHash, tok.tokenizerHash)
            XCTAssertEqual(back.jsonString(), tok.jsonString())
            try? FileManager.default.removeItem(at: url)
        }
    }

    func testHashDistinguishesTokenizers() throws {
        let a = try BPETokenizer(contentsOf: Fixtures.url("hf_gpt2.tokenizer.json"))
        let b = try BPETokenizer(contentsOf: Fixtures.url("hf_cl100k.tokenizer.json"))
        XCTAssertNotEqual(a.tokenizerHash, b.tokenizerHash)
        XCTAssertEqual(a.tokenizerHash.count, 64)
        let (grown, _) = try a.addingSpecialTokens(["<|im_start|>"])
        XCTAssertNotEqual(grown.tokenizerHash, a.tokenizerHash)
        XCTAssertEqual(a.hash, a.tokenizerHash)
    }
}
