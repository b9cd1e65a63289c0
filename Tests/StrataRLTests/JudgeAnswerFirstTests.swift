// Answer-first judging and judge agreement, on tiny random checkpoints: with
// `answer_first` the judge answers each distinct prompt itself (greedy, its
// generation checked against a token-by-token argmax over the whole text) and is
// asked about the reply after that answer, the verdict read from the next-token
// distribution of the conversation rendered whole; templates that put a reply
// into the question turn or give no answer budget are refused; the likelihood
// verdict is the reply's mean token log-probability (end-of-turn included) as the
// judge's answer, a pair's 2σ(ℓ₁ − ℓ₂) − 1, with no answer words needed; agreement counts
// the pairs whose chosen reply the judge prefers, per type and overall.

import Foundation
import XCTest
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataTokenizer
@testable import StrataRL
import StrataTestSupport

final class JudgeAnswerFirstTests: XCTestCase {
    var tokenizer: BPETokenizer!

    override func setUpWithError() throws { tokenizer = try RLTestModels.tokenizer() }

    let asked = JudgeTemplate(system: nil, single: "Reply: {reply}\nIs the reply correct? Answer Yes or No.",
                              pair: "Reply A: {reply_a}\nReply B: {reply_b}\nWhich reply is better, A or B?", principles: [],
                              answerFirst: "{prompt}", answerTokens: 4)

    func ids(_ text: String) -> [Int32] { tokenizer.encode(text, allowSpecial: true).map(Int32.init) }

    /// Next-token distribution after the whole text, from one forward pass.
    func lastDistribution(_ model: GPT2, _ ids: [Int32]) -> [Double] {
        let tape = Tape.noGrad(), v = model.config.vocabSize
        let logits = model.logits(model.hidden(ids, batch: 1, time: ids.count, tape: tape), tape: tape).toArray()
        let last = logits[((ids.count - 1) * v)...].map(Double.init)
        let m = last.max()!, z = last.reduce(0) { $0 + exp($1 - m) }
        return last.map { exp($0 - m) / z }
    }

