// Reward sources backed by models, on tiny random checkpoints: the reward-model
// source reads the same sequence `strata score` reads; the AI judge's score is
// P(yes) − P(no) of its first reply token, pairs are judged in both orders,
// templates with unknown placeholders or multi-token answer words are refused;
// and RLAIF labelling keeps the reply the judge prefers as "chosen".

import Foundation
import XCTest
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataTokenizer
@testable import StrataRL
import StrataTestSupport

final class ModelRewardTests: XCTestCase {
    var tokenizer: BPETokenizer!

    override func setUpWithError() throws { tokenizer = try RLTestModels.tokenizer() }

    let prompt = PromptRecord.chat([ChatMessage(.user, "Where was Person1 born?")], columns: ["answer": .string("Town1")])

    /// Token ids of the chat text rendered whole and encoded with special tokens (independent of piecewise rendering).
    func wholeText(_ messages: [ChatMessage], generationPrompt: Bool) -> [Int32] {
        var text = ChatTemplate.chatML.render(text: messages, addGenerationPrompt: generationPrompt)
        // A whole conversation keeps the template's newline after the final <|im_end|>: TRL tokenises it and the
        // reward is read there (the rightmost non-pad token), the rule RewardModel and strata score follow.
        return tokenizer.encode(text, allowSpecial: true).map(Int32.init)
    }

    func testRewardModelSourceScoresTheRenderedConversationAsTRLTokenisesIt() throws {
        let rm = RewardModel(trunk: RLTestModels.model(tokenizer, seed: 5), padTokenId: tokenizer.eosID!, head: .normal(seed: 2))
        let source = try RewardModelSource(model: rm, tokenizer: tokenizer, checkpoint: "rm/10", sha256: "abc", batchRows: 2)
        let replies = ["Town1", "I think it was Town2, but I am not sure.", "No"]
        let scores = try source.score(replies.map { RewardItem(prompt: prompt, reply: $0, replyTokens: 1, finish: .endOfTurn) })
        for (reply, score) in zip(replies, scores) {
            let ids = wholeText(prompt.messages + [ChatMessage(.assistant, reply)], generationPrompt: false)
            let alone = try rm.rewards(ids, rows: 1, time: ids.count, tape: .noGrad())
            XCTAssertEqual(score, Double(alone.ptr[0]), accuracy: 1e-5)
        }
        XCTAssertEqual(source.identity, RewardSourceIdentity(kind: .rewardModel, name: "reward_model", checkpoint: "rm/10", sha256: "abc",
                                                             parameters: ["template": "chatml"]))
    }

    func testJudgeScoreIsProbabilityOfYesMinusNoForItsFirstReplyToken() throws {
        let judgeModel = RLTestModels.model(tokenizer, seed: 8, positions: 320)
        let judge = try JudgeSource(model: judgeModel, tokenizer: tokenizer, checkpoint: "judge/5", sha256: "def")
        let items = ["Town1", "Town2"].map { RewardItem(prompt: prompt, reply: $0, replyTokens: 1, finish: .endOfTurn) }
        let scores = try judge.score(items)
        let yes = tokenizer.encode("Yes")[0], no = tokenizer.encode("No")[0], v = judgeModel.config.vocabSize
        for (item, score) in zip(items, scores) {
            let ids = wholeText(JudgeTemplate.standard.singleMessages(prompt: prompt, reply: item.reply), generationPrompt: true)
            let tape = Tape.noGrad()
            let logits = judgeModel.logits(judgeModel.hidden(ids, batch: 1, time: ids.count, tape: tape), tape: tape).toArray()
            let last = logits[((ids.count - 1) * v)...].map(Double.init)
            let m = last.max()!, z = last.reduce(0) { $0 + exp($1 - m) }
            XCTAssertEqual(score, (exp(last[yes] - m) - exp(last[no] - m)) / z, accuracy: 1e-6)
            XCTAssertTrue(abs(score) <= 1)
        }
        XCTAssertEqual(judge.identity.kind, .judge)
        XCTAssertEqual(judge.identity.checkpoint, "judge/5")
        XCTAssertNotNil(judge.identity.parameters["template_sha256"])
    }

