// ChatSession with a tiny random GPT-2 and a tiny BPE tokenizer trained on a few
// sentences with the ChatML tokens: history rendering, streaming, truncation of
// old turns, reset/system, adding chat tokens to a base model, the UTF-8 stream
// decoder, and the built `strata chat` binary driven through stdin (it sits next
// to the test bundle in the build folder; the test fails when it is missing).
// Leaves out: a TTY (the "> " prompt is only checked to be absent on a pipe).
import XCTest
import StrataCore
import StrataData
import StrataModel
import StrataTokenizer
@testable import StrataTrain
import StrataTestSupport

final class ChatSessionTests: XCTestCase {
    static let corpus = ["the cat sat on the mat and the dog ran in the park",
                         "hello there, how are you today? I am fine, thanks.",
                         "a small model answers short questions about cats and dogs"]

    func tokenizer(chat: Bool = true) throws -> BPETokenizer {
        let special = ["<|endoftext|>"] + (chat ? ChatTemplate.chatML.specialTokens : [])
        return try BPETrainer.train(texts: Self.corpus, config: BPETrainer.Config(vocabSize: 300, specialTokens: special)).0
    }

    func session(context: Int = 128, maxNew: Int = 12, system: String? = "Be brief.") throws -> ChatSession {
        let tok = try tokenizer()
        let model = GPT2(GPT2Config(vocabSize: tok.vocabSize, nPositions: context, nEmbd: 16, nLayer: 1, nHead: 2), seed: 3)
        return try ChatSession(model: model, tokenizer: tok,
                               config: ChatConfig(system: system, temperature: 1.0, maxNewTokens: maxNew, seed: 7))
    }

    func testHistoryGrowsAndIsRenderedWithTheTemplate() throws {
        let s = try session()
        let r1 = try s.reply(to: "hello there") { _ in }
        let r2 = try s.reply(to: "how are you?") { _ in }
        XCTAssertEqual(s.turns, [ChatMessage(.user, "hello there"), ChatMessage(.assistant, r1),
                                 ChatMessage(.user, "how are you?"), ChatMessage(.assistant, r2)])
        let expected = "<|im_start|>system\nBe brief.<|im_end|>\n"
            + "<|im_start|>user\nhello there<|im_end|>\n<|im_start|>assistant\n\(r1)<|im_end|>\n"
            + "<|im_start|>user\nhow are you?<|im_end|>\n<|im_start|>assistant\n\(r2)<|im_end|>\n"
            + "<|im_start|>user\nnext<|im_end|>\n<|im_start|>assistant\n"
        XCTAssertEqual(s.promptText(adding: "next"), expected)
        // The prompt's tokens spell the same text, with the markers as single special ids.
        let ids = try s.promptTokens(adding: "next")
        XCTAssertEqual(s.tokenizer.decode(ids), expected)
        let start = s.tokenizer.id(forSpecial: "<|im_start|>")!
        XCTAssertEqual(ids.filter { $0 == start }.count, 7)
        XCTAssertEqual(s.replyCount, 2)
    }

    func testStreamedPiecesJoinToTheReply() throws {
        let s = try session(maxNew: 24)
        var total = 0
        for q in ["tell me about cats", "and dogs?", "thanks"] {
            var pieces: [String] = []
            let reply = try s.reply(to: q) { pieces.append($0) }
            XCTAssertEqual(pieces.joined(), reply)
            XCTAssertFalse(pieces.contains(""), "no empty pieces are streamed")
            XCTAssertFalse(reply.contains("<|im_end|>"), "the stop token is not part of the reply")
            total += reply.utf8.count
        }
        XCTAssertGreaterThan(total, 0, "a random model samples some text in three replies")
    }

    func testSameSeedRepeatsTheReply() throws {
        let a = try session(maxNew: 16), b = try session(maxNew: 16)
        let ra = try a.reply(to: "hello") { _ in }
        let rb = try b.reply(to: "hello") { _ in }
        XCTAssertEqual(ra, rb)
    }

    func testTruncationDropsOldestTurnsButKeepsSystem() throws {
        let s = try session(context: 64, maxNew: 8, system: "Be brief.")
        var notices: [String] = []
        s.onNotice = { notices.append($0) }
        let questions = (1...8).map { "question \($0): the cat sat on the mat" }
        for q in questions {
            _ = try s.reply(to: q) { _ in }
        }
        XCTAssertFalse(notices.isEmpty, "dropping turns is announced")
        XCTAssertTrue(notices[0].contains("dropped"), notices[0])
        XCTAssertEqual(s.messages.first, ChatMessage(.system, "Be brief."))
        XCTAssertLessThan(s.turns.count, 2 * questions.count)
        XCTAssertEqual(s.turns.count % 2, 0, "whole user/assistant turns are dropped")
        XCTAssertEqual(s.turns.first?.role, .user)
        XCTAssertFalse(s.turns.contains { $0.content == questions[0] }, "the oldest question is gone")
        XCTAssertEqual(s.turns[s.turns.count - 2].content, questions.last)
        // Every prompt that was sampled fit: history plus the generation prompt within the budget.
        XCTAssertLessThanOrEqual(try s.fitPrompt("x").count, s.promptBudget)
    }

