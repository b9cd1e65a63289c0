// Knowledge through the chat template: the ranking counts held-out questions,
// scores a reply as its sentence (subject restated, then the answer) plus the
// end-of-message token, and finds facts a model was taught (every taught answer ranked first).

import XCTest
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataTokenizer
@testable import StrataEval

final class ChatKnowledgeTests: XCTestCase {
    func testRanksTaughtAnswersFirst() throws {
        let qa = try instructionQA(24)
        let test = qa.filter { $0.split == "test" }
        let docs = qa.map { "\($0.question) \($0.answer) Elsewhere Nowhere" }
        let tok = try BPETokenizer.train(texts: docs, config: BPETrainer.Config(
            vocabSize: 300, specialTokens: ["<|endoftext|>"] + ChatTemplate.chatML.specialTokens))
        let model = GPT2(GPT2Config(vocabSize: tok.vocabSize, nPositions: 64, nEmbd: 32, nLayer: 1, nHead: 2), seed: 3)
        let before = try ChatKnowledge.evaluate(model: model, tokenizer: tok, qa: qa, limit: 100)
        XCTAssertEqual(before["chat_rank_count"], Double(test.count))
        XCTAssertNotNil(before["chat_rank_acc.before"])
        XCTAssertLessThan(before["chat_rank_acc"]!, 1.0, "an untrained model does not already know them all")
        // A reply's score is the sum of log-probs of its sentence's tokens and <|im_end|> after the prompt.
        let chat = try InstructionEval.chatTokenizer(tok)
        let prompt = try ChatTemplate.chatML.promptTokens([ChatMessage(.user, test[0].question)], chat).map { Int32($0) }
        XCTAssertNotEqual(test[0].reply(answering: test[0].answer), test[0].answer, "the world's replies are sentences")
        let reply = tok.encode(test[0].reply(answering: test[0].answer)).map(Int32.init) + [Int32(chat.specialID("<|im_end|>")!)]
        let s = try ChatKnowledge.scores(model: model, prompt: prompt, responses: [reply], pad: 0, batch: 4)
        let seq = prompt + reply, tape = Tape.noGrad()
        let lp = tape.tokenLogProbs(model.logits(model.hidden(Array(seq.dropLast()), batch: 1, time: seq.count - 1, tape: tape), tape: tape),
                                    Array(seq.dropFirst()))
        let manual = (prompt.count - 1..<seq.count - 1).reduce(Float(0)) { $0 + lp.ptr[$1] }
        XCTAssertEqual(s[0], manual, accuracy: 1e-4)
        // Teach the test questions' answers in chat form; each is then ranked above its distractors.
        let samples = try test.map { try ChatTemplate.chatML.render(.chat([ChatMessage(.user, $0.question), ChatMessage(.assistant, $0.sentenceAnswer)]), chat) }
        let rows = try SFTPacker.arrange(samples, rowLength: 64, mode: .pad, padID: 0).rows
        let opt = AdamW(model.parameters, config: .init(lr: 1e-2, weightDecay: 0))
        for step in 0..<60 {
            let t = Tape(seed: UInt64(step))
            let loss = model.loss(rows.flatMap(\.ids), targets: rows.flatMap(\.targets), batch: rows.count, time: 64, tape: t)
            t.backward(loss, seed: 1)
            opt.update(lr: 1e-2)
            model.zeroGrad()
        }
        let after = try ChatKnowledge.evaluate(model: model, tokenizer: tok, qa: qa, limit: 100)
        XCTAssertEqual(after["chat_rank_acc"], 1.0, "\(before) → \(after)")
    }
}
