// The synthetic world's judging data, for RL from AI feedback: conversations
// that teach a chat model to judge whether a reply to a fact question is
// correct (world/judge_train.jsonl, TRL "messages" JSONL that `strata sft`
// trains on with recipes/judge-world.yaml), the judging template those
// conversations use (world/judge_template.json, the file a judge reward entry
// or `strata judge --template` names), and the held-out pairs a judge's
// agreement with the truth is measured on (world/judge_test.jsonl).
// The judge answers first: each conversation asks the fact question, the judge
// answers it with the right reply sentence, then it is asked about a reply (the
// right value → A, a wrong value → B) or a pair in a seeded order. The world's
// small tokenizer has no one-token "Yes"/"No", so the answer words are "A" and "B".
// Training conversations come from the QA train split — every period, since a
// judge is meant to know what the policy's reward model does not. Replies are
// written as the policy's SFT replies are: the reply sentence restating the
// subject, then the value ("Ilse Marno was born in Nitrustad."), the words the
// value followed in pretraining. The template's verdict is `likelihood` (the
// reply's mean log-probability as the judge's own answer): the A/B verdict, read
// from the same judge, stays near chance on held-out facts at this model size
// (docs/rl.md, "RLAIF"). Agreement pairs come from the test split only: the right
// value against each wrong value the world holds for the question.
// Leaves out: judging hedges, refusals or harmful requests (the reward model
// already separates those: docs/rl.md), and free-text judging.

import Foundation
import StrataCore
import StrataData
import StrataRL

public enum WorldJudgeData {
    public static let fileName = "judge_train.jsonl"
    /// The held-out agreement pairs as TRL preference JSONL (chosen = the right reply, "type" = the fact's period),
    /// for `strata judge --judge J --pairs world/judge_test.jsonl`.
    public static let testFileName = "judge_test.jsonl"
    public static let templateFileName = "judge_template.json"

    /// The judging template of the world's judge: the question first (the judge's own answer), then the reply or
    /// pair; short enough for a 128-token context, answer words one token each; scored by likelihood (see above).
    public static let template = JudgeTemplate(
        system: nil,
        single: "Reply: {reply}\nCorrect? A for yes, B for no.",
        pair: "A: {reply_a}\nB: {reply_b}\nA or B?",
        principles: [], yes: "A", no: "B", a: "A", b: "B", answerFirst: "{prompt}", answerTokens: 24,
        verdict: .likelihood)

    /// One held-out judging case: a question, its right and one wrong reply sentence, and the fact's period.
    public struct AgreementPair: Sendable, Equatable {
        public var question: String
        public var right: String
        public var wrong: String
        public var period: String
    }

    /// Write judge_train.jsonl and judge_template.json into `directory`; returns (file name, conversations).
    @discardableResult
    public static func write(qa: [SyntheticWorld.QAPair], seed: UInt64, to directory: URL) throws -> (file: String, conversations: Int) {
        let chats = conversations(qa: qa, seed: seed)
        guard !chats.isEmpty else {
            throw StrataError.data("write \(fileName)", "the QA pairs have no train split", fix: "generate the world with strata data synth")
        }
        let lines = try chats.map { chat -> String in
            let obj: [String: [[String: String]]] = ["messages": chat.map { ["role": $0.role.rawValue, "content": $0.content] }]
            return String(decoding: try StrataJSON.encode(obj, pretty: false), as: UTF8.self)
        }
        let url = directory.appendingPathComponent(fileName)
        do {
            try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
            try StrataJSON.encode(template).write(to: directory.appendingPathComponent(templateFileName), options: .atomic)
        } catch {
            throw StrataError.io("write \(url.path)", "\(error)", fix: "check that \(directory.path) exists and is writable")
        }
        let test = agreementPairs(qa: qa).map { PreferencePair.chat($0.question, chosen: $0.right, rejected: $0.wrong, type: $0.period) }
        if !test.isEmpty { try PreferenceDataset.write(test, to: directory.appendingPathComponent(testFileName)) }
        return (fileName, chats.count)
    }

    /// The judging conversations of the train split: per fact, the right and a wrong reply asked singly, and the pair
    /// in a seeded order; each conversation ends with the judge's one-word answer.
    static func conversations(qa: [SyntheticWorld.QAPair], seed: UInt64) -> [[ChatMessage]] {
        var rng = StrataRNG(seed: seed ^ 0x1D6E_7A11_0000)
        var out: [[ChatMessage]] = []
        for q in qa where q.split == "train" && q.answer != q.wrongAnswer {
            let prompt = PromptRecord.chat([ChatMessage(.user, q.question)])
            let right = q.reply(answering: q.answer), wrong = q.reply(answering: q.wrongAnswer)
            out.append(template.singleMessages(prompt: prompt, reply: right, ownAnswer: right) + [ChatMessage(.assistant, template.yes)])
            out.append(template.singleMessages(prompt: prompt, reply: wrong, ownAnswer: right) + [ChatMessage(.assistant, template.no)])
            let rightFirst = rng.next() & 1 == 0
            out.append(template.pairMessages(prompt: prompt, replyA: rightFirst ? right : wrong, replyB: rightFirst ? wrong : right, ownAnswer: right)
                       + [ChatMessage(.assistant, rightFirst ? template.a : template.b)])
        }
        rng.shuffle(&out)
        return out
    }

    /// Held-out cases: every test-split question, its right answer against its wrong answer and each distractor.
    public static func agreementPairs(qa: [SyntheticWorld.QAPair]) -> [AgreementPair] {
        qa.filter { $0.split == "test" }.flatMap { q in
            Array(Set([q.wrongAnswer] + q.distractors)).sorted().filter { $0 != q.answer }
                .map { AgreementPair(question: q.question, right: q.reply(answering: q.answer), wrong: q.reply(answering: $0),
                                     period: q.period) }
        }
    }
}