    func testMessageThatCannotFitThrowsAndKeepsHistory() throws {
        let s = try session(context: 64, maxNew: 8)
        let r = try s.reply(to: "hi") { _ in }
        let before = s.turns
        XCTAssertEqual(before, [ChatMessage(.user, "hi"), ChatMessage(.assistant, r)])
        var notices: [String] = []
        s.onNotice = { notices.append($0) }
        let long = String(repeating: "the cat sat on the mat ", count: 10)
        XCTAssertThrowsError(try s.reply(to: long) { _ in }) { e in
            XCTAssertTrue("\(e)".contains("max_new_tokens"), "\(e)")
        }
        XCTAssertEqual(s.turns, before, "a message that cannot fit leaves the history as it was")
        XCTAssertTrue(notices.isEmpty)
        XCTAssertEqual(s.replyCount, 1)
    }

    func testResetAndSystem() throws {
        let s = try session()
        _ = try s.reply(to: "hello") { _ in }
        XCTAssertEqual(s.turns.count, 2)
        s.reset()
        XCTAssertTrue(s.turns.isEmpty)
        XCTAssertEqual(s.messages, [ChatMessage(.system, "Be brief.")])
        XCTAssertEqual(s.promptText(), "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>assistant\n")
        s.setSystem("Talk about cats.")
        XCTAssertEqual(s.messages, [ChatMessage(.system, "Talk about cats.")])
        s.setSystem("")
        XCTAssertTrue(s.messages.isEmpty)
        XCTAssertEqual(s.promptText(adding: "hi"), "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
        _ = try s.reply(to: "hi") { _ in }
        XCTAssertEqual(s.turns.first, ChatMessage(.user, "hi"))
    }

    func testBaseModelNeedsChatTokensAndCanBeGrown() throws {
        let base = try tokenizer(chat: false)
        let model = GPT2(GPT2Config(vocabSize: base.vocabSize, nPositions: 64, nEmbd: 16, nLayer: 1, nHead: 2), seed: 1)
        XCTAssertThrowsError(try ChatSession(model: model, tokenizer: base)) { e in
            XCTAssertTrue("\(e)".contains("<|im_start|>"), "\(e)")
        }
        let (m, t, added) = try ChatSession.addingChatTokens(model: model, tokenizer: base)
        XCTAssertTrue(added)
        XCTAssertEqual(m.vocabSize, base.vocabSize + 2)
        XCTAssertNotNil(t.id(forSpecial: "<|im_end|>"))
        let s = try ChatSession(model: m, tokenizer: t, config: ChatConfig(maxNewTokens: 8))
        var streamed = ""
        let r = try s.reply(to: "hello") { streamed += $0 }
        XCTAssertEqual(streamed, r)
        let again = try ChatSession.addingChatTokens(model: m, tokenizer: t)
        XCTAssertFalse(again.added)
    }

    func testMaxNewTokensMustLeaveRoomForAPrompt() throws {
        let tok = try tokenizer()
        let model = GPT2(GPT2Config(vocabSize: tok.vocabSize, nPositions: 32, nEmbd: 16, nLayer: 1, nHead: 2), seed: 1)
        XCTAssertThrowsError(try ChatSession(model: model, tokenizer: tok, config: ChatConfig(maxNewTokens: 32)))
        XCTAssertThrowsError(try ChatSession(model: model, tokenizer: tok, config: ChatConfig(maxNewTokens: 0)))
    }

    func testStreamDecoderNeverSplitsACharacter() {
        let text = "héllo € 😀 ok"
        var d = ChatStreamDecoder()
        var pieces: [String] = []
        for b in Array(text.utf8) { pieces.append(d.add([b])) }
        pieces.append(d.finish())
        XCTAssertEqual(pieces.joined(), text)
        XCTAssertFalse(pieces.joined().contains("\u{FFFD}"))
        XCTAssertEqual(pieces.filter { !$0.isEmpty }.count, text.unicodeScalars.count, "one piece per character when fed byte by byte")
        // Broken bytes decode as decoding them all at once does.
        let broken: [[UInt8]] = [[0x41, 0xE2], [0x82], [0x41, 0x80], [0xF0, 0x9F]]
        var e = ChatStreamDecoder()
        let joined = broken.map { e.add($0) }.joined() + e.finish()
        XCTAssertEqual(joined, String(decoding: broken.flatMap { $0 }, as: UTF8.self))
    }

    func strataBinary() throws -> URL { try StrataBinary.url() }

    func testCommandThroughStdinMatchesTheSession() throws {
        let tok = try tokenizer()
        let model = GPT2(GPT2Config(vocabSize: tok.vocabSize, nPositions: 64, nEmbd: 16, nLayer: 1, nHead: 2), seed: 5)
        let dir = try scratchDirectory()
        try model.save(directory: dir)
        try tok.write(to: dir.appendingPathComponent("tokenizer.json"))

        let p = Process()
        p.executableURL = try strataBinary()
        p.arguments = ["chat", "--checkpoint", dir.path, "--max-new-tokens", "8", "--temperature", "1", "--seed", "11"]
        let input = Pipe(), output = Pipe()
        p.standardInput = input
        p.standardOutput = output
        try p.run()
        input.fileHandleForWriting.write(Data("/system Be brief.\nhello\n/reset\n/quit\nnever answered\n".utf8))
        try input.fileHandleForWriting.close()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0, text)

        let s = try ChatSession(model: model, tokenizer: tok,
                                config: ChatConfig(system: "Be brief.", temperature: 1, maxNewTokens: 8, seed: 11))
        let reply = try s.reply(to: "hello") { _ in }
        XCTAssertEqual(text, "(system message set)\n" + reply + "\n(history cleared)\n")
    }
}
