// SFT samples in TRL's JSONL conventions as one value type: a conversation of
// role/content messages plus the format it came from, and the checks that make
// a line trainable (roles, order, non-empty content). Parsing of the three
// formats lives in Conversation+Parse.swift, file loading in SFTDataset.swift.
// A conversation may end with a user turn (rendered as context, not trained) when it
// has an assistant turn to train. Leaves out: tool calls and tool roles (refused by
// ChatMessage+Parse.swift), multimodal content, per-message loss flags.

import Foundation
import StrataCore

/// The speaker of a chat message. Only the three roles every chat template knows.
public enum ChatRole: String, Codable, Sendable, CaseIterable {
    case system, user, assistant
}

/// One chat turn.
public struct ChatMessage: Codable, Sendable, Equatable {
    public var role: ChatRole
    public var content: String
    public init(_ role: ChatRole, _ content: String) {
        self.role = role
        self.content = content
    }
}

/// One SFT sample.
///
/// - `conversational`: `{"messages": [...]}` (or ShareGPT `{"conversations": [...]}`); every assistant turn is
///   trained; a trailing user turn is context only.
/// - `promptCompletion`: `{"prompt": "...", "completion": "..."}` as plain strings; `messages` holds
///   `[user: prompt, assistant: completion]`, rendered without a template (prompt tokens, then
///   completion tokens and end-of-text); only the completion is trained.
/// - `conversationalPromptCompletion`: prompt and completion are message lists; `messages` is the
///   prompt followed by the completion and `promptCount` says where the completion starts; only
///   assistant turns of the completion are trained.
/// - `text`: `{"text": "..."}`; `messages` holds one assistant message with the text, all trained.
public struct Conversation: Codable, Sendable, Equatable {
    public enum Format: String, Codable, Sendable, CaseIterable {
        case conversational
        case promptCompletion = "prompt_completion"
        case conversationalPromptCompletion = "conversational_prompt_completion"
        case text
    }

    public var format: Format
    public var messages: [ChatMessage]
    /// Number of leading messages that form the prompt (never trained). 0 for `conversational` and `text`.
    public var promptCount: Int

    public init(format: Format, messages: [ChatMessage], promptCount: Int = 0) {
        self.format = format
        self.messages = messages
        self.promptCount = promptCount
    }

    /// A conversational sample.
    public static func chat(_ messages: [ChatMessage]) -> Conversation {
        Conversation(format: .conversational, messages: messages)
    }

    /// A plain-text sample.
    public static func text(_ text: String) -> Conversation {
        Conversation(format: .text, messages: [ChatMessage(.assistant, text)])
    }

    /// A plain prompt–completion sample.
    public static func promptCompletion(_ prompt: String, _ completion: String) -> Conversation {
        Conversation(format: .promptCompletion,
                     messages: [ChatMessage(.user, prompt), ChatMessage(.assistant, completion)], promptCount: 1)
    }

    /// Whether message `index` is trained (its content and closing marker predicted with loss).
    public func isTrained(_ index: Int) -> Bool {
        switch format {
        case .text: return true
        case .conversational: return messages[index].role == .assistant
        case .promptCompletion, .conversationalPromptCompletion:
            return index >= promptCount && messages[index].role == .assistant
        }
    }

    /// Why this sample cannot be trained, or nil when it is valid.
    public func problem() -> String? {
        if messages.isEmpty { return "no messages" }
        for (i, m) in messages.enumerated() where m.content.allSatisfy(\.isWhitespace) {
            return "message \(i) (\(m.role.rawValue)) has empty content"
        }
        switch format {
        case .text, .promptCompletion:
            return nil
        case .conversational:
            if let p = Self.orderProblem(messages) { return p }
            if !messages.contains(where: { $0.role == .assistant }) {
                return "conversation has no assistant turn, so nothing to train; add the assistant's reply"
            }
            return nil
        case .conversationalPromptCompletion:
            return promptCompletionProblem()
        }
    }

    private func promptCompletionProblem() -> String? {
        guard promptCount > 0 else { return "prompt has no messages" }
        guard promptCount < messages.count else { return "completion has no messages" }
        let prompt = Array(messages[..<promptCount])
        if let p = Self.orderProblem(prompt) { return "prompt: \(p)" }
        if prompt.last?.role == .assistant { return "prompt ends with an assistant turn; it must end with a user turn" }
        for (i, m) in messages[promptCount...].enumerated() where m.role != .assistant {
            return "completion message \(i) has role \(m.role.rawValue); completions hold assistant turns only"
        }
        return nil
    }

    /// System only first and at most once; at least one non-system turn.
    public static func orderProblem(_ messages: [ChatMessage]) -> String? {
        if messages.isEmpty { return "no messages" }
        for (i, m) in messages.enumerated() where m.role == .system && i > 0 {
            return messages[0].role == .system
                ? "two system messages (0 and \(i)); merge them into one"
                : "system message at position \(i); it must come first"
        }
        if messages.count == 1 && messages[0].role == .system { return "only a system message" }
        return nil
    }
}
