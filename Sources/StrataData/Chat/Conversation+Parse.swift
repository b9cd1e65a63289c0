// Turns one parsed JSONL object into a `Conversation`, recognising TRL's three
// dataset shapes by their keys (messages / prompt+completion / text) plus
// ShareGPT's "conversations" (from/value turns, read as messages), and returning
// a reason string for anything it cannot use. Message lists are read by
// ChatMessage+Parse.swift (content parts, refusals of tool/developer roles).
// Extra keys (ids, metadata) are ignored. Leaves out: TRL's preference keys
// (chosen/rejected).

import Foundation

extension Conversation {
    /// The sample a JSONL object describes, or a reason it is unusable (format chosen by keys).
    public static func parse(_ object: [String: Any]) -> Result<Conversation, SFTLineProblem> {
        let messagesKey = object["messages"] != nil ? "messages" : object["conversations"] != nil ? "conversations" : nil
        let hasPC = object["prompt"] != nil || object["completion"] != nil
        let hasText = object["text"] != nil
        let kinds = [object["messages"] != nil, object["conversations"] != nil, hasPC, hasText].filter { $0 }.count
        if object["chosen"] != nil && object["rejected"] != nil && object["completion"] == nil {
            return .failure(.init("a preference pair (\"chosen\"/\"rejected\"), not an SFT sample; train it with strata reward or "
                                  + "strata dpo, or give \"messages\""))
        }
        if kinds == 0 {
            return .failure(.init("no \"messages\", \"conversations\" (ShareGPT), \"prompt\"/\"completion\" or \"text\" field"))
        }
        if kinds > 1 {
            return .failure(.init("more than one of \"messages\", \"conversations\", \"prompt\"/\"completion\", \"text\"; "
                                  + "keep one format per line"))
        }
        let built: Result<Conversation, SFTLineProblem>
        if let key = messagesKey {
            built = messageList(object[key], field: key).map { Conversation.chat($0) }
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

    /// A JSON list of messages (TRL's formats; see ChatMessage.parseList), or a reason naming `field` and the index.
    public static func messageList(_ value: Any?, field: String) -> Result<[ChatMessage], SFTLineProblem> {
        ChatMessage.parseList(value, field: field).mapError { SFTLineProblem($0.reason) }
    }
}

/// Why one JSONL line is not a usable SFT sample.
public struct SFTLineProblem: Error, Sendable, Equatable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
}
