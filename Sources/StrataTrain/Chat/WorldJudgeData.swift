// The synthetic world's judging data, for RL from AI feedback: conversations
// that teach a chat model to judge whether a reply to a fact question is
// correct (world/judge_train.jsonl, TRL "messages" JSONL that `strata sft`
// trains on with recipes/judge-world.yaml), the judging template those
// conversations use (world/judge_template.json, the file a judge reward entry
// or `strata judge --template` names), and the held-out pairs a judge's
// agreement with the truth is measured on.
// The world's small tokenizer has no one-token "Yes"/"No", so the template's
// answer words are "A" (yes / the first reply) and "B" (no / the second reply).
// Training conversations come from the QA train split — every period, since a
// judge is meant to know what the policy's reward model does not — each fact
// asked once as a single reply (the right value → A, a wrong value → B) and once
// as a pair in a seeded order. Replies are written as the policy's SFT replies
// are: the reply sentence restating the subject, then the value ("Ilse Marno
// was born in Nitrustad."), so the value follows the words it followed in
// pretraining and the judge can consult what its base model stored (a bare
// value at a reply's start is a different token: docs/demo.md §3). Agreement
// pairs come from the test split only: the right value against each wrong
// value the world holds for the question, in the same sentence.
// Leaves out: judging hedges, refusals or harmful requests (the reward model
// already separates those: docs/rl.md), and free-text judging.

import Foundation
import StrataCore
import StrataData
import StrataRL

public enum WorldJudgeData {
    public static let fileName = "judge_train.jsonl"
    public static let templateFileName = "judge_template.json"

    /// The judging template of the world's judge: short enough for a 128-token context, answer words one token each.
    public static let template = JudgeTemplate(
        system: nil,
        single: "Question: {prompt}\nReply: {reply}\nIs the reply correct? Answer A for yes or B for no.",
        pair: "Question: {prompt}\nReply A: {reply_a}\nReply B: {reply_b}\nWhich reply is correct? Answer A or B.",
        principles: [], yes: "A", no: "B", a: "A", b: "B")

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
            out.append(template.singleMessages(prompt: prompt, reply: right) + [ChatMessage(.assistant, template.yes)])
            out.append(template.singleMessages(prompt: prompt, reply: wrong) + [ChatMessage(.assistant, template.no)])
            let rightFirst = rng.next() & 1 == 0
            out.append(template.pairMessages(prompt: prompt, replyA: rightFirst ? right : wrong, replyB: rightFirst ? wrong : right)
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
