// InstructionEval: greedy chat replies to instruction tasks, scored by each task's
// checker. Prompts are rendered with the chat template plus its generation prompt,
// generated in batches (prompts of different lengths together), stopped at the
// template's end-of-message token or end of text, decoded and trimmed. Scoring is
// separate from generation (`score`) so it can be tested with hand-made replies.
// A prompt longer than the context keeps its last tokens (room is left for the reply).
// Leaves out: sampling (always greedy), multi-turn dialogues, timing.

import Foundation
import StrataCore
import StrataModel
import StrataData
import StrataTokenizer

public enum InstructionEval {
    public struct Config: Codable, Equatable, Sendable {
        /// Tokens generated per reply at most.
        public var maxNewTokens = 32
        /// Prompts per generate call.
        public var maxBatchRows = 32
        /// Keep per-task results in the report.
        public var keepResults = true

        public init(maxNewTokens: Int = 32, maxBatchRows: Int = 32, keepResults: Bool = true) {
            self.maxNewTokens = maxNewTokens; self.maxBatchRows = maxBatchRows; self.keepResults = keepResults
        }
    }

    /// Generate a greedy reply to every task and score them.
    public static func evaluate(model: any CausalLM, codec: some TextCodec, chat: ChatTokenizer, template: ChatTemplate = .chatML,
                                tasks: [InstructionTask], config: Config = Config()) throws -> InstructionReport {
        let replies = try generateReplies(model: model, codec: codec, chat: chat, template: template, tasks: tasks, config: config)
        return try score(replies: replies.map(\.text), tasks: tasks, replyTokens: replies.map(\.tokens), keepResults: config.keepResults)
    }

    /// `evaluate` with a BPE tokenizer that knows the template's special tokens.
    public static func evaluate(model: any CausalLM, tokenizer: BPETokenizer, template: ChatTemplate = .chatML,
                                tasks: [InstructionTask], config: Config = Config()) throws -> InstructionReport {
        try evaluate(model: model, codec: tokenizer, chat: chatTokenizer(tokenizer, template: template), template: template,
                     tasks: tasks, config: config)
    }

    /// A `ChatTokenizer` over a BPE tokenizer; throws when it lacks the template's special tokens or end of text.
    public static func chatTokenizer(_ tokenizer: BPETokenizer, template: ChatTemplate = .chatML) throws -> ChatTokenizer {
        var ids: [String: Int] = [:]
        for t in template.specialTokens {
            guard let id = tokenizer.id(forSpecial: t) else {
                throw StrataError.config("instruction eval", "the tokenizer has no special token \(t)",
                                         fix: "evaluate a checkpoint whose tokenizer.json has the \(template.name) tokens \(template.specialTokens) (an SFT checkpoint)")
            }
            ids[t] = id
        }
        guard let eos = tokenizer.eosID else {
            throw StrataError.config("instruction eval", "the tokenizer has no end-of-text token", fix: "use a tokenizer with <|endoftext|>")
        }
        let table = ids
        return ChatTokenizer(encode: { tokenizer.encode($0) }, specialID: { table[$0] }, endOfText: eos,
                             tokenBytes: { tokenizer.decodeBytes([$0]).count })
    }

    /// Greedy replies (decoded, trimmed) and their generated token counts, in task order.
    public static func generateReplies(model: any CausalLM, codec: some TextCodec, chat: ChatTokenizer, template: ChatTemplate,
                                       tasks: [InstructionTask], config: Config) throws -> [(text: String, tokens: Int)] {
        guard config.maxNewTokens > 0 else {
            throw StrataError.config("instruction eval", "maxNewTokens is \(config.maxNewTokens)", fix: "give a positive token budget")
        }
        let n = model.contextLength
        let prompts = try tasks.enumerated().map { i, t -> [Int32] in
            let ids = try template.promptTokens(t.messages, chat).map { Int32($0) }
            try ProbeEval.checkVocabulary(ids, model: model, what: "instruction task \(i + 1) prompt")
            return Array(ids.suffix(max(1, n - min(config.maxNewTokens, n / 2))))
        }
        var stop = codec.endOfTextToken.map { [$0] } ?? []
        if let end = chat.specialID(template.messageEnd) { stop.append(Int32(end)) }
        let sampling = SamplingConfig(maxNewTokens: config.maxNewTokens, temperature: 0, stopTokens: stop)
        var out: [(text: String, tokens: Int)] = []
        var start = 0
        while start < prompts.count {
            let end = min(prompts.count, start + max(1, config.maxBatchRows))
            for c in model.generate(prompts: Array(prompts[start..<end]), sampling: sampling) {
                out.append((codec.tokensText(c.tokens).trimmingCharacters(in: .whitespacesAndNewlines), c.tokens.count))
            }
            start = end
        }
        return out
    }

    /// Scoring needs exactly one reply (and, when given, one token count) per item, in item order.
    static func requireOneReplyEach(replies: Int, lengths: Int?, items: Int, noun: String, op: String) throws {
        guard replies == items else {
            throw StrataError.data(op, "\(replies) replies for \(items) \(noun)s", fix: "give exactly one reply per \(noun), in \(noun) order")
        }
        if let lengths, lengths != items {
            throw StrataError.data(op, "\(lengths) reply lengths for \(items) \(noun)s", fix: "give one token count per reply")
        }
    }

    /// Score replies against tasks (one reply per task, same order); `replyTokens` gives the mean length.
    public static func score(replies: [String], tasks: [InstructionTask], replyTokens: [Int]? = nil,
                             keepResults: Bool = true) throws -> InstructionReport {
        try requireOneReplyEach(replies: replies.count, lengths: replyTokens?.count, items: tasks.count, noun: "task", op: "instruction scoring")
        let results = tasks.indices.map { i in
            InstructionResult(kind: tasks[i].kind, instruction: tasks[i].instruction, expected: tasks[i].expected,
                              reply: replies[i], correct: tasks[i].check(replies[i]), replyTokens: replyTokens?[i],
                              period: tasks[i].period, chance: tasks[i].chance,
                              followsFormat: InstructionChecker.followsFormat(tasks[i].kind, reply: replies[i], expected: tasks[i].expected,
                                                                                   lead: tasks[i].lead))
        }
        return InstructionReport(results: results, keepResults: keepResults)
    }
}
