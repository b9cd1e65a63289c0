// Building instruction tasks, deterministically from a seed: held-out tasks for
// evaluation (`build`, facts of the QA "test" split) and their SFT counterparts
// (`training`, facts of the "train" split, optionally only some periods). The
// generated kinds (add, reverse) are split into test and train by a hash of the
// task's content, so the two sets never share a prompt whatever the seeds and
// sizes. Fact-based kinds use each split's QA pairs (one_word only single-word
// answers). Leaves out: multi-turn tasks, paraphrased instructions.

import Foundation
import StrataCore
import StrataData

public enum InstructionTasks {
    /// Words the reverse-list tasks draw from.
    static let listWords = ["apple", "river", "stone", "cloud", "tiger", "lamp", "green", "paper", "ocean", "bread",
                            "chair", "music", "north", "silver", "garden", "window", "candle", "forest", "violet", "copper",
                            "eagle", "honey", "mirror", "thunder"]
    /// Addends of the add tasks are drawn from this range.
    static let addRange = 1...60

    enum Split: String { case train, test }

    /// Held-out evaluation tasks: up to `perKind` of each kind — fact questions up to `perKind` per period —
    /// (fewer when the test split has fewer eligible QA pairs), in kind order, each kind's tasks in seeded random order.
    public static func build(qa: [SyntheticWorld.QAPair], seed: UInt64, perKind: Int, system: String? = nil) -> [InstructionTask] {
        tasks(qa.filter { $0.split == Split.test.rawValue }, split: .test, seed: seed, perKind: perKind, system: system,
              values: valueCounts(qa))
    }

    /// Training tasks of the same kinds from the train split; `periods` (e.g. ["before"]) keeps only
    /// facts of those periods (nil keeps all). Never shares a prompt with `build` for any seed.
    public static func training(qa: [SyntheticWorld.QAPair], seed: UInt64, perKind: Int, periods: Set<String>? = nil,
                                system: String? = nil) -> [InstructionTask] {
        let pool = qa.filter { $0.split == Split.train.rawValue && (periods?.contains($0.period) ?? true) }
        return tasks(pool, split: .train, seed: seed, perKind: perKind, system: system, values: valueCounts(qa))
    }

    /// How many distinct answers each relation has among `qa` (both periods, both splits): the values a reply
    /// that names something of the right kind would pick among if it guessed.
    static func valueCounts(_ qa: [SyntheticWorld.QAPair]) -> [String: Int] {
        var values: [String: Set<String>] = [:]
        for q in qa { values[q.relation, default: []].insert(q.answer) }
        return values.mapValues(\.count)
    }

    /// SFT conversations (prompt + reference reply) for `training(...)`, ready to write as TRL "messages" JSONL.
    public static func trainingConversations(qa: [SyntheticWorld.QAPair], seed: UInt64, perKind: Int,
                                             periods: Set<String>? = nil, system: String? = nil) -> [Conversation] {
        training(qa: qa, seed: seed, perKind: perKind, periods: periods, system: system).map { $0.conversation() }
    }

    /// TRL "messages" JSONL (one conversation per line, prompt + reference reply, plus the task's
    /// "kind" which SFT loaders ignore), ending with a newline.
    public static func trlJSONL(_ tasks: [InstructionTask]) throws -> String {
        struct Line: Encodable { var kind: String; var messages: [ChatMessage] }
        return try tasks.map { t in
            String(decoding: try StrataJSON.encode(Line(kind: t.kind.rawValue, messages: t.conversation().messages), pretty: false),
                   as: UTF8.self) + "\n"
        }.joined()
    }

    /// The user instruction for a kind built from a question.
    public static func instruction(_ kind: InstructionKind, question: String) -> String {
        switch kind {
        case .oneWord: return "Answer in one word: \(question)"
        case .json: return "Answer in JSON with the key \"answer\": \(question)"
        default: return question
        }
    }

