// One message list from a JSONL record, shared by the SFT and preference parsers,
// with the formats TRL users bring:
//   - OpenAI/TRL messages {"role", "content"}; content may be a string or a list of
//     text parts [{"type": "text", "text": ...}] (joined in order, as text-only chat
//     templates render them);
//   - ShareGPT turns {"from", "value"} with from = human/user, gpt/assistant, system
//     (SFT's "conversations" key; see Conversation+Parse.swift).
// Refused with a message naming the format and the nearest supported one: the
// "tool" role and "tool_calls" (tool calling), the "developer" role (use "system"),
// non-text content parts (images, audio), unknown roles (with a did-you-mean).
// Leaves out: rendering tool calls, multimodal content.

import Foundation

/// Why a message list cannot be used (the parsers wrap the reason in their own line-problem types).
public struct ChatMessageProblem: Error, Sendable, Equatable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
}

private func fail<T>(_ reason: String) -> Result<T, ChatMessageProblem> { .failure(ChatMessageProblem(reason)) }

extension ChatMessage {
    /// ShareGPT's speaker names and the role each stands for.
    static let shareGPTRoles: [String: ChatRole] = ["human": .user, "user": .user, "gpt": .assistant, "assistant": .assistant,
                                                    "system": .system]

    /// The messages of a JSON list under `field`, or why it cannot be used.
    static func parseList(_ value: Any?, field: String) -> Result<[ChatMessage], ChatMessageProblem> {
        guard let list = value as? [Any] else { return fail("\"\(field)\" is not a list of messages") }
        if list.isEmpty { return fail("\"\(field)\" is an empty list") }
        var out: [ChatMessage] = []
        for (i, item) in list.enumerated() {
            let at = "\(field)[\(i)]"
            guard let m = item as? [String: Any] else { return fail("\(at) is not an object with \"role\" and \"content\"") }
            switch parse(m, at: at) {
            case .success(let message): out.append(message)
            case .failure(let problem): return .failure(problem)
            }
        }
        return .success(out)
    }

    /// One message object: role/content, or ShareGPT's from/value.
    static func parse(_ m: [String: Any], at: String) -> Result<ChatMessage, ChatMessageProblem> {
        if m["role"] == nil, m["from"] != nil { return parseShareGPT(m, at: at) }
        guard let roleName = m["role"] as? String else { return fail("\(at) has no string \"role\"") }
        if let refusal = unsupportedRole(roleName, at: at) { return fail(refusal) }
        if m["tool_calls"] != nil && !(m["tool_calls"] is NSNull) {
            return fail("\(at) has \"tool_calls\": tool calling is not supported (the ChatML template here renders only "
                            + "system, user and assistant text); give the call as the assistant's text content instead")
        }
        guard let role = ChatRole(rawValue: roleName) else { return fail(unknownRole(roleName, at: at)) }
        return contentText(m["content"], at: at).map { ChatMessage(role, $0) }
    }

    private static func parseShareGPT(_ m: [String: Any], at: String) -> Result<ChatMessage, ChatMessageProblem> {
        guard let from = m["from"] as? String else { return fail("\(at) has no string \"from\" (ShareGPT)") }
        guard let role = shareGPTRoles[from] else {
            if let refusal = unsupportedRole(from, at: at) { return fail(refusal) }
            return fail("\(at) has ShareGPT speaker \"from\": \"\(from)\"; use human, gpt or system "
                            + "(or OpenAI messages with role user, assistant or system)")
        }
        guard let value = m["value"] as? String else { return fail("\(at) has no string \"value\" (ShareGPT)") }
        return .success(ChatMessage(role, value))
    }

    /// Why a role TRL knows is refused here, or nil for other names.
    private static func unsupportedRole(_ name: String, at: String) -> String? {
        switch name {
        case "tool", "function", "ipython", "function_call", "observation":
            return "\(at) has role \"\(name)\" (a tool call or result): tool calling is not supported (the ChatML template here "
                + "renders only system, user and assistant turns); fold the tool output into a user message"
        case "developer":
            return "\(at) has role \"developer\" (OpenAI's newer name for the system message), which the ChatML template here "
                + "does not render; use role \"system\""
        default:
            return nil
        }
    }

    private static func unknownRole(_ name: String, at: String) -> String {
        let aliases: [String: ChatRole] = ["human": .user, "usr": .user, "gpt": .assistant, "model": .assistant, "bot": .assistant,
                                           "ai": .assistant, "sys": .system]
        let lower = name.lowercased()
        let near = ChatRole(rawValue: lower) ?? aliases[lower]
        return "\(at) has unknown role \"\(name)\";" + (near.map { " did you mean \"\($0.rawValue)\"?" } ?? "")
            + " use system, user or assistant"
    }

    /// A message's content: a string, or a list of text parts joined in order.
    private static func contentText(_ value: Any?, at: String) -> Result<String, ChatMessageProblem> {
        if let s = value as? String { return .success(s) }
        guard let parts = value as? [Any] else { return fail("\(at) has no string \"content\"") }
        var text = ""
        for (j, part) in parts.enumerated() {
            guard let p = part as? [String: Any], let type = p["type"] as? String else {
                return fail("\(at).content[\(j)] is not a content part {\"type\": \"text\", \"text\": ...}")
            }
            guard type == "text" else {
                return fail("\(at).content[\(j)] is a \"\(type)\" part: only text parts are supported (a text-only model); "
                                + "give {\"type\": \"text\", \"text\": ...} parts or a string")
            }
            guard let t = p["text"] as? String else { return fail("\(at).content[\(j)] has no string \"text\"") }
            text += t
        }
        return .success(text)
    }
}
