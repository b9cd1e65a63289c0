// Turns one parsed JSONL object into a `Conversation`, recognising TRL's three
// dataset shapes by their keys (messages / prompt+completion / text) and
// returning a reason string for anything it cannot use. Extra keys (ids,
// metadata) are ignored. Leaves out: TRL's preference keys (chosen/rejected).

import Foundation

extension Conversation {
    /// The sample a JSONL object describes, or a reason it is unusable (format chosen by keys).
    public static func parse(_ object: [String: Any]) -> Result<Conversation, SFTLineProblem> {
        let hasMessages = object["messages"] != nil
        let hasPC = object["prompt"] != nil || object["completion"] != nil
        let hasText = object["text"] != nil
        let kinds = [hasMessages, hasPC, hasText].filter { $0 }.count
        if kinds == 0 {
            return .failure(.init("no \"messages\", \"prompt\"/\"completion\" or \"text\" field"))
        }
        if kinds > 1 {
            return .failure(.init("more than one of \"messages\", \"prompt\"/\"completion\", \"text\"; keep one format per line"))
        }
        let built: Result<Conversation, SFTLineProblem>
        if hasMessages {
            built = messageList(object["messages"], field: "messages").map { Conversation.chat($0) }
        } else if hasText {
            guard let text = object["text"] as? String else { return .failure(.init("\"text\" is not a string")) }
            built = .success(.text(text))
        } else {
            built = promptCompletion(object)
        }
        return built.flatMap { c in c.problem().map { .failure(.init($0)) } ?? .success(c) }
    }

    private static func promptCompletion(_ object: [String: Any]) -> Result<Conversation, SFTLineProblem> {
        guard let p = object["prompt"] else { return .failure(.init("\"completion\" without \"prompt\"")) }
        guard let c = object["completion"] else { return .failure(.init("\"prompt\" without \"completion\"")) }
        if let ps = p as? String, let cs = c as? String { return .success(.promptCompletion(ps, cs)) }
        if p is String || c is String {
            return .failure(.init("\"prompt\" and \"completion\" must both be strings or both be message lists"))
        }
        return messageList(p, field: "prompt").flatMap { prompt in
            messageList(c, field: "completion").map { completion in
                Conversation(format: .conversationalPromptCompletion, messages: prompt + completion,
                             promptCount: prompt.count)
            }
        }
    }

    /// A JSON list of {"role", "content"} objects as messages, or a reason naming `field` and the index.
    public static func messageList(_ value: Any?, field: String) -> Result<[ChatMessage], SFTLineProblem> {
        guard let list = value as? [Any] else { return .failure(.init("\"\(field)\" is not a list of messages")) }
        if list.isEmpty { return .failure(.init("\"\(field)\" is an empty list")) }
        var out: [ChatMessage] = []
        for (i, item) in list.enumerated() {
            guard let m = item as? [String: Any] else {
                return .failure(.init("\(field)[\(i)] is not an object with \"role\" and \"content\""))
            }
            guard let roleName = m["role"] as? String else { return .failure(.init("\(field)[\(i)] has no string \"role\"")) }
            guard let role = ChatRole(rawValue: roleName) else {
                return .failure(.init("\(field)[\(i)] has unknown role \"\(roleName)\"; use system, user or assistant"))
            }
            guard let content = m["content"] as? String else {
                return .failure(.init("\(field)[\(i)] has no string \"content\""))
            }
            out.append(ChatMessage(role, content))
        }
        return .success(out)
    }
}

/// Why one JSONL line is not a usable SFT sample.
public struct SFTLineProblem: Error, Sendable, Equatable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
}
