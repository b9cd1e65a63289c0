// An interactive chat with a GPT-2 checkpoint, without a terminal: the
// conversation history (system message first), rendering it with the ChatML
// template, sampling the assistant's reply with streaming text, and dropping the
// oldest user/assistant turns when the history no longer fits the context. The
// default reply length (128 tokens) is clamped to half the context when the model
// is too small for it, with a notice; an explicit length that does not fit is an error.
// Loading a checkpoint (and adding chat tokens to a base model) is in
// ChatSession+Load.swift, incremental UTF-8 decoding in ChatSession+Stream.swift.
// Leaves out: tool calls, multiple templates, batching several conversations.

import Foundation
import StrataCore
import StrataData
import StrataModel
import StrataTokenizer

/// How a chat samples replies. Defaults are those of `strata chat`.
public struct ChatConfig: Sendable, Equatable {
    /// System message put first in every prompt (nil: none).
    public var system: String? = nil
    /// Sampling temperature (0 = greedy); default 0.7.
    public var temperature: Float = 0.7
    /// Keep only the k most likely tokens (0 = off, the default).
    public var topK: Int = 0
    /// Nucleus filter (1 = off, the default).
    public var topP: Float = 1.0
    /// Tokens generated at most per reply; the prompt gets n_positions minus this. nil: the default,
    /// `defaultMaxNewTokens`, or half the context when that leaves no room for a prompt.
    public var maxNewTokens: Int? = nil
    /// The reply length used when none is given (if the model's context leaves room for it).
    public static let defaultMaxNewTokens = 128
    /// Seed of the first reply; reply n uses seed + n so replies differ yet repeat run to run (default 0).
    public var seed: UInt64 = 0

    public init(system: String? = nil, temperature: Float = 0.7, topK: Int = 0, topP: Float = 1.0,
                maxNewTokens: Int? = nil, seed: UInt64 = 0) {
        self.system = system; self.temperature = temperature; self.topK = topK
        self.topP = topP; self.maxNewTokens = maxNewTokens; self.seed = seed
    }
}

public final class ChatSession {
    public let model: any CausalLM
    public let tokenizer: BPETokenizer
    public let template: ChatTemplate
    public let config: ChatConfig
    /// User and assistant turns so far, oldest first (the system message is kept apart).
    public private(set) var turns: [ChatMessage] = []
    /// The system message, or nil.
    public private(set) var system: String?
    /// Called with a line of text for the user (e.g. when old turns were dropped).
    public var onNotice: (String) -> Void = { _ in }
    /// Replies produced so far (also the offset added to the seed).
    public private(set) var replyCount = 0
    /// Why the last reply ended.
    public private(set) var lastFinish: Completion.Finish?

    /// Tokens generated at most per reply (the config's value, or the default fitted to the context).
    public let maxNewTokens: Int
    /// Set when the default reply length was clamped to fit the context: the line to show the user.
    public let maxNewTokensNotice: String?

    let chatTokenizer: ChatTokenizer
    let stopTokens: [Int32]

    /// A session over a model and a tokenizer that already knows the template's special tokens.
    public init(model: any CausalLM, tokenizer: BPETokenizer, config: ChatConfig = ChatConfig(),
                template: ChatTemplate = .chatML) throws {
        let op = "start chat"
        // Sampling options are checked here; the reply length (nil = fitted to the context) by replyLength below.
        try SamplingConfig(maxNewTokens: config.maxNewTokens ?? 1, temperature: config.temperature, topK: config.topK,
                           topP: config.topP).validate(op: op)
        var ids: [String: Int] = [:]
        for t in template.specialTokens {
            guard let id = tokenizer.id(forSpecial: t) else {
                throw StrataError.config(op, "tokenizer has no special token \(t)",
                                         fix: "use a chat-tuned checkpoint, or ChatSession.addingChatTokens for a base model")
            }
            ids[t] = id
        }
        guard tokenizer.vocabSize <= model.vocabSize else {
            throw StrataError.config(op, "tokenizer has \(tokenizer.vocabSize) ids but the model's vocab_size is \(model.vocabSize)",
                                     fix: "use the tokenizer.json saved with this model")
        }
        (maxNewTokens, maxNewTokensNotice) = try Self.replyLength(config.maxNewTokens, nPositions: model.contextLength)
        self.model = model
        self.tokenizer = tokenizer
        self.template = template
        self.config = config
        self.system = config.system
        let tok = tokenizer, specialIDs = ids
        let eos = tokenizer.eosID
        chatTokenizer = ChatTokenizer(encode: { tok.encode($0) }, specialID: { specialIDs[$0] }, endOfText: eos ?? -1,
                                      tokenBytes: { tok.decodeBytes([$0]).count })
        // A new <|im_start|> also ends the turn: the model has moved on to another message.
        stopTokens = ([ids[template.messageEnd], ids[template.messageStart], eos].compactMap { $0 }).map { Int32($0) }
    }

