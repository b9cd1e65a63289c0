// Rule rewards: checks computed from the reply (and the prompt's columns) with
// no model. Configuration is Codable — a recipe lists entries like
// `{type: instruction, weight: 1.0}` — and is refused at construction when a
// field is unknown, does not apply to the rule, or is out of range, naming the
// field. Each rule is its own reward source (own metrics); `RuleRewardSource
// .entries` turns a list of configs into weighted entries. The instruction and
// format rules reuse StrataEval's instruction checkers, so a reward of 1 is
// exactly a reply the instruction evaluation counts as correct.
// Scores: checks give 1 (pass) or 0; penalties give 0 or a negative number.
// Leaves out: model-graded rules and partial credit.

import Foundation
import StrataCore
import StrataEval

public struct RewardRuleConfig: Codable, Equatable, Sendable {
    public enum RuleType: String, Codable, Sendable, CaseIterable {
        /// The normalised reply equals the normalised `column` value (default column "answer").
        case exactMatch = "exact_match"
        /// The instruction checker of the task's kind (`kind`, or the `kind_column` value) against `column`.
        case instruction
        /// The reply has the shape the kind asks for, right or wrong (the checker's format test).
        case format
        /// The reply matches `pattern` (whole reply with `full_match`, else anywhere).
        case regex
        /// The reply is one word.
        case oneWord = "one_word"
        /// The reply is a JSON object with a string under `key` (default "answer").
        case jsonObject = "json_object"
        /// −per_token · max(0, reply tokens − max_tokens).
        case lengthPenalty = "length_penalty"
        /// −penalty when the reply was cut off before its end-of-turn token.
        case missingEndOfTurn = "missing_end_of_turn"
    }

    public var type: RuleType
    public var weight: Double = 1
    /// Metric and lineage name; defaults to the type.
    public var name: String?
    public var column: String?
    public var kindColumn: String?
    public var kind: InstructionKind?
    public var pattern: String?
    public var fullMatch: Bool?
    public var key: String?
    public var maxTokens: Int?
    public var perToken: Double?
    public var penalty: Double?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case type, weight, name, column, kindColumn = "kind_column", kind, pattern, fullMatch = "full_match", key
        case maxTokens = "max_tokens", perToken = "per_token", penalty
    }

    public init(type: RuleType, weight: Double = 1, name: String? = nil) {
        self.type = type; self.weight = weight; self.name = name
    }

    /// The fields each type reads besides type, weight and name.
    static func fields(_ t: RuleType) -> [CodingKeys] {
        switch t {
        case .exactMatch: return [.column]
        case .instruction, .format: return [.column, .kindColumn, .kind]
        case .regex: return [.pattern, .fullMatch]
        case .oneWord: return []
        case .jsonObject: return [.key]
        case .lengthPenalty: return [.maxTokens, .perToken]
        case .missingEndOfTurn: return [.penalty]
        }
    }

    public init(from decoder: Decoder) throws {
        let raw = try decoder.container(keyedBy: RewardConfigKey.self)
        let known = CodingKeys.allCases.map(\.rawValue)
        for k in raw.allKeys where !known.contains(k.stringValue) {
            let near = RewardConfigSpelling.nearest(k.stringValue, in: known)
            throw StrataError.config("reward rule \(RewardRuleConfig.path(decoder))", "unknown field '\(k.stringValue)'",
                                     fix: "did you mean '\(near)'? fields: \(known.joined(separator: ", "))")
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard let typeName = try? c.decode(String.self, forKey: .type) else {
            throw StrataError.config("reward rule \(RewardRuleConfig.path(decoder))", "field 'type' is missing or not a string",
                                     fix: "give type: one of \(RuleType.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard let t = RuleType(rawValue: typeName) else {
            let names = RuleType.allCases.map(\.rawValue)
            let near = RewardConfigSpelling.nearest(typeName, in: names)
            throw StrataError.config("reward rule \(RewardRuleConfig.path(decoder))", "field 'type' is \"\(typeName)\"",
                                     fix: "did you mean \"\(near)\"? types: \(names.joined(separator: ", "))")
        }
        type = t
        weight = try c.decodeIfPresent(Double.self, forKey: .weight) ?? 1
        name = try c.decodeIfPresent(String.self, forKey: .name)
        column = try c.decodeIfPresent(String.self, forKey: .column)
        kindColumn = try c.decodeIfPresent(String.self, forKey: .kindColumn)
        kind = try c.decodeIfPresent(InstructionKind.self, forKey: .kind)
        pattern = try c.decodeIfPresent(String.self, forKey: .pattern)
        fullMatch = try c.decodeIfPresent(Bool.self, forKey: .fullMatch)
        key = try c.decodeIfPresent(String.self, forKey: .key)
        maxTokens = try c.decodeIfPresent(Int.self, forKey: .maxTokens)
        perToken = try c.decodeIfPresent(Double.self, forKey: .perToken)
        penalty = try c.decodeIfPresent(Double.self, forKey: .penalty)
    }

    static func path(_ decoder: Decoder) -> String {
        decoder.codingPath.isEmpty ? "" : decoder.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
    }

    /// The fields that are set, by key.
    var setFields: [CodingKeys] {
        let all: [(CodingKeys, Bool)] = [(.column, column != nil), (.kindColumn, kindColumn != nil), (.kind, kind != nil),
                                         (.pattern, pattern != nil), (.fullMatch, fullMatch != nil), (.key, key != nil),
                                         (.maxTokens, maxTokens != nil), (.perToken, perToken != nil), (.penalty, penalty != nil)]
        return all.filter(\.1).map(\.0)
    }
}

struct RewardConfigKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
