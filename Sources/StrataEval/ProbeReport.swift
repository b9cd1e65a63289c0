// What a probe evaluation produces: one ProbeResult per probe (candidate scores,
// rank, greedy completion) and ProbeScore tallies overall, by period, by domain and
// by period × domain. Tallies keep integer counts so they can be merged exactly.
// Leaves out: confidence intervals (counts are reported so readers can add them).

import Foundation

/// The outcome of one probe.
public struct ProbeResult: Codable, Equatable, Sendable {
    public var prompt: String
    public var answer: String
    public var period: String
    public var domain: String
    public var factID: String?
    /// Summed log-probability of " " + candidate after the prompt; the answer first, then the distractors.
    public var candidateLogProbs: [Double]
    /// Tokens in each candidate continuation (for the length-normalised score).
    public var candidateTokens: [Int]
    /// 1 + the number of distractors scoring at least as high as the answer (ties count against it).
    public var answerRank: Int
    /// Whether the answer has the highest summed log-probability.
    public var correct: Bool
    /// Whether the answer has the highest mean (per-token) log-probability.
    public var correctNormalized: Bool
    /// The candidate with the highest summed log-probability (first one on ties).
    public var predicted: String
    /// The greedy completion after the prompt, trimmed; nil when exact match was not evaluated.
    public var completion: String?
    public var exactMatch: Bool

    enum CodingKeys: String, CodingKey {
        case prompt, answer, period, domain, predicted, completion, correct
        case factID = "fact_id", candidateLogProbs = "candidate_log_probs", candidateTokens = "candidate_tokens"
        case answerRank = "answer_rank", correctNormalized = "correct_normalized", exactMatch = "exact_match"
    }

    /// Length-normalised (mean per-token) scores, the answer first.
    public var candidateMeanLogProbs: [Double] {
        zip(candidateLogProbs, candidateTokens).map { $0 / Double(max(1, $1)) }
    }
}

/// Tallies over a group of probes.
public struct ProbeScore: Codable, Equatable, Sendable {
    public var count: Int
    public var correct: Int
    public var correctNormalized: Int
    public var exactMatches: Int
    /// Accuracy a random ranking would reach (mean of 1 / candidates).
    public var chance: Double
    public var accuracy: Double
    public var accuracyNormalized: Double
    public var exactMatch: Double

    enum CodingKeys: String, CodingKey {
        case count, correct, chance, accuracy
        case correctNormalized = "correct_normalized", exactMatches = "exact_matches"
        case accuracyNormalized = "accuracy_normalized", exactMatch = "exact_match"
    }

    public init<S: Sequence>(_ results: S) where S.Element == ProbeResult {
        var n = 0, c = 0, cn = 0, em = 0, ch = 0.0
        for r in results {
            n += 1
            if r.correct { c += 1 }
            if r.correctNormalized { cn += 1 }
            if r.exactMatch { em += 1 }
            ch += 1 / Double(r.candidateLogProbs.count)
        }
        self.init(count: n, correct: c, correctNormalized: cn, exactMatches: em, chanceSum: ch)
    }

    init(count: Int, correct: Int, correctNormalized: Int, exactMatches: Int, chanceSum: Double) {
        self.count = count; self.correct = correct; self.correctNormalized = correctNormalized; self.exactMatches = exactMatches
        let n = Double(max(1, count))
        chance = chanceSum / n
        accuracy = Double(correct) / n
        accuracyNormalized = Double(correctNormalized) / n
        exactMatch = Double(exactMatches) / n
    }

    /// The tally of the union of disjoint groups.
    public static func merged(_ parts: [ProbeScore]) -> ProbeScore {
        ProbeScore(count: parts.reduce(0) { $0 + $1.count }, correct: parts.reduce(0) { $0 + $1.correct },
                   correctNormalized: parts.reduce(0) { $0 + $1.correctNormalized },
                   exactMatches: parts.reduce(0) { $0 + $1.exactMatches },
                   chanceSum: parts.reduce(0) { $0 + $1.chance * Double($1.count) })
    }
}

/// All of a probe evaluation.
public struct ProbeReport: Codable, Equatable, Sendable {
    public var overall: ProbeScore
    public var byPeriod: [String: ProbeScore]
    public var byDomain: [String: ProbeScore]
    /// Keyed "period/domain".
    public var byPeriodDomain: [String: ProbeScore]
    /// Whether greedy completions were run (otherwise every exact-match figure is 0 and meaningless).
    public var exactMatchEvaluated: Bool
    /// Per-probe details (empty when the evaluation was asked not to keep them).
    public var results: [ProbeResult]

    enum CodingKeys: String, CodingKey {
        case overall, results
        case byPeriod = "by_period", byDomain = "by_domain", byPeriodDomain = "by_period_domain"
        case exactMatchEvaluated = "exact_match_evaluated"
    }

    public init(results: [ProbeResult], exactMatchEvaluated: Bool, keepResults: Bool = true) {
        overall = ProbeScore(results)
        byPeriod = Dictionary(grouping: results, by: \.period).mapValues { ProbeScore($0) }
        byDomain = Dictionary(grouping: results, by: \.domain).mapValues { ProbeScore($0) }
        byPeriodDomain = Dictionary(grouping: results) { $0.period + "/" + $0.domain }.mapValues { ProbeScore($0) }
        self.exactMatchEvaluated = exactMatchEvaluated
        self.results = keepResults ? results : []
    }

    /// Probes of periods other than the new-knowledge one ("after"), in domain `domain`: old knowledge there.
    public func oldKnowledge(domain: String) -> ProbeScore? {
        let parts = byPeriodDomain.compactMap { key, score -> ProbeScore? in
            let (period, d) = ProbeReport.split(key)
            return period != ProbeEval.newKnowledgePeriod && d == domain ? score : nil
        }
        return parts.isEmpty ? nil : ProbeScore.merged(parts)
    }

    /// Probes of every period other than the new-knowledge one.
    public var oldKnowledge: ProbeScore? {
        let parts = byPeriod.filter { $0.key != ProbeEval.newKnowledgePeriod }.map(\.value)
        return parts.isEmpty ? nil : ProbeScore.merged(parts)
    }

    static func split(_ key: String) -> (period: String, domain: String) {
        guard let slash = key.firstIndex(of: "/") else { return (key, "") }
        return (String(key[..<slash]), String(key[key.index(after: slash)...]))
    }
}
