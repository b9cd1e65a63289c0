// An AI judge: another chat checkpoint asked, through a `JudgeTemplate`,
// whether a reply is correct/helpful/harmless, or which of two replies is
// better. The score is read from the judge's next-token distribution right
// after the assistant generation prompt — P(yes) − P(no), or P(A) − P(B) —
// never from generated text. Construction refuses answer words that are not
// single tokens of the judge's tokenizer. Pairs are asked in both orders and
// averaged, so the judge's liking for a position cancels. With a template that
// answers first, the judge first answers each distinct prompt itself (greedy,
// KV cache, batched) and is then asked about the reply after its own answer.
// With verdict `likelihood` the score is instead the mean log-probability of the
// reply's tokens (and its end-of-turn marker) as the judge's answer to the
// question, and a pair's preference 2σ(ℓ_first − ℓ_second) − 1.
// Leaves out: loading the checkpoint (callers pass model, tokenizer, identity),
// sampled or multi-step rationales, calibration.

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
    let tokenizer: BPETokenizer
    let chatTemplate: ChatTemplate
    let batchRows: Int
    /// The judge's own answers so far, by prompt text (answer first): the judge is frozen and answers greedily, so a
    /// prompt asked again — the other reply of a pair, the next PPO epoch — reuses its answer instead of generating it.
    private var answered: [String: String] = [:]
    /// Token ids of the answer words yes, no, a, b (-1 for words of questions this judge is not asked).
    let yes: Int, no: Int, a: Int, b: Int

    /// Throws when the template is invalid, the tokenizer lacks the chat tokens, or an answer word of the `questions`
    /// asked is not one token.
    public init(model: any CausalLM, tokenizer: BPETokenizer, template: JudgeTemplate = .standard, checkpoint: String, sha256: String,
                name: String = "judge", questions: Questions = .single, chatTemplate: ChatTemplate = .chatML, batchRows: Int = 16) throws {
        try template.validate()
        guard batchRows >= 1 else { throw StrataError.config("judge", "batch rows is \(batchRows)", fix: "give at least 1") }
        chat = try InstructionEval.chatTokenizer(tokenizer, template: chatTemplate)
        let words = template.verdict == .answerWord
        let single = words && questions != .pair, pair = words && questions != .single
        let ids = try [("yes", template.yes, single), ("no", template.no, single), ("a", template.a, pair), ("b", template.b, pair)].map {
            $0.2 ? try JudgeSource.singleToken($0.1, field: $0.0, tokenizer: tokenizer, vocab: model.vocabSize) : -1
        }
        (yes, no, a, b) = (ids[0], ids[1], ids[2], ids[3])
        self.questions = questions; self.tokenizer = tokenizer
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
        if template.verdict == .likelihood { return try replyLikelihoods(items.map(\.prompt), items.map(\.reply)) }
        let own = try ownAnswers(items.map(\.prompt))
        let chats = items.indices.map { template.singleMessages(prompt: items[$0].prompt, reply: items[$0].reply, ownAnswer: own?[$0]) }
        return try nextTokenProbabilities(chats, tokens: [yes, no], what: "reply").map { $0[0] - $0[1] }
    }

    /// Per pair, the judge's preference for the first reply in [-1, 1]: ½[(P(A) − P(B)) asked as (first, second)
    /// − (P(A) − P(B)) asked as (second, first)]. Positive means the first reply is preferred.
    public func preference(prompts: [PromptRecord], first: [String], second: [String]) throws -> [Double] {
        guard prompts.count == first.count, first.count == second.count else {
            throw StrataError.shape("judge preference", "\(prompts.count) prompts, \(first.count) first and \(second.count) second replies",
                                    fix: "give one prompt and two replies per pair")
        }
        try require(.pair, "compare pairs of replies")
        if template.verdict == .likelihood {
            let l1 = try replyLikelihoods(prompts, first), l2 = try replyLikelihoods(prompts, second)
            return zip(l1, l2).map { 2 / (1 + exp($1 - $0)) - 1 }
        }
        let own = try ownAnswers(prompts)
        let ab = prompts.indices.map { template.pairMessages(prompt: prompts[$0], replyA: first[$0], replyB: second[$0], ownAnswer: own?[$0]) }
        let ba = prompts.indices.map { template.pairMessages(prompt: prompts[$0], replyA: second[$0], replyB: first[$0], ownAnswer: own?[$0]) }
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

    /// The judge's own greedy answer to each prompt when the template answers first, else nil. Each distinct prompt is
    /// answered once for the judge's lifetime (see `answered`), new ones in batches of `batchRows`.
    public func ownAnswers(_ prompts: [PromptRecord]) throws -> [String]? {
        guard template.answerFirst != nil else { return nil }
        var seen = Set<String>(), distinct: [PromptRecord] = []
        for p in prompts where answered[JudgeTemplate.promptText(p)] == nil && seen.insert(JudgeTemplate.promptText(p)).inserted {
            distinct.append(p)
        }
        let seqs = try distinct.enumerated().map { i, p in
            try judgingTokens(template.answerMessages(prompt: p)!, what: "own answer \(i)", room: template.answerTokens)
        }
        var stop = tokenizer.eosID.map { [Int32($0)] } ?? []
        if let end = chat.specialID(chatTemplate.messageEnd) { stop.append(Int32(end)) }
        let sampling = SamplingConfig(maxNewTokens: template.answerTokens, temperature: 0, stopTokens: stop)
        for start in stride(from: 0, to: seqs.count, by: batchRows) {
            let end = min(seqs.count, start + batchRows)
            for (p, c) in zip(distinct[start..<end], model.generate(prompts: Array(seqs[start..<end]), sampling: sampling)) {
                answered[JudgeTemplate.promptText(p)] = tokenizer.decode(c.tokens.map(Int.init)).trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
        return prompts.map { answered[JudgeTemplate.promptText($0)]! }
    }

    /// Per pair, whether every chat this judge would be asked about it fits its context: the single-reply questions
    /// and the pair asked both ways (after the judge's own answer, which this generates and keeps, when the template
    /// answers first), or with verdict `likelihood` the question with each reply. A caller measuring agreement over a
    /// fixed set leaves out (and counts) the pairs that do not fit, instead of failing on the first.
    public func fits(prompts: [PromptRecord], first: [String], second: [String]) throws -> [Bool] {
        guard prompts.count == first.count, first.count == second.count else {
            throw StrataError.shape("judge fits", "\(prompts.count) prompts, \(first.count) first and \(second.count) second replies",
                                    fix: "give one prompt and two replies per pair")
        }
        func length(_ chat: [ChatMessage]) throws -> Int { try promptTokens(chat).count }
        if template.verdict == .likelihood {   // the question, then the reply and its end-of-turn marker
            let end = try endOfTurn()
            return try prompts.indices.map { i in
                let asked = try length(template.answerMessages(prompt: prompts[i])!)
                return [first[i], second[i]].allSatisfy { fitsContext(asked + answerTokens($0, end: end).count) }
            }
        }
        let own = try ownAnswers(prompts)
        return try prompts.indices.map { i in
            let (p, a, b, o) = (prompts[i], first[i], second[i], own?[i])
            var chats: [[ChatMessage]] = []
            if questions != .pair { chats += [a, b].map { template.singleMessages(prompt: p, reply: $0, ownAnswer: o) } }
            if questions != .single {
                chats += [template.pairMessages(prompt: p, replyA: a, replyB: b, ownAnswer: o),
                          template.pairMessages(prompt: p, replyA: b, replyB: a, ownAnswer: o)]
            }
            return try chats.allSatisfy { fitsContext(try length($0)) }
        }
    }

    /// Per reply, the mean log-probability of its tokens and the end-of-turn marker as the judge's answer to the
    /// answer-first question (verdict `likelihood`), in no-grad passes of at most `batchRows` rows.
    func replyLikelihoods(_ prompts: [PromptRecord], _ replies: [String]) throws -> [Double] {
        let end = try endOfTurn()
        let asked = try prompts.enumerated().map { i, p in try judgingTokens(template.answerMessages(prompt: p)!, what: "question \(i)") }
        let answers = replies.map { answerTokens($0, end: end) }
        var out: [Double] = []
        for start in stride(from: 0, to: asked.count, by: batchRows) {
            let range = start..<min(asked.count, start + batchRows)
            let batch = try ResponseBatch(prompts: Array(asked[range]), responses: Array(answers[range]), padId: 0)
            try batch.validate(vocabSize: model.vocabSize, maxTime: model.contextLength)
            let tape = Tape.noGrad()
            let lp = tape.tokenLogProbs(model.logits(model.hidden(batch.ids, batch: batch.rows, time: batch.time, tape: tape), tape: tape),
                                        batch.targets)                                             // [R·T], 0 off the replies
            for (r, i) in range.enumerated() {
                let first = r * batch.time + asked[i].count - 1
                out.append((0..<answers[i].count).reduce(0.0) { $0 + Double(lp.ptr[first + $1]) } / Double(answers[i].count))
            }
        }
        return out
    }

    /// A judging chat as prompt tokens ending in the assistant generation prompt; throws when it leaves fewer than
    /// `room` positions of the judge's context.
    private func judgingTokens(_ chat: [ChatMessage], what: String, room: Int = 0) throws -> [Int32] {
        let limit = model.contextLength
        let ids = try promptTokens(chat)
        guard fitsContext(ids.count, room: room) else {
            throw StrataError.data("judge \(identity.name), \(what)",
                                   "the judging prompt is \(ids.count) tokens\(room > 0 ? " + \(room) to answer" : ""); the judge's n_positions is \(limit)",
                                   fix: "shorten the template or the replies (lower max_new_tokens\(room > 0 ? " or answer_tokens" : ""))")
        }
        return ids
    }

    /// A judging chat as prompt tokens ending in the assistant generation prompt, unchecked.
    private func promptTokens(_ chat: [ChatMessage]) throws -> [Int32] { try chatTemplate.promptTokens(chat, self.chat).map(Int32.init) }

    /// Whether `tokens` (and `room` more to generate) fit the judge's context: the one rule `fits` and the judging passes share.
    private func fitsContext(_ tokens: Int, room: Int = 0) -> Bool { tokens + room <= model.contextLength }

    /// A reply scored as the judge's own answer (verdict `likelihood`): its tokens and the end-of-turn marker.
    private func answerTokens(_ reply: String, end: Int32) -> [Int32] { tokenizer.encode(reply).map(Int32.init) + [end] }

    /// The chat template's end-of-turn token in the judge's vocabulary.
    private func endOfTurn() throws -> Int32 {
        guard let end = chat.specialID(chatTemplate.messageEnd) else {
            throw StrataError.config("judge \(identity.name)", "the tokenizer has no \(chatTemplate.messageEnd) token",
                                     fix: "use a chat checkpoint (strata sft adds the template's tokens)")
        }
        return Int32(end)
    }

    /// For each chat, the probabilities of `tokens` as the first token of the judge's reply.
    func nextTokenProbabilities(_ chats: [[ChatMessage]], tokens: [Int], what: String) throws -> [[Double]] {
        let seqs = try chats.enumerated().map { i, m in try judgingTokens(m, what: "\(what) \(i)") }
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
