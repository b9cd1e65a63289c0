// A rule reward (see RewardRules.swift for the types and their fields) as a
// reward source: the config is checked once at construction (fields that do
// not apply, bad numbers, a regex that does not compile), the prompt columns
// a rule needs can be checked against a prompt file before training, and
// scoring is pure. Leaves out: rules that call models or the network.

import Foundation
import StrataCore
import StrataEval

public final class RuleRewardSource: RewardSource {
    public let identity: RewardSourceIdentity
    public let config: RewardRuleConfig
    let regex: NSRegularExpression?

    /// Throws a `.config` error naming the field when the rule is misconfigured.
    public init(_ config: RewardRuleConfig) throws {
        let name = config.name ?? config.type.rawValue
        let op = "reward rule \(name) (type \(config.type.rawValue))"
        let uses = RewardRuleConfig.fields(config.type)
        if let extra = config.setFields.first(where: { !uses.contains($0) }) {
            throw StrataError.config(op, "field '\(extra.rawValue)' does not apply to this rule",
                                     fix: uses.isEmpty ? "remove it; this rule takes only type, weight and name"
                                                       : "remove it; this rule reads: \(uses.map(\.rawValue).joined(separator: ", "))")
        }
        try RuleRewardSource.checkNumbers(config, op)
        if config.type == .regex {
            guard let p = config.pattern, !p.isEmpty else {
                throw StrataError.config(op, "field 'pattern' is missing", fix: "give a regular expression, e.g. pattern: \"^[0-9]+$\"")
            }
            do { regex = try NSRegularExpression(pattern: p) } catch {
                throw StrataError.config(op, "field 'pattern' \"\(p)\" is not a valid regular expression", fix: "fix the pattern (ICU syntax)")
            }
        } else { regex = nil }
        if config.kind != nil && config.kindColumn != nil {
            throw StrataError.config(op, "both 'kind' and 'kind_column' are set", fix: "give a fixed kind or the column holding it, not both")
        }
        self.config = config
        var params: [String: String] = ["weight": "\(config.weight)"]
        for (k, v) in RuleRewardSource.describe(config) { params[k] = v }
        identity = RewardSourceIdentity(kind: .rule, name: name, parameters: params)
    }

    /// One weighted entry per rule config, in order.
    public static func entries(_ configs: [RewardRuleConfig]) throws -> [WeightedRewards.Entry] {
        try configs.map { WeightedRewards.Entry(try RuleRewardSource($0), weight: $0.weight) }
    }

    private static func checkNumbers(_ c: RewardRuleConfig, _ op: String) throws {
        guard c.weight.isFinite else { throw StrataError.config(op, "field 'weight' is \(c.weight)", fix: "give a finite number") }
        if c.type == .lengthPenalty {
            guard let m = c.maxTokens, m >= 0 else {
                throw StrataError.config(op, "field 'max_tokens' is \(c.maxTokens.map(String.init) ?? "missing")",
                                         fix: "give the reply length (tokens) above which the penalty starts, ≥ 0")
            }
            if let p = c.perToken, !(p >= 0 && p.isFinite) {
                throw StrataError.config(op, "field 'per_token' is \(p)", fix: "give a penalty per extra token ≥ 0 (the score is its negative)")
            }
        }
        if let p = c.penalty, !(p >= 0 && p.isFinite) {
            throw StrataError.config(op, "field 'penalty' is \(p)", fix: "give a penalty ≥ 0 (the score is its negative)")
        }
        for (field, v) in [("column", c.column), ("kind_column", c.kindColumn), ("key", c.key)] where v?.isEmpty == true {
            throw StrataError.config(op, "field '\(field)' is empty", fix: "give a column or key name, or leave the field out")
        }
    }

    private static func describe(_ c: RewardRuleConfig) -> [String: String] {
        var p: [String: String] = [:]
        p["column"] = c.column; p["kind_column"] = c.kindColumn; p["kind"] = c.kind?.rawValue; p["pattern"] = c.pattern
        p["full_match"] = c.fullMatch.map { "\($0)" }; p["key"] = c.key; p["max_tokens"] = c.maxTokens.map(String.init)
        p["per_token"] = c.perToken.map { "\($0)" }; p["penalty"] = c.penalty.map { "\($0)" }
        return p
    }

    var answerColumn: String { config.column ?? "answer" }
    var kindColumn: String { config.kindColumn ?? "kind" }

