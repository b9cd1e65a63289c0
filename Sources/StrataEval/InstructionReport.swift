// InstructionReport: what one instruction evaluation measured — exact-match
// accuracy overall, per task kind and (for fact questions) per period, mean reply
// length in tokens — as sorted-key JSON and as flat metrics:
// instr_acc, instr_acc.<kind>, instr_acc.fact.<period>, instr_count[.<kind>], instr_len,
// the share of replies in the asked-for format: instr_format, instr_format.<kind>, and what guessing
// would score on the fact questions: instr_chance.fact.<period>.
// Leaves out: timing (reports are reproducible byte for byte), confidence intervals.

import Foundation
import StrataCore

/// One task's outcome.
public struct InstructionResult: Codable, Equatable, Sendable {
    public var kind: InstructionKind
    public var instruction: String
    public var expected: String
    public var reply: String
    public var correct: Bool
    /// Generated tokens (nil when scored from text only).
    public var replyTokens: Int?
    public var period: String?
    /// The chance that a guess of the right kind is right (InstructionTask.chance); nil for generated tasks.
    public var chance: Double?
    /// The reply has the requested shape (see InstructionChecker.followsFormat), right or wrong.
    public var followsFormat: Bool?
}

public struct InstructionReport: Codable, Equatable, Sendable {
    public struct Score: Codable, Equatable, Sendable {
        public var correct: Int
        public var count: Int
        /// correct / count (0 when there are no tasks).
        public var accuracy: Double { count == 0 ? 0 : Double(correct) / Double(count) }

        public init(correct: Int = 0, count: Int = 0) { self.correct = correct; self.count = count }
        mutating func add(_ ok: Bool) { count += 1; if ok { correct += 1 } }
    }

    public var overall: Score
    /// Keyed by `InstructionKind.rawValue`; kinds without tasks are absent.
    public var byKind: [String: Score]
    /// Fact questions only, keyed by period.
    public var factByPeriod: [String: Score]
    /// Fact questions only, keyed by period: the accuracy a reply naming a value of the asked relation at random
    /// would have (the mean of the tasks' chances); absent for a period with a task that has no chance.
    public var factChanceByPeriod: [String: Double]?
    /// Mean generated tokens per reply (nil when scored from text only).
    public var meanReplyTokens: Double?
    /// Replies in the requested format (right or wrong), overall and per kind; nil for results without the check.
    public var format: Score?
    public var formatByKind: [String: Score]?
    /// Per-task outcomes (empty unless kept).
    public var results: [InstructionResult]

    public init(results: [InstructionResult], keepResults: Bool = true) {
        var overall = Score(), byKind: [String: Score] = [:], byPeriod: [String: Score] = [:]
        for r in results {
            overall.add(r.correct)
            byKind[r.kind.rawValue, default: Score()].add(r.correct)
            if r.kind == .fact, let p = r.period { byPeriod[p, default: Score()].add(r.correct) }
        }
        self.overall = overall
        self.byKind = byKind
        self.factByPeriod = byPeriod
        let facts = Dictionary(grouping: results.filter { $0.kind == .fact && $0.period != nil }, by: { $0.period! })
        let chances = facts.compactMapValues { rs -> Double? in
            let c = rs.compactMap(\.chance)
            return c.count == rs.count ? c.reduce(0, +) / Double(c.count) : nil
        }
        factChanceByPeriod = chances.isEmpty ? nil : chances
        let lengths = results.compactMap(\.replyTokens)
        meanReplyTokens = lengths.isEmpty || lengths.count != results.count
            ? nil : Double(lengths.reduce(0, +)) / Double(lengths.count)
        self.results = keepResults ? results : []
        if results.allSatisfy({ $0.followsFormat != nil }) {
            var f = Score(), fk: [String: Score] = [:]
            for r in results {
                f.add(r.followsFormat!)
                fk[r.kind.rawValue, default: Score()].add(r.followsFormat!)
            }
            format = f; formatByKind = fk
        }
    }

    /// Flat metrics (see the header); kinds and periods without tasks have no entry.
    public func metricsDictionary() -> [String: Double] {
        var m: [String: Double] = ["instr_acc": overall.accuracy, "instr_count": Double(overall.count)]
        for (kind, s) in byKind {
            m["instr_acc." + kind] = s.accuracy
            m["instr_count." + kind] = Double(s.count)
        }
        for (period, s) in factByPeriod { m["instr_acc.fact." + period] = s.accuracy }
        for (period, c) in factChanceByPeriod ?? [:] { m["instr_chance.fact." + period] = c }
        if let len = meanReplyTokens { m["instr_len"] = len }
        if let f = format, f.count > 0 { m["instr_format"] = f.accuracy }
        for (kind, s) in formatByKind ?? [:] { m["instr_format." + kind] = s.accuracy }
        return m
    }

    /// Sorted-key JSON.
    public func jsonData(pretty: Bool = true) throws -> Data { try StrataJSON.encode(self, pretty: pretty) }
}
