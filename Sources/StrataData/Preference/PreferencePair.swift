// One preference pair in TRL's conventions: a prompt, a chosen and a rejected
// response, and an optional label ("type"). Conversational pairs hold message
// lists (prompt ends with a user turn, responses are assistant turns); plain
// pairs hold strings, kept as one user and one assistant message. Encodes as
// TRL's explicit-prompt JSON. Parsing lives in PreferencePair+Parse.swift,
// file loading in PreferenceDataset.swift, rendering in PreferenceRender.swift.
// An optional "margin" (TRL's per-pair Bradley–Terry margin) is kept too.
// Leaves out: tool turns, multimodal content, per-response scores.

import Foundation
import StrataCore

/// Labels used by the synthetic world's preference data (the "type" field).
public enum PreferenceType: String, Codable, Sendable, CaseIterable {
    /// Rejected states another entity's value of the same relation.
    case wrongFact = "wrong_fact"
    /// Rejected is a verbose hedging non-answer.
    case hedging
    /// Rejected refuses a benign request.
    case refusal
    /// The request is (fictionally) harmful: chosen refuses, rejected complies.
    case harmful
}

public struct PreferencePair: Sendable, Equatable {
    public enum Format: String, Codable, Sendable, CaseIterable {
        /// Message lists, rendered with a chat template.
        case conversational
        /// Plain strings, rendered without a template (prompt, then response and end of text).
        case plain
    }

    public var format: Format
    /// Conversational: messages ending in a user turn. Plain: one user message holding the prompt text.
    public var prompt: [ChatMessage]
    /// Conversational: assistant turns. Plain: one assistant message holding the response text.
    public var chosen: [ChatMessage]
    public var rejected: [ChatMessage]
    /// Optional label, e.g. "wrong_fact", "hedging", "refusal", "harmful".
    public var type: String?
    /// TRL's optional "margin" column: the reward model is trained on −log σ(r_chosen − r_rejected − margin).
    public var margin: Double?

    public init(format: Format = .conversational, prompt: [ChatMessage], chosen: [ChatMessage], rejected: [ChatMessage],
                type: String? = nil, margin: Double? = nil) {
        self.format = format
        self.prompt = prompt
        self.chosen = chosen
        self.rejected = rejected
        self.type = type
        self.margin = margin
    }

    /// A conversational single-turn pair: one user question, one assistant reply each.
    public static func chat(_ question: String, chosen: String, rejected: String, system: String? = nil,
                            type: String? = nil) -> PreferencePair {
        PreferencePair(prompt: (system.map { [ChatMessage(.system, $0)] } ?? []) + [ChatMessage(.user, question)],
                       chosen: [ChatMessage(.assistant, chosen)], rejected: [ChatMessage(.assistant, rejected)], type: type)
    }

    /// A plain (string) pair.
    public static func plain(_ prompt: String, chosen: String, rejected: String, type: String? = nil) -> PreferencePair {
        PreferencePair(format: .plain, prompt: [ChatMessage(.user, prompt)], chosen: [ChatMessage(.assistant, chosen)],
                       rejected: [ChatMessage(.assistant, rejected)], type: type)
    }

    /// The text of the last user turn (the request itself).
    public var request: String { prompt.last { $0.role == .user }?.content ?? "" }

    /// Why this pair cannot be trained, or nil when it is valid.
    public func problem() -> String? {
        for (field, list) in [("prompt", prompt), ("chosen", chosen), ("rejected", rejected)] {
            if list.isEmpty { return "\"\(field)\" has no messages" }
            for (i, m) in list.enumerated() where m.content.allSatisfy(\.isWhitespace) {
                return "\(field)[\(i)] (\(m.role.rawValue)) has empty content"
            }
        }
        if chosen == rejected { return "\"chosen\" and \"rejected\" are identical; a pair must differ" }
        if format == .plain { return nil }
        if let p = Conversation.orderProblem(prompt) { return "prompt: \(p)" }
        if prompt.last?.role != .user {
            return "prompt ends with a \(prompt.last!.role.rawValue) turn; it must end with a user turn"
        }
        for (field, list) in [("chosen", chosen), ("rejected", rejected)] {
            for (i, m) in list.enumerated() where m.role != .assistant {
                return "\(field)[\(i)] has role \(m.role.rawValue); responses hold assistant turns only"
            }
        }
        return nil
    }
}

extension PreferencePair: Codable {
    private enum Keys: String, CodingKey { case prompt, chosen, rejected, type, margin }

    /// TRL explicit-prompt JSON: strings for plain pairs, message lists for conversational ones.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        switch format {
        case .plain:
            try c.encode(prompt.map(\.content).joined(separator: "\n"), forKey: .prompt)
            try c.encode(chosen.map(\.content).joined(separator: "\n"), forKey: .chosen)
            try c.encode(rejected.map(\.content).joined(separator: "\n"), forKey: .rejected)
        case .conversational:
            try c.encode(prompt, forKey: .prompt)
            try c.encode(chosen, forKey: .chosen)
            try c.encode(rejected, forKey: .rejected)
        }
        try c.encodeIfPresent(type, forKey: .type)
        try c.encodeIfPresent(margin, forKey: .margin)
    }

    /// Decodes the explicit form written by `encode` (strings or message lists); no validation
    /// beyond types — use `PreferencePair.parse` or `PreferenceDataset.load` for checked input.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        type = try c.decodeIfPresent(String.self, forKey: .type)
        margin = try c.decodeIfPresent(Double.self, forKey: .margin)
        if let p = try? c.decode(String.self, forKey: .prompt) {
            format = .plain
            prompt = [ChatMessage(.user, p)]
            chosen = [ChatMessage(.assistant, try c.decode(String.self, forKey: .chosen))]
            rejected = [ChatMessage(.assistant, try c.decode(String.self, forKey: .rejected))]
        } else {
            format = .conversational
            prompt = try c.decode([ChatMessage].self, forKey: .prompt)
            chosen = try c.decode([ChatMessage].self, forKey: .chosen)
            rejected = try c.decode([ChatMessage].self, forKey: .rejected)
        }
    }
}
