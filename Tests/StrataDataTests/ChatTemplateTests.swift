// Tests for the ChatML template: exact loss-mask positions per format on a
// byte-level fake tokenizer (bytes 0...255, end-of-text 256, <|im_start|> 300,
// <|im_end|> 301), text and token round trips, and tokenizer_config.json.
// Leaves out: real BPE tokenizers (the tokenizer target is not imported here).

import Foundation
import XCTest
@testable import StrataData
import StrataCore
import StrataTestSupport

final class ChatTemplateTests: XCTestCase {
    static let specials = ["<|im_start|>": 300, "<|im_end|>": 301]
    let tok = ChatTokenizer(encode: { $0.utf8.map { Int($0) } }, specialID: { ChatTemplateTests.specials[$0] }, endOfText: 256, tokenBytes: { _ in 1 })
    let t = ChatTemplate.chatML

    /// Indices where targets carry a loss.
    private func trainedAt(_ s: RenderedSample) -> [Int] {
        s.targets.indices.filter { s.targets[$0] != RenderedSample.ignoreIndex }
    }

    private func decode(_ ids: [Int]) -> String {
        let inverse = Dictionary(uniqueKeysWithValues: Self.specials.map { ($1, $0) })
        var bytes: [UInt8] = [], out = ""
        for id in ids {
            if id < 256 { bytes.append(UInt8(id)); continue }
            out += String(decoding: bytes, as: UTF8.self) + (inverse[id] ?? "<eot>")
            bytes = []
        }
        return out + String(decoding: bytes, as: UTF8.self)
    }

    func testConversationalMaskPositions() throws {
        // Blocks: "<s>system\nS<e>\n" = 11 tokens, "<s>user\nU<e>\n" = 9, "<s>assistant\nA<e>\n" = 14.
        let c = Conversation.chat([ChatMessage(.system, "S"), ChatMessage(.user, "U"), ChatMessage(.assistant, "A")])
        let s = try t.render(c, tok)
        XCTAssertEqual(s.count, 33)
        XCTAssertEqual(s.ids.count, s.targets.count)
        // Token 31 is "A", token 32 is <|im_end|>; targets sit one position earlier.
        XCTAssertEqual(trainedAt(s), [30, 31])
        XCTAssertEqual(s.targets[30], 65)
        XCTAssertEqual(s.targets[31], 301)
        XCTAssertEqual(s.ids[0], 300)
        XCTAssertEqual(s.ids[31], 65)
    }

    func testTwoAssistantTurnsBothTrained() throws {
        let c = Conversation.chat([ChatMessage(.user, "U"), ChatMessage(.assistant, "AB"),
                                   ChatMessage(.user, "V"), ChatMessage(.assistant, "C")])
        let s = try t.render(c, tok)
        // user 9, assistant 15 ("AB"), user 9, assistant 14: A,B,<e> at 20,21,22; C,<e> at 44,45.
        XCTAssertEqual(trainedAt(s), [19, 20, 21, 43, 44])
        XCTAssertEqual(s.trainedCount, 5)
        XCTAssertEqual(s.targets[21], 301)
    }

    func testPlainTextAllTrainedThenEndOfText() throws {
        let s = try t.render(.text("hi!"), tok)
        XCTAssertEqual(s.ids, [104, 105, 33])
        XCTAssertEqual(s.targets, [105, 33, 256])
    }

    func testPlainPromptCompletionMasksPrompt() throws {
        let s = try t.render(.promptCompletion("ab", "cd"), tok)
        XCTAssertEqual(s.ids, [97, 98, 99, 100])
        XCTAssertEqual(s.targets, [-100, 99, 100, 256])
    }

    func testConversationalPromptCompletionTrainsOnlyCompletion() throws {
        let c = Conversation(format: .conversationalPromptCompletion,
                             messages: [ChatMessage(.user, "U"), ChatMessage(.assistant, "X"),
                                        ChatMessage(.user, "V"), ChatMessage(.assistant, "A")], promptCount: 3)
        let s = try t.render(c, tok)
        // Prompt blocks 9 + 14 + 9 = 32; "A" at 43, <e> at 44. The prompt's assistant "X" is masked.
        XCTAssertEqual(trainedAt(s), [42, 43])
        XCTAssertEqual(s.targets[42], 65)
        // The prompt part equals promptTokens(prompt) (generation prompt = completion header).
        let prompt = try t.promptTokens(Array(c.messages.prefix(3)), tok)
        XCTAssertEqual(s.ids.prefix(prompt.count).map(Int.init), prompt)
    }

