// Turns one parsed JSONL object into a `PreferencePair`, recognising TRL's two
// preference shapes by their keys:
//   explicit  {"prompt", "chosen", "rejected"}: all three strings (plain) or all
//             three message lists (conversational);
//   implicit  {"chosen": [msgs], "rejected": [msgs]} (no "prompt"): two whole
//             conversations; the prompt is their longest common prefix of
//             messages, and what follows it on each side must be assistant turns.
// An optional string "type" and a numeric "margin" are kept; other keys are ignored. Problems come back
// as a reason string (the loader adds file:line). Leaves out: the implicit form
// with plain strings (TRL splits those at a character prefix; give a prompt).

import Foundation

extension PreferencePair {
    /// The pair a JSONL object describes, or a reason it is unusable.
    public static func parse(_ object: [String: Any]) -> Result<PreferencePair, PreferenceLineProblem> {
        guard let chosen = object["chosen"] else { return fail("no \"chosen\" field") }
        guard let rejected = object["rejected"] else { return fail("no \"rejected\" field") }
        var type: String?
        if let t = object["type"], !(t is NSNull) {
            guard let s = t as? String else { return fail("\"type\" is not a string") }
            type = s
        }
        var margin: Double?
        if let m = object["margin"], !(m is NSNull) {
            guard let n = m as? NSNumber, !(m is Bool), n.doubleValue.isFinite else {
                return fail("\"margin\" is \(m), not a finite number")
            }
            margin = n.doubleValue
        }
        let built: Result<PreferencePair, PreferenceLineProblem>
        if let prompt = object["prompt"] {
            built = explicit(prompt, chosen, rejected, type: type)
        } else {
            built = implicit(chosen, rejected, type: type)
        }
        return built.flatMap { p in
            var p = p
            p.margin = margin
            return p.problem().map { fail($0) } ?? .success(p)
        }
    }

    private static func fail<T>(_ reason: String) -> Result<T, PreferenceLineProblem> { .failure(.init(reason)) }

    private static func explicit(_ prompt: Any, _ chosen: Any, _ rejected: Any,
                                 type: String?) -> Result<PreferencePair, PreferenceLineProblem> {
        let values = [prompt, chosen, rejected]
        if values.allSatisfy({ $0 is String }) {
            return .success(.plain(prompt as! String, chosen: chosen as! String, rejected: rejected as! String, type: type))
        }
        if values.contains(where: { $0 is String }) {
            return fail("\"prompt\", \"chosen\" and \"rejected\" must all be strings or all be message lists")
        }
        return messageList(prompt, field: "prompt").flatMap { p in
            messageList(chosen, field: "chosen").flatMap { c in
                messageList(rejected, field: "rejected").map { r in
                    PreferencePair(prompt: p, chosen: c, rejected: r, type: type)
                }
            }
        }
    }

    private static func implicit(_ chosen: Any, _ rejected: Any, type: String?) -> Result<PreferencePair, PreferenceLineProblem> {
        if chosen is String || rejected is String {
            return fail("no \"prompt\" field: the implicit-prompt form needs \"chosen\" and \"rejected\" as message lists "
                        + "(or give an explicit \"prompt\")")
        }
        return messageList(chosen, field: "chosen").flatMap { c in
            messageList(rejected, field: "rejected").flatMap { r in split(c, r, type: type) }
        }
    }

    /// Split two whole conversations at their longest common prefix of messages.
    static func split(_ chosen: [ChatMessage], _ rejected: [ChatMessage],
                      type: String?) -> Result<PreferencePair, PreferenceLineProblem> {
        var n = 0
        while n < chosen.count, n < rejected.count, chosen[n] == rejected[n] { n += 1 }
        if chosen == rejected { return fail("\"chosen\" and \"rejected\" are identical; a pair must differ") }
        if n == 0 { return fail("implicit prompt: \"chosen\" and \"rejected\" share no leading message, so there is no common prompt") }
        for (field, list) in [("chosen", chosen), ("rejected", rejected)] {
            if list.count == n { return fail("implicit prompt: \(field) has no turns after the shared prompt") }
            for i in n..<list.count where list[i].role != .assistant {
                return fail("implicit prompt: \(field)[\(i)] (\(list[i].role.rawValue)) differs from the other side "
                            + "after the shared prompt; only assistant turns may differ")
            }
        }
        return .success(PreferencePair(prompt: Array(chosen[..<n]), chosen: Array(chosen[n...]),
                                       rejected: Array(rejected[n...]), type: type))
    }

    static func messageList(_ value: Any, field: String) -> Result<[ChatMessage], PreferenceLineProblem> {
        guard value is [Any] else { return fail("\"\(field)\" is not a string or a list of messages") }
        return ChatMessage.parseList(value, field: field).mapError { PreferenceLineProblem($0.reason) }
    }
}

/// Why one JSONL line is not a usable preference pair.
public struct PreferenceLineProblem: Error, Sendable, Equatable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
}