    static func tasks(_ pool: [SyntheticWorld.QAPair], split: Split, seed: UInt64, perKind: Int, system: String?,
                      values: [String: Int]) -> [InstructionTask] {
        let n = max(0, perKind)
        var out: [InstructionTask] = []
        for (k, kind) in InstructionKind.allCases.enumerated() {
            var rng = StrataRNG(seed: seed &+ UInt64(k + 1) &* 0x9E37_79B9_7F4A_7C15 &+ (split == .test ? 0 : 0x5151))
            let made: [(String, String, SyntheticWorld.QAPair?)]
            switch kind {
            case .fact, .oneWord, .json: made = questionTasks(pool, kind, n, &rng)
            case .add: made = generated(n, split, &rng, addTask)
            case .reverse: made = generated(n, split, &rng, reverseTask)
            }
            for (prompt, expected, pair) in made {
                let msgs = (system.map { [ChatMessage(.system, $0)] } ?? []) + [ChatMessage(.user, prompt)]
                out.append(InstructionTask(kind: kind, messages: msgs, expected: expected, period: pair?.period, factID: pair?.factID,
                                           sentence: kind == .fact && pair?.answerLead != nil ? pair?.sentenceAnswer : nil,
                                           chance: pair.map { 1 / Double(max(1, values[$0.relation] ?? 1)) }))
            }
        }
        return out
    }

    static func questionTasks(_ pool: [SyntheticWorld.QAPair], _ kind: InstructionKind, _ n: Int,
                              _ rng: inout StrataRNG) -> [(String, String, SyntheticWorld.QAPair?)] {
        var eligible = pool.filter { q in
            let a = q.answer.trimmingCharacters(in: .whitespaces)
            return !a.isEmpty && (kind != .oneWord || !a.contains(where: { $0.isWhitespace }))
        }
        rng.shuffle(&eligible)
        // Fact questions: up to n of each period (in the shuffled order), so the few after-cutoff facts are
        // not crowded out by the many before-cutoff ones; format kinds draw n from the whole pool.
        var taken: [String: Int] = [:]
        let chosen = kind != .fact ? Array(eligible.prefix(n)) : eligible.filter { q in
            taken[q.period, default: 0] += 1
            return taken[q.period]! <= n
        }
        return chosen.map { (instruction(kind, question: $0.question), $0.answer, $0) }
    }

    /// Draw generated tasks until `n` distinct ones of `split` are found (or attempts run out).
    static func generated(_ n: Int, _ split: Split, _ rng: inout StrataRNG,
                          _ make: (inout StrataRNG) -> (String, String)) -> [(String, String, SyntheticWorld.QAPair?)] {
        var seen = Set<String>(), out: [(String, String, SyntheticWorld.QAPair?)] = []
        var attempts = 0
        while out.count < n && attempts < 200 * max(1, n) {
            attempts += 1
            let (prompt, expected) = make(&rng)
            guard splitOf(prompt) == split, seen.insert(prompt).inserted else { continue }
            out.append((prompt, expected, nil))
        }
        return out
    }

    /// Which split a generated prompt belongs to: about one in five goes to test, by content hash.
    static func splitOf(_ prompt: String) -> Split {
        let h = UInt64(SHA256.hex(prompt).prefix(8), radix: 16) ?? 0
        return h % 5 == 0 ? .test : .train
    }

    static func addTask(_ rng: inout StrataRNG) -> (String, String) {
        let span = addRange.upperBound - addRange.lowerBound + 1
        let a = addRange.lowerBound + rng.int(below: span), b = addRange.lowerBound + rng.int(below: span)
        return ("Add \(a) and \(b).", String(a + b))
    }

    static func reverseTask(_ rng: inout StrataRNG) -> (String, String) {
        var words = listWords
        rng.shuffle(&words)
        let items = Array(words.prefix(3 + rng.int(below: 3)))
        return ("Reverse the list: " + items.joined(separator: ", "), items.reversed().joined(separator: ", "))
    }
}
