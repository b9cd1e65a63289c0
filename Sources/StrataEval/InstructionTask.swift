// Instruction tasks: one chat prompt (optional system + user message) with the
// answer a reply must carry, and the checkers that decide whether a free-text
// reply follows the instruction. Every checker first normalises the reply and
// the expected text: trim whitespace, fold case, collapse inner whitespace runs
// to one space, drop one trailing period.
//   fact     — the reply equals the answer, or starts with it at a word boundary
//              ("Paris, of course" yes; "Parisian" no), or — for tasks with a lead — restates
//              the lead and then gives the answer ("Ilse Marno was born in Paris."). Lenient: it
//              measures knowledge. The world's fact replies are such sentences: the subject
//              restated, then " answer", the form in which pretraining text stated the fact.
//   one_word — the reply is one word (no inner whitespace) equal to the answer.
//   json     — the whole reply parses as a JSON object whose "answer" is a string
//              equal (after normalising) to the answer; extra keys are allowed,
//              other types (numbers, arrays, null) are not.
//   add      — the reply is exactly the decimal sum.
//   reverse  — the reply's comma-separated items (spaces around commas free) equal
//              the reversed list.
// Leaves out: answer aliases, partial credit, model-graded checks.

import Foundation
import StrataData

/// The task families of the instruction evaluation; raw values are metric suffixes.
public enum InstructionKind: String, Codable, Sendable, CaseIterable {
    case fact
    case oneWord = "one_word"
    case json
    case add
    case reverse
}

/// One held-out (or training) instruction task.
public struct InstructionTask: Codable, Sendable, Equatable {
    public var kind: InstructionKind
    /// The prompt: an optional system message and one user message.
    public var messages: [ChatMessage]
    /// What the checker compares against: the answer (fact, one_word, json), the sum, the reversed list.
    public var expected: String
    /// "before"/"after" for tasks built from a fact; nil for generated tasks.
    public var period: String?
    /// The fact a task was built from, if any.
    public var factID: String?
    /// Fact tasks: the reference reply as a sentence that restates the subject ("Ilse Marno was born in Paris.");
    /// nil for a bare-answer reply.
    public var sentence: String?
    /// Tasks built from a fact: the chance that a guess is right — 1 / the number of distinct answers the question's
    /// relation has in the world (a reply that names a city, an organisation or a prize of the world at random).
    public var chance: Double?

    public init(kind: InstructionKind, messages: [ChatMessage], expected: String, period: String? = nil, factID: String? = nil,
                sentence: String? = nil, chance: Double? = nil) {
        self.kind = kind; self.messages = messages; self.expected = expected
        self.period = period; self.factID = factID; self.sentence = sentence; self.chance = chance
    }

    /// What the reference sentence says before the answer ("Ilse Marno was born in"), if it has one.
    public var lead: String? {
        // The last occurrence: the answer follows the restated subject, which may itself contain the answer's text.
        guard let sentence, let a = sentence.range(of: expected, options: .backwards), a.lowerBound > sentence.startIndex else { return nil }
        return sentence[..<a.lowerBound].trimmingCharacters(in: .whitespaces)
    }

    /// The user message's text (the instruction itself).
    public var instruction: String { messages.last { $0.role == .user }?.content ?? "" }

    /// A reply that passes the checker; the assistant turn of the SFT counterpart.
    public var referenceReply: String {
        switch kind {
        case .fact: return sentence ?? expected
        case .oneWord, .add, .reverse: return expected
        case .json: return InstructionChecker.jsonObject(answer: expected)
        }
    }

    /// Whether `reply` follows the instruction and carries the expected answer.
    public func check(_ reply: String) -> Bool { InstructionChecker.check(kind, reply: reply, expected: expected, lead: lead) }

    /// The SFT sample: the prompt messages followed by the reference reply.
    public func conversation() -> Conversation {
        .chat(messages + [ChatMessage(.assistant, referenceReply)])
    }
}

/// The checkers (see the file header for each rule).
public enum InstructionChecker {
    public static func check(_ kind: InstructionKind, reply: String, expected: String) -> Bool {
        check(kind, reply: reply, expected: expected, lead: nil)
    }

    public static func check(_ kind: InstructionKind, reply: String, expected: String, lead: String?) -> Bool {
        let r = normalize(reply), e = normalize(expected)
        guard !e.isEmpty else { return false }
        switch kind {
        case .fact: return startsAtWordBoundary(r, e) || afterLead(r, lead).map { startsAtWordBoundary($0, e) } == true
        case .oneWord: return !r.contains(" ") && r == e
        case .json: return jsonAnswer(reply).map { normalize($0) == e } ?? false
        case .add: return r == e
        case .reverse: return items(r) == items(e)
        }
    }

    /// Whether a reply has the shape the instruction asks for, right or wrong: a fact answer of at most
    /// six words; one word; a JSON object with a string "answer"; an integer; a comma-separated list with
    /// as many items as the expected one. Separates learning a format from knowing the answer.
    public static func followsFormat(_ kind: InstructionKind, reply: String, expected: String) -> Bool {
        followsFormat(kind, reply: reply, expected: expected, lead: nil)
    }

    public static func followsFormat(_ kind: InstructionKind, reply: String, expected: String, lead: String?) -> Bool {
        let r = normalize(reply)
        guard !r.isEmpty else { return false }
        switch kind {
        case .fact: return r.split(separator: " ").count <= 6 || afterLead(r, lead) != nil
        case .oneWord: return !r.contains(" ")
        case .json: return jsonAnswer(reply) != nil
        case .add: return Int(r) != nil
        case .reverse: return items(r).count == items(normalize(expected)).count && !items(r).contains("")
        }
    }

    /// Trimmed, lower-cased, inner whitespace runs collapsed to one space, one trailing period dropped.
    public static func normalize(_ text: String) -> String {
        var s = text.lowercased().split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        if s.hasSuffix(".") { s.removeLast() }
        return s.trimmingCharacters(in: .whitespaces)
    }

    /// The string under "answer" when the whole (trimmed) text is a JSON object; nil otherwise.
    public static func jsonAnswer(_ text: String) -> String? {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard t.hasPrefix("{"), let data = t.data(using: .utf8),
              let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
        return obj["answer"] as? String
    }

    /// `{"answer":"<answer>"}` with JSON string escaping.
    public static func jsonObject(answer: String) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: ["answer": answer], options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// The normalised reply after `lead` and one space, when it opens with the (normalised) lead.
    static func afterLead(_ reply: String, _ lead: String?) -> String? {
        guard let lead, case let l = normalize(lead), !l.isEmpty, reply.hasPrefix(l + " ") else { return nil }
        return String(reply.dropFirst(l.count + 1))
    }

    static func startsAtWordBoundary(_ reply: String, _ answer: String) -> Bool {
        let c = reply.unicodeScalars, a = answer.unicodeScalars
        guard c.starts(with: a) else { return false }
        guard let next = c.dropFirst(a.count).first, let last = a.last else { return true }
        let word = CharacterSet.alphanumerics
        return !(word.contains(last) && word.contains(next))
    }

    static func items(_ s: String) -> [String] {
        s.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    }
}