    /// Prompt columns this rule reads.
    public var requiredColumns: [String] {
        switch config.type {
        case .exactMatch: return [answerColumn]
        case .instruction, .format: return config.kind == nil ? [kindColumn, answerColumn] : [answerColumn]
        case .regex, .oneWord, .jsonObject, .lengthPenalty, .missingEndOfTurn: return []
        }
    }

    /// Throws naming file:line of the first prompt lacking a column this rule reads, or holding an unknown kind.
    public func check(_ prompts: PromptDataset) throws {
        for c in requiredColumns { try prompts.requireColumn(c, for: "reward rule \(identity.name)") }
        guard config.type == .instruction || config.type == .format, config.kind == nil else { return }
        for (i, r) in prompts.records.enumerated() { _ = try kind(of: r, location: prompts.location(i)) }
    }

    public func score(_ items: [RewardItem]) throws -> [Double] {
        try items.enumerated().map { i, item in try score(item, location: "reply \(i)") }
    }

    func score(_ item: RewardItem, location: String) throws -> Double {
        let reply = item.reply
        switch config.type {
        case .exactMatch:
            let answer = try column(answerColumn, of: item.prompt, location: location)
            return InstructionChecker.normalize(reply) == InstructionChecker.normalize(answer) ? 1 : 0
        case .instruction, .format:
            let kind = try kind(of: item.prompt, location: location)
            let answer = try column(answerColumn, of: item.prompt, location: location)
            // World fact prompts carry their reference sentence ("reply" column): its lead may come before the answer.
            let lead = InstructionTask(kind: kind, messages: [], expected: answer,
                                       sentence: item.prompt.text(InstructionPrompts.Column.reply)).lead
            let pass = config.type == .instruction ? InstructionChecker.check(kind, reply: reply, expected: answer, lead: lead)
                                                   : InstructionChecker.followsFormat(kind, reply: reply, expected: answer, lead: lead)
            return pass ? 1 : 0
        case .regex:
            let range = NSRange(reply.startIndex..., in: reply)
            guard let m = regex!.firstMatch(in: reply, range: range) else { return 0 }
            return config.fullMatch == true && m.range != range ? 0 : 1
        case .oneWord:
            return InstructionChecker.followsFormat(.oneWord, reply: reply, expected: reply) ? 1 : 0
        case .jsonObject:
            return RuleRewardSource.jsonString(reply, key: config.key ?? "answer") ? 1 : 0
        case .lengthPenalty:
            return -(config.perToken ?? 0.01) * Double(max(0, item.replyTokens - config.maxTokens!))
        case .missingEndOfTurn:
            return item.finish == .truncated ? -(config.penalty ?? 1) : 0
        }
    }

    private func column(_ name: String, of prompt: PromptRecord, location: String) throws -> String {
        guard let v = prompt.text(name) else {
            throw StrataError.data("reward rule \(identity.name), \(location)", "the prompt's column \"\(name)\" is "
                                   + (prompt.columns[name].map { $0.typeName } ?? "missing"),
                                   fix: "give every prompt a string \"\(name)\" column (check prompt files with RuleRewardSource.check)")
        }
        return v
    }

    private func kind(of prompt: PromptRecord, location: String) throws -> InstructionKind {
        if let k = config.kind { return k }
        let raw = try column(kindColumn, of: prompt, location: location)
        guard let k = InstructionKind(rawValue: raw) else {
            let names = InstructionKind.allCases.map(\.rawValue)
            let near = RewardConfigSpelling.nearest(raw, in: names)
            throw StrataError.data("reward rule \(identity.name), \(location)", "column \"\(kindColumn)\" is \"\(raw)\", not an instruction kind",
                                   fix: "did you mean \"\(near)\"? kinds: \(names.joined(separator: ", "))")
        }
        return k
    }

    /// Whether the whole (trimmed) reply is a JSON object with a string under `key`.
    static func jsonString(_ reply: String, key: String) -> Bool {
        if key == "answer" { return InstructionChecker.jsonAnswer(reply) != nil }
        let t = reply.trimmingCharacters(in: .whitespacesAndNewlines)
        guard t.hasPrefix("{"), let obj = try? JSONSerialization.jsonObject(with: Data(t.utf8)) as? [String: Any] else { return false }
        return obj[key] is String
    }
}
