// Parity with Hugging Face `tokenizers` on committed fixtures (made by
// tools/fixtures/tokenizer_parity.py): same ids for HF-trained tokenizers (GPT-2
// and cl100k patterns, GPT-2's published layout), HF's ids for a Strata-trained
// tokenizer, decode giving the input back, and training giving HF's merges.

import XCTest
import StrataCore
@testable import StrataTokenizer

final class ParityTests: XCTestCase {
    func checkParity(_ name: String) throws {
        let tok = try BPETokenizer(contentsOf: Fixtures.url(name + ".tokenizer.json"))
        let texts = try Fixtures.inputs()
        let want = try Fixtures.expected(name)
        XCTAssertEqual(want.special.count, texts.count)
        let special = tok.encodeBatch(texts, allowSpecial: true)
        let plain = tok.encodeBatch(texts)
        for i in texts.indices {
            XCTAssertEqual(special[i], want.special[i], "\(name) allowSpecial input \(i): \(texts[i].debugDescription)")
            XCTAssertEqual(plain[i], want.plain[i], "\(name) plain input \(i): \(texts[i].debugDescription)")
            XCTAssertEqual(tok.decode(special[i]), texts[i], "\(name) decode input \(i)")
            XCTAssertEqual(tok.decode(plain[i]), texts[i], "\(name) decode input \(i)")
            XCTAssertEqual(tok.encode(texts[i], allowSpecial: true), special[i], "encode and encodeBatch agree")
        }
    }

    func testHFTrainedGPT2Pattern() throws { try checkParity("hf_gpt2") }
    func testHFTrainedCL100KPattern() throws { try checkParity("hf_cl100k") }
    func testGPT2PublishedLayout() throws {
        try checkParity("gpt2_layout")
        let tok = try BPETokenizer(contentsOf: Fixtures.url("gpt2_layout.tokenizer.json"))
        XCTAssertEqual(tok.eosID, tok.vocab.count - 1, "GPT-2 layout keeps <|endoftext|> as the last vocab entry")
        XCTAssertTrue(tok.options.byteLevelPostProcessor)
    }
    func testStrataTrainedTokenizerMatchesHFEncoding() throws { try checkParity("strata_cl100k") }

    func testTrainingGivesHFMerges() throws {
        let docs = try Fixtures.corpus()
        for (pattern, name) in [(PreTokenizerPattern.gpt2, "hf_gpt2"), (.cl100k, "hf_cl100k")] {
            let hf = try BPETokenizer(contentsOf: Fixtures.url(name + ".tokenizer.json"))
            let ours = try BPETokenizer.train(texts: docs, config: BPETrainer.Config(vocabSize: 800, pattern: pattern))
            XCTAssertEqual(ours.vocab, hf.vocab, "\(pattern) vocab")
            XCTAssertEqual(ours.merges, hf.merges, "\(pattern) merges")
            XCTAssertEqual(ours.tokenizerHash, hf.tokenizerHash, "\(pattern) hash")
        }
    }

    func testRetrainingReproducesCommittedStrataTokenizer() throws {
        let docs = try Fixtures.corpus()
        let config = BPETrainer.Config(vocabSize: 600, specialTokens: ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], pattern: .cl100k)
        let tok = try BPETokenizer.train(texts: docs, config: config)
        let committed = String(decoding: Fixtures.data("strata_cl100k.tokenizer.json"), as: UTF8.self)
        XCTAssertEqual(tok.jsonString(), committed)
    }
}
