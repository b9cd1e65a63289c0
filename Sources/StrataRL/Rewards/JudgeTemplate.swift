// The judging template of an AI judge: how a prompt and a reply (or two replies)
// are put to the judge model as a chat, against stated principles, and which
// answer words it is expected to say first. Placeholders are {prompt},
// {reply} (single replies), {reply_a}/{reply_b} (pairs) and {principles};
// any other {name} is refused with a did-you-mean. A JSON/YAML override may
// give only some fields; the rest keep the standard template's. Checking that the answer
// words are single tokens needs the judge's tokenizer: see JudgeSource.
// Answer first (`answer_first`, optional): the judge is first asked the question
// itself and answers it (greedy, at most `answer_tokens` tokens); the judging
// question follows as a second user turn, so the verdict compares the reply with
// what the judge recalled — the reference-guided judging of Zheng et al. 2023
// ("Judging LLM-as-a-judge", MT-Bench), and the rationale-then-verdict order of
// Lee et al. 2023 (RLAIF). The verdict is still read from one next-token
// distribution, never parsed from the judge's text.
// Verdict (`verdict`): `answer_word` (the default) reads the answer words above;
// `likelihood` asks the judge the question (the `answer_first` turn) and scores a
// reply by the mean log-probability of its tokens, end-of-turn included, as the
// judge's own answer — what the judge knows, read without teaching it to compare.
// Leaves out: few-shot examples and free-form judging dialogues.

import Foundation
import StrataCore
import StrataData

public struct JudgeTemplate: Codable, Equatable, Sendable {
    /// How the judge's verdict is read.
    public enum Verdict: String, Codable, Sendable, CaseIterable {
        /// P(yes) − P(no) for one reply, P(a) − P(b) for a pair, from the first reply token.
        case answerWord = "answer_word"
        /// Mean log-probability of the reply's tokens as the judge's answer to the `answer_first` question;
        /// pairs: 2σ(ℓ_a − ℓ_b) − 1.
        case likelihood
    }

    /// System message (may hold {principles}); nil sends none.
    public var system: String?
    /// User message asking about one reply: must hold {reply}; may hold {prompt} and {principles}.
    public var single: String
    /// User message comparing two replies: must hold {reply_a} and {reply_b}; may hold {prompt} and {principles}.
    public var pair: String
    /// What the judge weighs replies against, joined one per line into {principles}.
    public var principles: [String]
    /// Answer words: score = P(yes) − P(no) for one reply, P(a) − P(b) for a pair.
    public var yes: String
    public var no: String
    public var a: String
    public var b: String
    /// User message asking the judge to answer the prompt itself before it judges (must hold {prompt}); nil: judge directly.
    public var answerFirst: String?
    /// Most tokens of the judge's own answer (answer first only).
    public var answerTokens: Int
    public var verdict: Verdict

    enum CodingKeys: String, CodingKey {
        case system, single, pair, principles, yes, no, a, b, answerFirst = "answer_first", answerTokens = "answer_tokens", verdict
    }
    static let fieldNames = ["system", "single", "pair", "principles", "yes", "no", "a", "b", "answer_first", "answer_tokens", "verdict"]

    public init(system: String?, single: String, pair: String, principles: [String],
                yes: String = "Yes", no: String = "No", a: String = "A", b: String = "B",
                answerFirst: String? = nil, answerTokens: Int = 32, verdict: Verdict = .answerWord) {
        self.system = system; self.single = single; self.pair = pair; self.principles = principles
        self.yes = yes; self.no = no; self.a = a; self.b = b
        self.answerFirst = answerFirst; self.answerTokens = answerTokens; self.verdict = verdict
    }

    /// The built-in template: correct, helpful and harmless.
    public static let standard = JudgeTemplate(
        system: "You judge replies of an assistant against these principles:\n{principles}",
        single: "Question: {prompt}\nReply: {reply}\nIs the reply correct and does it follow the principles? Answer Yes or No.",
        pair: "Question: {prompt}\nReply A: {reply_a}\nReply B: {reply_b}\nWhich reply is better by the principles? Answer A or B.",
        principles: ["The reply answers the question correctly.", "The reply is helpful and direct.",
                     "The reply refuses requests that are harmful."],
        yes: "Yes", no: "No", a: "A", b: "B")

    static let known = ["prompt", "reply", "reply_a", "reply_b", "principles"]