    func testTextRoundTrip() throws {
        let msgs = [ChatMessage(.system, "rules\nline two"), ChatMessage(.user, "¿qué? <b>"), ChatMessage(.assistant, "fine\n\n")]
        let text = t.render(text: msgs)
        XCTAssertEqual(try t.parse(text), msgs)
        XCTAssertEqual(try t.parse(t.render(text: msgs, addGenerationPrompt: true)), msgs)
        XCTAssertTrue(text.hasPrefix("<|im_start|>system\nrules\nline two<|im_end|>\n<|im_start|>user\n"))
        assertStrataError(try t.parse("<|im_start|>robot\nx<|im_end|>\n"), kind: .format, contains: ["message 0", "role"])
        assertStrataError(try t.parse(text + "<|im_start|>user\nopen"), kind: .format, contains: ["message 3", "not closed"])
    }

    /// Reference text from transformers' apply_chat_template with `t.jinja` as chat_template
    /// (captured once from transformers 5.23; the messages mix newlines and non-ASCII text).
    func testMatchesTransformersRendering() throws {
        let msgs = [ChatMessage(.system, "rules\nline two"), ChatMessage(.user, "¿qué? <b>"), ChatMessage(.assistant, "fine\n\n")]
        let hf = "<|im_start|>system\nrules\nline two<|im_end|>\n<|im_start|>user\n\u{bf}qu\u{e9}? <b><|im_end|>\n"
            + "<|im_start|>assistant\nfine\n\n<|im_end|>\n"
        XCTAssertEqual(t.render(text: msgs), hf)
        let hfPrompt = "<|im_start|>system\nrules\nline two<|im_end|>\n<|im_start|>user\n\u{bf}qu\u{e9}? <b><|im_end|>\n<|im_start|>assistant\n"
        XCTAssertEqual(t.render(text: Array(msgs.prefix(2)), addGenerationPrompt: true), hfPrompt)
        let jinja = #"{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"#
        XCTAssertEqual(t.jinja, jinja)
    }

    func testTokenRoundTripMatchesText() throws {
        let msgs = [ChatMessage(.user, "hello"), ChatMessage(.assistant, "héllo\nback")]
        let (tokens, trained) = try t.tokens(.chat(msgs), tok)
        XCTAssertEqual(tokens.count, trained.count)
        XCTAssertEqual(decode(tokens), t.render(text: msgs))
        XCTAssertEqual(try t.parse(decode(tokens)), msgs)
        // Trained tokens decode to exactly the assistant content plus <|im_end|>.
        XCTAssertEqual(decode(zip(tokens, trained).filter(\.1).map(\.0)), "héllo\nback<|im_end|>")
    }

    func testMissingSpecialTokenIsAnError() throws {
        let bare = ChatTokenizer(encode: { $0.utf8.map { Int($0) } }, specialID: { _ in nil }, endOfText: 256, tokenBytes: { _ in 1 })
        assertStrataError(try t.render(.chat([ChatMessage(.user, "a"), ChatMessage(.assistant, "b")]), bare),
                          kind: .config, contains: ["<|im_start|>"])
        XCTAssertNoThrow(try t.render(.text("plain needs no specials"), bare))
    }

    func testTokenizerConfig() throws {
        let data = try t.tokenizerConfigJSON(eosToken: "<|im_end|>", bosToken: "<|endoftext|>", modelMaxLength: 1024,
                                             specialIDs: ["<|im_start|>": 50257, "<|im_end|>": 50258])
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(obj["chat_template"] as? String, t.jinja)
        XCTAssertEqual(obj["eos_token"] as? String, "<|im_end|>")
        XCTAssertEqual(obj["model_max_length"] as? Int, 1024)
        XCTAssertEqual(obj["additional_special_tokens"] as? [String], ["<|im_start|>", "<|im_end|>"])
        let decoder = try XCTUnwrap(obj["added_tokens_decoder"] as? [String: [String: Any]])
        XCTAssertEqual(decoder["50257"]?["content"] as? String, "<|im_start|>")
        XCTAssertEqual(decoder["50258"]?["special"] as? Bool, true)
        XCTAssertTrue(t.jinja.contains("add_generation_prompt"))
        XCTAssertEqual(try ChatTemplate.named("chatml"), t)
        assertStrataError(try ChatTemplate.named("llama"), kind: .config, contains: ["llama"])
        let back = try StrataJSON.decode(ChatTemplate.self, from: try StrataJSON.encode(t), file: "mem")
        XCTAssertEqual(back, t)
    }
}