    /// Greedy answer by repeated full forward passes (no KV cache), stopping at <|im_end|> or end of text.
    func slowGreedy(_ model: GPT2, _ prompt: [Int32], steps: Int) -> String {
        var seq = prompt, out: [Int] = []
        let stops = [tokenizer.encode("<|im_end|>", allowSpecial: true)[0], tokenizer.eosID!]
        for _ in 0..<steps {
            let p = lastDistribution(model, seq)
            let next = p.indices.max { p[$0] < p[$1] }!
            if stops.contains(next) { break }
            out.append(next); seq.append(Int32(next))
        }
        return tokenizer.decode(out).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testAnswerFirstJudgeAsksAboutTheReplyAfterItsOwnGreedyAnswer() throws {
        let model = RLTestModels.model(tokenizer, seed: 8, positions: 320)
        let judge = try JudgeSource(model: model, tokenizer: tokenizer, template: asked, checkpoint: "j", sha256: "s", questions: .both)
        let prompts = [PromptRecord.chat([ChatMessage(.user, "Where was Person1 born?")]), .chat([ChatMessage(.user, "Add 3 and 4.")])]
        let own = try XCTUnwrap(try judge.ownAnswers(prompts))
        for (p, answer) in zip(prompts, own) {
            let question = ChatTemplate.chatML.render(text: asked.answerMessages(prompt: p)!, addGenerationPrompt: true)
            XCTAssertEqual(answer, slowGreedy(model, ids(question), steps: asked.answerTokens))
        }
        let items = zip(prompts, ["Town1", "7"]).map { RewardItem(prompt: $0, reply: $1, replyTokens: 1, finish: .endOfTurn) }
        let scores = try judge.score(items)
        let yes = tokenizer.encode("Yes")[0], no = tokenizer.encode("No")[0]
        for (i, item) in items.enumerated() {
            let chat = asked.singleMessages(prompt: item.prompt, reply: item.reply, ownAnswer: own[i])
            XCTAssertEqual(chat.map(\.role), [.user, .assistant, .user])
            XCTAssertEqual(chat[1].content, own[i])
            let p = lastDistribution(model, ids(ChatTemplate.chatML.render(text: chat, addGenerationPrompt: true)))
            XCTAssertEqual(scores[i], p[yes] - p[no], accuracy: 1e-6)
        }
        // The same prompt is answered once: repeats get the same answer; a template without answer_first gets none.
        XCTAssertEqual(try judge.ownAnswers([prompts[1], prompts[0], prompts[1]]), [own[1], own[0], own[1]])
        let direct = try JudgeSource(model: model, tokenizer: tokenizer, checkpoint: "j", sha256: "s")
        XCTAssertNil(try direct.ownAnswers(prompts))
    }

    func testAnswerFirstTemplatesMustAskThePromptAloneWithABudget() throws {
        let model = RLTestModels.model(tokenizer, seed: 1, positions: 320)
        var t = asked
        t.answerFirst = "Answer: {reply}"
        assertThrowsStrataError(try JudgeSource(model: model, tokenizer: self.tokenizer, template: t, checkpoint: "j", sha256: "s")) {
            XCTAssertTrue($0.message.contains("'answer_first' lacks the placeholder {prompt}"), "\($0)")
        }
        t.answerFirst = "{prompt} {reply}"
        assertThrowsStrataError(try JudgeSource(model: model, tokenizer: self.tokenizer, template: t, checkpoint: "j", sha256: "s")) {
            XCTAssertTrue($0.message.contains("answers before it sees any reply"), "\($0)")
        }
        t.answerFirst = "{prompt}"; t.answerTokens = 0
        assertThrowsStrataError(try JudgeSource(model: model, tokenizer: self.tokenizer, template: t, checkpoint: "j", sha256: "s")) {
            XCTAssertTrue($0.message.contains("answer_tokens is 0"), "\($0)")
        }
        // Decoding: left out means no answer-first; given, both fields round-trip; a template without it encodes as before.
        let decoded = try JSONDecoder().decode(JudgeTemplate.self, from: Data(#"{"answer_first": "Q: {prompt}", "answer_tokens": 9}"#.utf8))
        XCTAssertEqual(decoded.answerFirst, "Q: {prompt}")
        XCTAssertEqual(decoded.answerTokens, 9)
        XCTAssertEqual(try JSONDecoder().decode(JudgeTemplate.self, from: try JSONEncoder().encode(decoded)), decoded)
        XCTAssertNil(try JSONDecoder().decode(JudgeTemplate.self, from: Data("{}".utf8)).answerFirst)
        let plain = String(decoding: try JSONEncoder().encode(JudgeTemplate.standard), as: UTF8.self)
        XCTAssertFalse(plain.contains("answer_first"), plain)
    }

    func testLikelihoodVerdictIsTheMeanLogProbabilityOfTheReplyAsTheJudgesAnswer() throws {
        let model = RLTestModels.model(tokenizer, seed: 4, positions: 320)
        var t = asked
        t.verdict = .likelihood
        t.yes = "Absolutely"   // not one token: answer words are not read, so not required
        let judge = try JudgeSource(model: model, tokenizer: tokenizer, template: t, checkpoint: "j", sha256: "s", questions: .both,
                                    batchRows: 2)
        let prompt = PromptRecord.chat([ChatMessage(.user, "Where was Person1 born?")])
        let replies = ["Town1", "Paris is the capital of France.", "7"]
        let scores = try judge.score(replies.map { RewardItem(prompt: prompt, reply: $0, replyTokens: 0, finish: .endOfTurn) })
        var expected: [Double] = []
        for reply in replies {
            // Whole text: question, generation prompt, reply, end of turn; each reply token's log p from one pass.
            let head = ids(ChatTemplate.chatML.render(text: [ChatMessage(.user, "Where was Person1 born?")], addGenerationPrompt: true))
            let tail = ids(reply + "<|im_end|>"), seq = head + tail
            let tape = Tape.noGrad(), v = model.config.vocabSize
            let logits = model.logits(model.hidden(seq, batch: 1, time: seq.count, tape: tape), tape: tape).toArray()
            var total = 0.0
            for (k, token) in tail.enumerated() {
                let row = logits[((head.count - 1 + k) * v)..<((head.count + k) * v)].map(Double.init)
                let m = row.max()!, lse = m + log(row.reduce(0) { $0 + exp($1 - m) })
                total += row[Int(token)] - lse
            }
            expected.append(total / Double(tail.count))
        }
        for (s, e) in zip(scores, expected) { XCTAssertEqual(s, e, accuracy: 1e-4) }
        let pref = try judge.preference(prompts: [prompt, prompt], first: [replies[0], replies[1]], second: [replies[1], replies[0]])
        XCTAssertEqual(pref[0], 2 / (1 + exp(expected[1] - expected[0])) - 1, accuracy: 1e-4)
        XCTAssertEqual(pref[0], -pref[1], accuracy: 1e-9)
        // Likelihood needs the question turn; an unknown verdict gets a did-you-mean.
        t.answerFirst = nil
        assertThrowsStrataError(try JudgeSource(model: model, tokenizer: self.tokenizer, template: t, checkpoint: "j", sha256: "s")) {
            XCTAssertTrue($0.message.contains("answer_first is not set"), "\($0)")
        }
        assertThrowsStrataError(try JSONDecoder().decode(JudgeTemplate.self, from: Data(#"{"verdict": "likelihod"}"#.utf8))) {
            XCTAssertTrue($0.fix?.contains("did you mean 'likelihood'") == true, "\($0)")
        }
    }

    func testAgreementCountsPairsWhoseChosenReplyTheJudgePrefers() throws {
        let judge = try JudgeSource(model: RLTestModels.model(tokenizer, seed: 9, positions: 320), tokenizer: tokenizer, template: asked,
                                    checkpoint: "j", sha256: "s", questions: .both)
        let pairs = [("Town1", "Town2", "before"), ("7", "8", "after"), ("Paris", "hello world", "before")].map {
            PreferencePair.chat("Where was Person1 born?", chosen: $0.0, rejected: $0.1, type: $0.2)
        }
        let m = try JudgeAgreement.margins(judge: judge, pairs: pairs)
        let prompts = pairs.map { PromptRecord.chat($0.prompt) }
        let items = { (r: [String]) in zip(prompts, r).map { RewardItem(prompt: $0, reply: $1, replyTokens: 0, finish: .endOfTurn) } }
        let chosen = try judge.score(items(["Town1", "7", "Paris"])), rejected = try judge.score(items(["Town2", "8", "hello world"]))
        for i in 0..<3 { XCTAssertEqual(m.single[i], chosen[i] - rejected[i], accuracy: 1e-9) }
        XCTAssertEqual(m.pair, try judge.preference(prompts: prompts, first: ["Town1", "7", "Paris"], second: ["Town2", "8", "hello world"]))
        let rows = JudgeAgreement.rows(JudgeAgreement.Margins(single: [1, -1, 0.5], pair: [-0.2, 0.3, 0]), groups: ["before", "after", "before"])
        XCTAssertEqual(rows.map(\.group), ["before", "after", "all"])
        XCTAssertEqual(rows.map(\.pairs), [2, 1, 3])
        XCTAssertEqual(rows.map(\.single), [1, 0, 2.0 / 3])
        XCTAssertEqual(rows.map(\.pair), [0, 1, 1.0 / 3])   // a margin of exactly 0 is not agreement
    }
}