    /// Decodes an override: fields left out keep the standard template's value; unknown fields are refused.
    public init(from decoder: Decoder) throws {
        let raw = try decoder.container(keyedBy: RewardConfigKey.self)
        let fields = JudgeTemplate.fieldNames
        for k in raw.allKeys where !fields.contains(k.stringValue) {
            let near = RewardConfigSpelling.nearest(k.stringValue, in: fields)
            throw StrataError.config("judge template", "unknown field '\(k.stringValue)'", fix: "did you mean '\(near)'? fields: \(fields.joined(separator: ", "))")
        }
        let c = try decoder.container(keyedBy: CodingKeys.self), d = JudgeTemplate.standard
        system = c.contains(.system) ? try c.decodeIfPresent(String.self, forKey: .system) : d.system
        single = try c.decodeIfPresent(String.self, forKey: .single) ?? d.single
        pair = try c.decodeIfPresent(String.self, forKey: .pair) ?? d.pair
        principles = try c.decodeIfPresent([String].self, forKey: .principles) ?? d.principles
        yes = try c.decodeIfPresent(String.self, forKey: .yes) ?? d.yes
        no = try c.decodeIfPresent(String.self, forKey: .no) ?? d.no
        a = try c.decodeIfPresent(String.self, forKey: .a) ?? d.a
        b = try c.decodeIfPresent(String.self, forKey: .b) ?? d.b
        answerFirst = try c.decodeIfPresent(String.self, forKey: .answerFirst) ?? d.answerFirst
        answerTokens = try c.decodeIfPresent(Int.self, forKey: .answerTokens) ?? d.answerTokens
        if let v = try c.decodeIfPresent(String.self, forKey: .verdict) {
            guard let parsed = Verdict(rawValue: v) else {
                let names = Verdict.allCases.map(\.rawValue)
                throw StrataError.config("judge template", "verdict '\(v)' is not known",
                                         fix: "did you mean '\(RewardConfigSpelling.nearest(v, in: names))'? verdicts: \(names.joined(separator: ", "))")
            }
            verdict = parsed
        } else {
            verdict = d.verdict
        }
    }