    /// Tokens per reply for `requested` (nil: the default) in a context of `nPositions`, and a notice when
    /// the default was clamped. A prompt needs more than 8 tokens; an explicit length leaving fewer throws.
    static func replyLength(_ requested: Int?, nPositions: Int) throws -> (Int, String?) {
        let most = nPositions - 9
        if let n = requested {
            guard n > 0, n <= most else {
                throw StrataError.config("start chat", "max_new_tokens \(n) leaves no room for a prompt in n_positions \(nPositions)",
                                         fix: "give a max_new_tokens between 1 and \(max(1, most))")
            }
            return (n, nil)
        }
        let wanted = ChatConfig.defaultMaxNewTokens
        if wanted <= most && wanted <= nPositions / 2 { return (wanted, nil) }
        let n = max(1, nPositions / 2)
        guard n <= most else {
            throw StrataError.config("start chat", "n_positions \(nPositions) is too small for a chat (a prompt needs more than 8 tokens)",
                                     fix: "chat with a model whose n_positions is at least 18")
        }
        return (n, "note: replies are limited to \(n) tokens (the default \(wanted) does not fit beside a prompt in this model's "
                + "context of \(nPositions) tokens); the history gets the other \(nPositions - n); choose with --max-new-tokens")
    }

    /// All messages as the prompt sees them: the system message, then the turns.
    public var messages: [ChatMessage] {
        (system.map { [ChatMessage(.system, $0)] } ?? []) + turns
    }

    /// Tokens a prompt may use: n_positions minus max_new_tokens.
    public var promptBudget: Int { model.contextLength - maxNewTokens }

    /// Forget every turn (the system message stays).
    public func reset() {
        turns.removeAll()
    }

    /// Replace the system message (nil or empty: none). Turns are kept.
    public func setSystem(_ text: String?) {
        system = (text?.isEmpty ?? true) ? nil : text
    }

    /// The template's text of the history plus `pendingUser` (if given) and the generation prompt.
    public func promptText(adding pendingUser: String? = nil) -> String {
        template.render(text: messages + (pendingUser.map { [ChatMessage(.user, $0)] } ?? []), addGenerationPrompt: true)
    }

    /// Token ids of the history plus `pendingUser` (if given) and the generation prompt.
    public func promptTokens(adding pendingUser: String? = nil) throws -> [Int] {
        try template.promptTokens(messages + (pendingUser.map { [ChatMessage(.user, $0)] } ?? []), chatTokenizer)
    }

    /// Answer `userText`: stream the reply's text through `onText` as it is sampled and return it.
    /// The user turn and the reply join the history; old turns are dropped first when needed.
    public func reply(to userText: String, onText: (String) -> Void) throws -> String {
        let prompt = try fitPrompt(userText)
        let sampling = SamplingConfig(maxNewTokens: maxNewTokens, temperature: config.temperature,
                                      topK: config.topK, topP: config.topP, stopTokens: stopTokens,
                                      seed: config.seed &+ UInt64(replyCount))
        var stream = ChatStreamDecoder()
        let tok = tokenizer
        let out = withoutActuallyEscaping(onText) { emit in
            model.generate(prompts: [prompt.map(Int32.init)], sampling: sampling) { _, id in
                let piece = stream.add(tok.decodeBytes([Int(id)]))
                if !piece.isEmpty { emit(piece) }
            }[0]
        }
        let rest = stream.finish()
        if !rest.isEmpty { onText(rest) }
        let text = tokenizer.decode(out.tokens.map(Int.init))
        turns.append(ChatMessage(.user, userText))
        turns.append(ChatMessage(.assistant, text))
        replyCount += 1
        lastFinish = out.finish
        return text
    }

    /// Prompt ids for the history plus `userText`, dropping the oldest turns until it fits the budget.
    /// When even the system message and `userText` alone do not fit, throws and keeps the history.
    func fitPrompt(_ userText: String) throws -> [Int] {
        let head = system.map { [ChatMessage(.system, $0)] } ?? []
        let user = [ChatMessage(.user, userText)]
        var kept = turns[...]
        var ids = try template.promptTokens(head + kept + user, chatTokenizer)
        while ids.count > promptBudget && !kept.isEmpty {
            // Drop the oldest turn and, when it was a user turn, the assistant reply after it.
            let pair = kept.count >= 2 && kept[kept.startIndex].role == .user && kept[kept.startIndex + 1].role == .assistant
            kept = kept.dropFirst(pair ? 2 : 1)
            ids = try template.promptTokens(head + kept + user, chatTokenizer)
        }
        guard ids.count <= promptBudget else {
            throw StrataError.config("chat reply", "the prompt needs \(ids.count) tokens but only \(promptBudget) fit "
                                     + "(n_positions \(model.contextLength) minus max_new_tokens \(maxNewTokens))",
                                     fix: "write a shorter message or system message, or lower max_new_tokens")
        }
        let dropped = turns.count - kept.count
        if dropped > 0 {
            turns = Array(kept)
            onNotice("(dropped the oldest \(dropped) message\(dropped == 1 ? "" : "s") to fit the context of \(model.contextLength) tokens"
                     + (system == nil ? ")" : "; the system message is kept)"))
        }
        return ids
    }
}
