// One prompt of a TRL prompt-only dataset: `{"prompt": "..."}` (plain text) or
// `{"prompt": [messages]}` (conversational, ending with a user turn), plus any
// other columns of the line kept as typed JSON for reward functions (`answer`,
// `kind`...). Parsing reuses the SFT message-list parser and order checks, and
// returns a reason string the loader turns into a file:line error.
// Leaves out: TRL's `images`, tool schemas, and prompts ending in an assistant
// turn (continuation of a partial reply).

import Foundation
import StrataCore
import StrataData

public struct PromptRecord: Sendable, Equatable {
    public enum Format: String, Codable, Sendable, CaseIterable {
        /// `"prompt"` is a string: the policy continues the raw text (no chat template), as TRL does.
        case plain
        /// `"prompt"` is a message list: rendered with the chat template and its generation prompt.
        case conversational
    }

    public var format: Format
    /// Conversational: the messages, ending with a user turn. Plain: one user message holding the text.
    public var messages: [ChatMessage]
    /// Every key of the line other than "prompt".
    public var columns: [String: PromptValue]

    public init(format: Format, messages: [ChatMessage], columns: [String: PromptValue] = [:]) {
        self.format = format
        self.messages = messages
        self.columns = columns
    }

    /// A plain-text prompt.
    public static func plain(_ text: String, columns: [String: PromptValue] = [:]) -> PromptRecord {
        PromptRecord(format: .plain, messages: [ChatMessage(.user, text)], columns: columns)
    }

    /// A conversational prompt.
    public static func chat(_ messages: [ChatMessage], columns: [String: PromptValue] = [:]) -> PromptRecord {
        PromptRecord(format: .conversational, messages: messages, columns: columns)
    }

    /// The request itself: the plain text, or the last user turn's content.
    public var request: String { messages.last { $0.role == .user }?.content ?? "" }

    /// A column's value as text (see `PromptValue.text`); nil when absent or not a scalar.
    public func text(_ column: String) -> String? { columns[column]?.text }

    /// Why this record cannot be used as a prompt, or nil when it is valid.
    public func problem() -> String? {
        if messages.isEmpty { return "\"prompt\" has no messages" }
        if format == .plain {
            return messages[0].content.allSatisfy(\.isWhitespace) ? "\"prompt\" is an empty string" : nil
        }
        for (i, m) in messages.enumerated() where m.content.allSatisfy(\.isWhitespace) {
            return "prompt[\(i)] (\(m.role.rawValue)) has empty content"
        }
        if let p = Conversation.orderProblem(messages) { return "prompt: \(p)" }
        if let last = messages.last, last.role != .user {
            return "prompt ends with a\(last.role == .assistant ? "n" : "") \(last.role.rawValue) turn; it must end with a user turn"
        }
        return nil
    }

    /// The record a JSONL object describes, or a reason it is unusable.
    public static func parse(_ object: [String: Any]) -> Result<PromptRecord, SFTLineProblem> {
        guard let prompt = object["prompt"] else { return .failure(.init(missingPromptReason(object))) }
        var columns: [String: PromptValue] = [:]
        for (k, v) in object where k != "prompt" { columns[k] = PromptValue(json: v) }
        let record: PromptRecord
        if let text = prompt as? String {
            record = .plain(text, columns: columns)
        } else if prompt is [Any] {
            switch Conversation.messageList(prompt, field: "prompt") {
            case .success(let m): record = .chat(m, columns: columns)
            case .failure(let p): return .failure(p)
            }
        } else {
            return .failure(.init("\"prompt\" is \(PromptValue(json: prompt).typeName); give a string or a list of messages"))
        }
        return record.problem().map { .failure(.init($0)) } ?? .success(record)
    }

    private static func missingPromptReason(_ object: [String: Any]) -> String {
        if object["messages"] != nil {
            return "no \"prompt\" field; this looks like an SFT conversation (\"messages\"): write the turns before the reply as {\"prompt\": [...]}"
        }
        if object["chosen"] != nil { return "no \"prompt\" field; this looks like a preference pair: prompt files need {\"prompt\": ...}" }
        if object["text"] != nil { return "no \"prompt\" field (found \"text\"): write {\"prompt\": \"...\"}" }
        let keys = object.keys.sorted().prefix(5).map { "\"\($0)\"" }.joined(separator: ", ")
        return "no \"prompt\" field (keys: \(keys.isEmpty ? "none" : keys))"
    }
}

extension PromptRecord: Codable {
    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// TRL prompt-only JSON: "prompt" (string or messages) beside the extra columns.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        switch format {
        case .plain: try c.encode(request, forKey: Key("prompt"))
        case .conversational: try c.encode(messages, forKey: Key("prompt"))
        }
        for (k, v) in columns where k != "prompt" { try c.encode(v, forKey: Key(k)) }
    }

    /// Decodes what `encode` writes; no validation beyond types (use `PromptDataset.load` for checked input).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        if let text = try? c.decode(String.self, forKey: Key("prompt")) {
            format = .plain; messages = [ChatMessage(.user, text)]
        } else {
            format = .conversational; messages = try c.decode([ChatMessage].self, forKey: Key("prompt"))
        }
        var cols: [String: PromptValue] = [:]
        for k in c.allKeys where k.stringValue != "prompt" { cols[k.stringValue] = try c.decode(PromptValue.self, forKey: k) }
        columns = cols
    }
}