    func testPairJudgementIsAntisymmetricInTheOrderOfTheReplies() throws {
        let judge = try JudgeSource(model: RLTestModels.model(tokenizer, seed: 9, positions: 320), tokenizer: tokenizer, checkpoint: "j", sha256: "s",
                                    questions: .pair)
        let x = ["Town1", "Paris", "7"], y = ["Town2", "hello world", "8"]
        let prompts = Array(repeating: prompt, count: 3)
        let xy = try judge.preference(prompts: prompts, first: x, second: y)
        let yx = try judge.preference(prompts: prompts, first: y, second: x)
        for (a, b) in zip(xy, yx) { XCTAssertEqual(a, -b, accuracy: 1e-6) }
        XCTAssertTrue(xy.contains { $0 != 0 })
        assertThrowsStrataError(try judge.preference(prompts: prompts, first: x, second: [])) { XCTAssertTrue($0.message.contains("0 second"), "\($0)") }
    }

    /// The three ways a judge is asked: A/B after the question, A/B after its own answer, the reply's likelihood as its answer.
    static var fitTemplates: [JudgeTemplate] {
        var answerFirst = JudgeTemplate.standard
        answerFirst.answerFirst = "{prompt}"
        var likelihood = answerFirst
        likelihood.verdict = .likelihood
        return [.standard, answerFirst, likelihood]
    }

    func fitJudge(_ template: JudgeTemplate, positions: Int) throws -> JudgeSource {
        try JudgeSource(model: RLTestModels.model(tokenizer, seed: 9, positions: positions), tokenizer: tokenizer, template: template,
                        checkpoint: "j", sha256: "s", questions: .both)
    }

    func testFitsMarksExactlyThePairsWhoseJudgingChatsExceedTheJudgesContext() throws {
        let long = Array(repeating: "hello world", count: 1000).joined(separator: " ")
        let prompts = [prompt, prompt], first = ["Town1", "Paris"], second = ["Town2", long]
        for template in Self.fitTemplates {
            let judge = try fitJudge(template, positions: 1024)
            XCTAssertEqual(try judge.fits(prompts: prompts, first: first, second: second), [true, false], "\(template.verdict)")
            // What fits is judged; what does not is the error fits() spares a caller.
            XCTAssertNoThrow(try judge.preference(prompts: [prompt], first: ["Town1"], second: ["Town2"]))
            XCTAssertThrowsError(try judge.preference(prompts: [prompt], first: ["Paris"], second: [long]))
        }
    }

    func testFitsAgreesWithWhetherJudgingThrowsAsRepliesGrowPastTheContext() throws {
        for template in Self.fitTemplates {
            let judge = try fitJudge(template, positions: 512)
            var sawFit = false, sawMiss = false
            for words in stride(from: 2, through: 600, by: 4) {
                let reply = Array(repeating: "hello world", count: words).joined(separator: " ")
                let fits = try judge.fits(prompts: [prompt], first: ["Town1"], second: [reply])[0]
                let judged = (try? judge.preference(prompts: [prompt], first: ["Town1"], second: [reply])) != nil
                XCTAssertEqual(fits, judged, "\(template.verdict), answer first \(template.answerFirst != nil), \(words) words")
                if fits { sawFit = true } else { sawMiss = true }
            }
            XCTAssertTrue(sawFit && sawMiss, "the lengths cross the judge's 512 positions (\(template.verdict))")
        }
    }

