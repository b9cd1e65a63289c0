// An AI judge: another chat checkpoint asked, through a `JudgeTemplate`,
// whether a reply is correct/helpful/harmless, or which of two replies is
// better. The score is read from the judge's next-token distribution right
// after the assistant generation prompt — P(yes) − P(no), or P(A) − P(B) —
// never from generated text. Construction refuses answer words that are not
// single tokens of the judge's tokenizer. Pairs are asked in both orders and
// averaged, so the judge's liking for a position cancels.
// Leaves out: loading the checkpoint (callers pass model, tokenizer, identity),
// chain-of-thought judging, calibration.

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataTokenizer
import StrataEval

public final class JudgeSource: RewardSource {
    /// Which questions this judge will be asked; only their answer words must be single tokens.
    public enum Questions: String, Codable, Sendable {
        /// `score`: one reply at a time (yes/no).
        case single
        /// `preference`: pairs of replies (a/b).
        case pair
        case both
    }

    public let identity: RewardSourceIdentity
    public let questions: Questions
    public let model: any CausalLM
    public let template: JudgeTemplate
    let chat: ChatTokenizer
    let chatTemplate: ChatTemplate
    let batchRows: Int
    /// Token ids of the answer words yes, no, a, b (-1 for words of questions this judge is not asked).
    let yes: Int, no: Int, a: Int, b: Int

    /// Throws when the template is invalid, the tokenizer lacks the chat tokens, or an answer word of the `questions`
    /// asked is not one token.
    public init(model: any CausalLM, tokenizer: BPETokenizer, template: JudgeTemplate = .standard, checkpoint: String, sha256: String,
                name: String = "judge", questions: Questions = .single, chatTemplate: ChatTemplate = .chatML, batchRows: Int = 16) throws {
        try template.validate()
        guard batchRows >= 1 else { throw StrataError.config("judge", "batch rows is \(batchRows)", fix: "give at least 1") }
        chat = try InstructionEval.chatTokenizer(tokenizer, template: chatTemplate)
        let single = questions != .pair, pair = questions != .single
        let ids = try [("yes", template.yes, single), ("no", template.no, single), ("a", template.a, pair), ("b", template.b, pair)].map {
            $0.2 ? try JudgeSource.singleToken($0.1, field: $0.0, tokenizer: tokenizer, vocab: model.vocabSize) : -1
        }
        (yes, no, a, b) = (ids[0], ids[1], ids[2], ids[3])
        self.questions = questions
        self.model = model; self.template = template; self.chatTemplate = chatTemplate; self.batchRows = batchRows
        let templateJSON = (try? StrataJSON.encode(template, pretty: false)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        identity = RewardSourceIdentity(kind: .judge, name: name, checkpoint: checkpoint, sha256: sha256,
                                        parameters: ["template": templateJSON, "template_sha256": SHA256.hex(templateJSON)])
    }

    static func singleToken(_ word: String, field: String, tokenizer: BPETokenizer, vocab: Int) throws -> Int {
        let ids = tokenizer.encode(word)
        if ids.count == 1, ids[0] < vocab { return ids[0] }
        let variants = [" " + word, word.lowercased(), word.capitalized, word.uppercased()].filter { $0 != word && tokenizer.encode($0).count == 1 }
        throw StrataError.config("judge template", "answer word '\(field)' = \"\(word)\" is \(ids.count) tokens \(ids) of the judge's tokenizer; "
                                 + "the score is read from one next-token distribution",
                                 fix: variants.first.map { "did you mean \"\($0)\" (one token)?" } ?? "choose a word that is a single token of the judge's tokenizer")
    }

    /// P(yes) − P(no) per item.
    public func score(_ items: [RewardItem]) throws -> [Double] {
        try require(.single, "score single replies")
        let probs = try nextTokenProbabilities(items.map { template.singleMessages(prompt: $0.prompt, reply: $0.reply) },
                                               tokens: [yes, no], what: "reply")
        return probs.map { $0[0] - $0[1] }
    }

    /// Per pair, the judge's preference for the first reply in [-1, 1]: ½[(P(A) − P(B)) asked as (first, second)
    /// − (P(A) − P(B)) asked as (second, first)]. Positive means the first reply is preferred.
    public func preference(prompts: [PromptRecord], first: [String], second: [String]) throws -> [Double] {
        guard prompts.count == first.count, first.count == second.count else {
            throw StrataError.shape("judge preference", "\(prompts.count) prompts, \(first.count) first and \(second.count) second replies",
                                    fix: "give one prompt and two replies per pair")
        }
        try require(.pair, "compare pairs of replies")
        let ab = prompts.indices.map { template.pairMessages(prompt: prompts[$0], replyA: first[$0], replyB: second[$0]) }
        let ba = prompts.indices.map { template.pairMessages(prompt: prompts[$0], replyA: second[$0], replyB: first[$0]) }
        let p = try nextTokenProbabilities(ab + ba, tokens: [a, b], what: "pair")
        let n = prompts.count
        return (0..<n).map { 0.5 * ((p[$0][0] - p[$0][1]) - (p[n + $0][0] - p[n + $0][1])) }
    }

    private func require(_ q: Questions, _ what: String) throws {
        guard questions == q || questions == .both else {
            throw StrataError(.state, "judge \(identity.name)", "asked to \(what) but built for questions: \(questions.rawValue)",
                              fix: "construct the JudgeSource with questions: .\(q.rawValue) or .both")
        }
    }

    /// For each chat, the probabilities of `tokens` as the first token of the judge's reply.
    func nextTokenProbabilities(_ chats: [[ChatMessage]], tokens: [Int], what: String) throws -> [[Double]] {
        let limit = model.contextLength
        let seqs = try chats.enumerated().map { i, m -> [Int32] in
            let ids = try chatTemplate.promptTokens(m, chat).map(Int32.init)
            guard ids.count <= limit else {
                throw StrataError.data("judge \(identity.name), \(what) \(i)", "the judging prompt is \(ids.count) tokens; the judge's n_positions is \(limit)",
                                       fix: "shorten the template or the replies (lower max_new_tokens)")
            }
            return ids
        }
        var out: [[Double]] = []
        for start in stride(from: 0, to: seqs.count, by: batchRows) {
            out += lastTokenProbabilities(Array(seqs[start..<min(seqs.count, start + batchRows)]), tokens: tokens)
        }
        return out
    }

    private func lastTokenProbabilities(_ chunk: [[Int32]], tokens: [Int]) -> [[Double]] {
        let t = chunk.map(\.count).max()!, c = model.hiddenSize, v = model.vocabSize
        let ids = chunk.flatMap { $0 + Array(repeating: Int32(0), count: t - $0.count) }
        let tape = Tape.noGrad()
        let h = tape.reshape(model.hidden(ids, batch: chunk.count, time: t, tape: tape), [chunk.count * t, c])
        let logits = model.logits(tape.gatherRows(h, chunk.indices.map { $0 * t + chunk[$0].count - 1 }), tape: tape)   // [R, V]
        return chunk.indices.map { r in
            let row = UnsafeBufferPointer(start: logits.ptr + r * v, count: v)
            let m = Double(row.max()!)
            let z = row.reduce(0.0) { $0 + exp(Double($1) - m) }
            return tokens.map { exp(Double(row[$0]) - m) / z }
        }
    }
}