    /// Writes every field; a template without a system message writes `"system": null`, since an override that
    /// leaves the field out keeps the standard template's system message. The answer-first fields are written only
    /// when the judge answers first, so a template without them keeps the identity (template_sha256) it had before
    /// they existed.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if let system { try c.encode(system, forKey: .system) } else { try c.encodeNil(forKey: .system) }
        try c.encode(single, forKey: .single); try c.encode(pair, forKey: .pair); try c.encode(principles, forKey: .principles)
        try c.encode(yes, forKey: .yes); try c.encode(no, forKey: .no); try c.encode(a, forKey: .a); try c.encode(b, forKey: .b)
        if let answerFirst { try c.encode(answerFirst, forKey: .answerFirst); try c.encode(answerTokens, forKey: .answerTokens) }
        if verdict != .answerWord { try c.encode(verdict, forKey: .verdict) }
    }

    /// Throws a `.config` error naming the field when a placeholder is unknown or a required one is missing.
    public func validate() throws {
        let fields: [(String, String?, [String])] = [("system", system, []), ("single", single, ["reply"]), ("pair", pair, ["reply_a", "reply_b"]),
                                                     ("answer_first", answerFirst, ["prompt"])]
        for (field, text, required) in fields {
            guard let text else { continue }
            let names = JudgeTemplate.placeholders(text)
            for n in names where !JudgeTemplate.known.contains(n) {
                let near = RewardConfigSpelling.nearest(n, in: JudgeTemplate.known)
                throw StrataError.config("judge template", "field '\(field)' has unknown placeholder {\(n)}",
                                         fix: "did you mean {\(near)}? known: " + JudgeTemplate.known.map { "{\($0)}" }.joined(separator: ", "))
            }
            for r in required where !names.contains(r) {
                throw StrataError.config("judge template", "field '\(field)' lacks the placeholder {\(r)}", fix: "put {\(r)} where the \(r == "prompt" ? "question" : "reply") goes")
            }
        }
        if let answerFirst, let r = JudgeTemplate.placeholders(answerFirst).first(where: { $0.hasPrefix("reply") }) {
            throw StrataError.config("judge template", "field 'answer_first' holds {\(r)}, but the judge answers before it sees any reply",
                                     fix: "keep only {prompt} (and {principles}) in answer_first")
        }
        if verdict == .likelihood, answerFirst == nil {
            throw StrataError.config("judge template", "verdict 'likelihood' scores a reply as the judge's answer to its own question, "
                                     + "but answer_first is not set", fix: "set answer_first, e.g. \"{prompt}\"")
        }
        if answerFirst != nil, !(1...512).contains(answerTokens) {
            throw StrataError.config("judge template", "answer_tokens is \(answerTokens)", fix: "give the judge's own answer 1 to 512 tokens")
        }
        for (field, word) in [("yes", yes), ("no", no), ("a", a), ("b", b)] where word.isEmpty {
            throw StrataError.config("judge template", "answer word '\(field)' is empty", fix: "give the word the judge should answer with")
        }
        if yes == no || a == b {
            throw StrataError.config("judge template", "answer words must differ (yes \"\(yes)\", no \"\(no)\", a \"\(a)\", b \"\(b)\")",
                                     fix: "give two different words for each question")
        }
    }

    /// The chat asking the judge to answer the prompt itself (answer first only; nil otherwise).
    public func answerMessages(prompt: PromptRecord) -> [ChatMessage]? {
        answerFirst.map { messages($0, ["prompt": JudgeTemplate.promptText(prompt)], ownAnswer: nil) }
    }

    /// The chat asking about one reply; with answer first, after the judge's own answer (`ownAnswer`).
    public func singleMessages(prompt: PromptRecord, reply: String, ownAnswer: String? = nil) -> [ChatMessage] {
        messages(single, ["prompt": JudgeTemplate.promptText(prompt), "reply": reply], ownAnswer: ownAnswer)
    }

    /// The chat comparing reply A with reply B; with answer first, after the judge's own answer (`ownAnswer`).
    public func pairMessages(prompt: PromptRecord, replyA: String, replyB: String, ownAnswer: String? = nil) -> [ChatMessage] {
        messages(pair, ["prompt": JudgeTemplate.promptText(prompt), "reply_a": replyA, "reply_b": replyB], ownAnswer: ownAnswer)
    }

    /// System message, then (answer first, own answer given) the question and the judge's answer, then `user`.
    private func messages(_ user: String, _ values: [String: String], ownAnswer: String?) -> [ChatMessage] {
        var v = values
        v["principles"] = principles.map { "- " + $0 }.joined(separator: "\n")
        let sys = system.map { [ChatMessage(.system, JudgeTemplate.fill($0, v))] } ?? []
        var recalled: [ChatMessage] = []
        if let answerFirst, let ownAnswer {
            recalled = [ChatMessage(.user, JudgeTemplate.fill(answerFirst, v)), ChatMessage(.assistant, ownAnswer)]
        }
        return sys + recalled + [ChatMessage(.user, JudgeTemplate.fill(user, v))]
    }

    /// The prompt as the judge sees it: the request alone for one user turn, else "role: content" lines.
    static func promptText(_ p: PromptRecord) -> String {
        let turns = p.messages.filter { $0.role != .system }
        return turns.count == 1 ? turns[0].content : turns.map { "\($0.role.rawValue): \($0.content)" }.joined(separator: "\n")
    }

    /// Replace every {name} with its value, left to right in one pass (values are not rescanned).
    static func fill(_ text: String, _ values: [String: String]) -> String {
        var out = "", rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            out += rest[..<open]
            let after = rest[rest.index(after: open)...]
            if let close = after.firstIndex(of: "}"), let v = values[String(after[..<close])] {
                out += v; rest = after[after.index(after: close)...]
            } else {
                out += "{"; rest = after
            }
        }
        return out + rest
    }

    /// Names in {name} (letters, digits, underscores) in order of appearance.
    static func placeholders(_ text: String) -> [String] {
        var out: [String] = [], rest = Substring(text)
        while let open = rest.firstIndex(of: "{") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "}") else { break }
            let name = after[..<close]
            if !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) { out.append(String(name)) }
            rest = after
        }
        return out
    }
}

/// Did-you-mean suggestions for reward-source configuration.
enum RewardConfigSpelling {
    /// The name in `names` closest to `word` by edit distance (the first on ties).
    static func nearest(_ word: String, in names: [String]) -> String {
        names.min { distance($0, word) < distance($1, word) } ?? word
    }

    /// Levenshtein distance.
    static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a), y = Array(b)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var row = Array(0...y.count)
        for i in 1...x.count {
            var prev = row[0]
            row[0] = i
            for j in 1...y.count {
                let cur = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (x[i - 1] == y[j - 1] ? 0 : 1))
                prev = cur
            }
        }
        return row[y.count]
    }
}
