// The chat template: how messages become text and tokens. One built-in
// ChatML-style template (`<|im_start|>role\ncontent<|im_end|>\n` per message,
// generation prompt `<|im_start|>assistant\n`), its special tokens, the
// equivalent Jinja string for Hugging Face's `chat_template`, and parsing the
// text back into messages. Token rendering with loss masks is in
// ChatTemplate+Render.swift, tokenizer_config.json in ChatTemplate+HF.swift.
// Leaves out: other template families, tools, Jinja evaluation.

import Foundation
import StrataCore

public struct ChatTemplate: Codable, Sendable, Equatable, CustomStringConvertible {
    /// Short name recorded in checkpoints and configs.
    public var name: String
    /// Special token opening a message (followed by the role and a newline).
    public var messageStart: String
    /// Special token closing a message (followed by a newline).
    public var messageEnd: String

    public init(name: String, messageStart: String, messageEnd: String) {
        self.name = name
        self.messageStart = messageStart
        self.messageEnd = messageEnd
    }

    /// The built-in ChatML-style template.
    public static let chatML = ChatTemplate(name: "chatml", messageStart: "<|im_start|>", messageEnd: "<|im_end|>")

    /// Look a template up by name (only "chatml" is built in).
    public static func named(_ name: String) throws -> ChatTemplate {
        if name == chatML.name { return chatML }
        throw StrataError.config("chat template", "unknown chat template \"\(name)\"", fix: "use \"chatml\"")
    }

    /// Special tokens the tokenizer must know as single ids.
    public var specialTokens: [String] { [messageStart, messageEnd] }

    /// Text opening a message of `role`, after the start token: "role\n".
    public func header(_ role: ChatRole) -> String { role.rawValue + "\n" }

    /// Jinja source for Hugging Face `chat_template`; `apply_chat_template` renders the same text
    /// as `render(text:)` for system/user/assistant messages.
    public var jinja: String {
        "{% for message in messages %}"
            + "{{ '\(messageStart)' + message['role'] + '\\n' + message['content'] + '\(messageEnd)' + '\\n' }}"
            + "{% endfor %}"
            + "{% if add_generation_prompt %}{{ '\(messageStart)assistant\\n' }}{% endif %}"
    }

    public var description: String { "ChatTemplate(\(name): \(messageStart)role\\ncontent\(messageEnd)\\n)" }

    /// The template's text for `messages`, optionally followed by the generation prompt.
    public func render(text messages: [ChatMessage], addGenerationPrompt: Bool = false) -> String {
        var s = ""
        for m in messages { s += messageStart + header(m.role) + m.content + messageEnd + "\n" }
        if addGenerationPrompt { s += generationPrompt }
        return s
    }

    /// The text that asks the model for an assistant turn.
    public var generationPrompt: String { messageStart + header(.assistant) }

    /// Parse text produced by `render(text:)` back into messages. Throws a `.format` error on
    /// text that does not follow the template. A trailing generation prompt is ignored.
    public func parse(_ text: String) throws -> [ChatMessage] {
        var rest = Substring(text)
        var out: [ChatMessage] = []
        while !rest.isEmpty {
            if rest == generationPrompt[...] { break }
            guard rest.hasPrefix(messageStart) else { throw parseError(out.count, "does not start with \(messageStart)") }
            rest = rest.dropFirst(messageStart.count)
            guard let nl = rest.firstIndex(of: "\n"), let role = ChatRole(rawValue: String(rest[..<nl])) else {
                throw parseError(out.count, "has no known role followed by a newline")
            }
            rest = rest[rest.index(after: nl)...]
            guard let end = rest.range(of: messageEnd + "\n") else {
                throw parseError(out.count, "is not closed by \(messageEnd) and a newline")
            }
            out.append(ChatMessage(role, String(rest[..<end.lowerBound])))
            rest = rest[end.upperBound...]
        }
        return out
    }

    private func parseError(_ index: Int, _ what: String) -> StrataError {
        StrataError.format("parse \(name) chat text", "message \(index) \(what)",
                           fix: "give text rendered by the \(name) template")
    }
}