    func testJudgeTemplatesWithMultiTokenAnswersOrUnknownPlaceholdersAreRefused() throws {
        let model = RLTestModels.model(tokenizer, seed: 1, positions: 320)
        var t = JudgeTemplate.standard
        t.yes = "Absolutely"
        assertThrowsStrataError(try JudgeSource(model: model, tokenizer: self.tokenizer, template: t, checkpoint: "j", sha256: "s")) { e in
            XCTAssertTrue(e.message.contains("answer word 'yes' = \"Absolutely\""), "\(e)")
            XCTAssertTrue(e.message.contains("tokens"), "\(e)")
        }
        // Only the answer words of the questions asked must be single tokens.
        let pairOnly = try JudgeSource(model: model, tokenizer: tokenizer, template: t, checkpoint: "j", sha256: "s", questions: .pair)
        assertThrowsStrataError(try pairOnly.score([RewardItem(prompt: self.prompt, reply: "x", replyTokens: 1, finish: .endOfTurn)])) {
            XCTAssertTrue($0.message.contains("built for questions: pair"), "\($0)")
        }
        t = .standard
        t.single = "Question: {promt}\nReply: {reply}"
        assertThrowsStrataError(try JudgeSource(model: model, tokenizer: self.tokenizer, template: t, checkpoint: "j", sha256: "s")) { e in
            XCTAssertTrue(e.message.contains("unknown placeholder {promt}"), "\(e)")
            XCTAssertTrue(e.fix?.contains("did you mean {prompt}") == true, "\(e)")
        }
        t = .standard
        t.pair = "Reply A: {reply_a}"
        assertThrowsStrataError(try JudgeSource(model: model, tokenizer: self.tokenizer, template: t, checkpoint: "j", sha256: "s")) {
            XCTAssertTrue($0.message.contains("lacks the placeholder {reply_b}"), "\($0)")
        }
    }

    func testJudgeTemplateOverridesKeepTheStandardFieldsTheyLeaveOut() throws {
        let t = try JSONDecoder().decode(JudgeTemplate.self, from: Data(#"{"principles": ["Be exact."], "yes": "Y"}"#.utf8))
        XCTAssertEqual(t.principles, ["Be exact."])
        XCTAssertEqual(t.yes, "Y")
        XCTAssertEqual(t.single, JudgeTemplate.standard.single)
        XCTAssertTrue(t.singleMessages(prompt: prompt, reply: "Town1")[0].content.contains("- Be exact."))
        assertThrowsStrataError(try JSONDecoder().decode(JudgeTemplate.self, from: Data(#"{"principle": []}"#.utf8))) {
            XCTAssertTrue($0.fix?.contains("did you mean 'principles'") == true, "\($0)")
        }
    }

    func testLabellingKeepsTheReplyTheJudgePrefersAsChosen() throws {
        let policy = RLTestModels.model(tokenizer, seed: 3)
        let engine = try RolloutEngine(model: policy, tokenizer: tokenizer, config: RolloutConfig(maxNewTokens: 5, temperature: 1, seed: 4))
        let judge = try JudgeSource(model: RLTestModels.model(tokenizer, seed: 8, positions: 320), tokenizer: tokenizer, checkpoint: "j", sha256: "s",
                                    questions: .pair)
        let prompts = [prompt, .chat([ChatMessage(.user, "Add 3 and 4.")], columns: ["kind": .string("add")]), .plain("hello world")]
        let result = try JudgeLabeling.label(prompts: prompts, engine: engine, judge: judge)
        XCTAssertEqual(result.pairs.count + result.droppedIdentical + result.droppedTies, prompts.count)
        XCTAssertFalse(result.pairs.isEmpty)
        for (pair, margin) in zip(result.pairs, result.margins) {
            XCTAssertNil(pair.problem())
            let p = prompts.first { $0.messages == pair.prompt }!
            let pref = try judge.preference(prompts: [p], first: [pair.chosen[0].content], second: [pair.rejected[0].content])[0]
            XCTAssertGreaterThan(pref, 0)
            XCTAssertEqual(pref, margin, accuracy: 1e-6)
        }
        let rollouts = try engine.sample(prompts, step: 1, samplesPerPrompt: 2)
        let items = try RewardItem.items(prompts: prompts, rollouts: rollouts)
        XCTAssertEqual(items.map(\.prompt), [prompts[0], prompts[0], prompts[1], prompts[1], prompts[2], prompts[2]])
        XCTAssertEqual(items.map(\.reply), rollouts.map(\.text))
        assertThrowsStrataError(try RewardItem.items(prompts: [self.prompt], rollouts: rollouts)) { XCTAssertTrue($0.message.contains("prompt index 1"), "\($0)") }
        XCTAssertEqual(JudgeLabeling.sidecarURL(for: URL(fileURLWithPath: "/tmp/x/pairs.jsonl")).path, "/tmp/x/pairs.judge.json")
        assertThrowsStrataError(try JudgeLabeling.label(prompts: prompts, engine: engine, judge: judge, minMargin: 1)) {
            XCTAssertTrue($0.message.contains("min margin"), "\($0)")
        }
    }
}
