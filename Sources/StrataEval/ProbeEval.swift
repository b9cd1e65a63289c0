// ProbeEval: cloze-probe evaluation of a model. Each probe's candidates (the
// answer and its distractors, each as " " + text after the prompt) are ranked by
// the summed log-probability of their tokens, and the greedy completion of the
// prompt is checked against the answer (exact match). Everything is deterministic:
// no sampling, fixed batching. The batched scoring kernel is in ProbeEval+Scoring.
// Leaves out: calibration metrics, few-shot prompting, answer aliases.

import Foundation
import StrataCore
import StrataModel

public enum ProbeEval {
    /// Probes of this period hold knowledge from after the cutoff; every other period counts as old knowledge.
    public static let newKnowledgePeriod = "after"

    public struct Config: Codable, Equatable, Sendable {
        /// Most sequences (candidate continuations or prompts) per forward pass.
        public var maxBatchRows = 64
        /// Most tokens (rows × padded length) per forward pass.
        public var maxBatchTokens = 8192
        /// Run greedy completions for exact match (about as costly again as the ranking).
        public var exactMatch = true
        /// Greedy tokens generated per probe: the answer's token count plus this many.
        public var completionSlack = 2
        /// Keep per-probe results in the report.
        public var keepResults = true

        public init() {}
    }

    /// Rank every probe's candidates and (unless turned off) check greedy completions.
    public static func evaluate(model: any CausalLM, codec: some TextCodec, probes: [Probe], config: Config = Config()) throws -> ProbeReport {
        let scores = try candidateScores(model: model, codec: codec, probes: probes, config: config)
        let completions = config.exactMatch ? try greedyCompletions(model: model, codec: codec, probes: probes, config: config) : nil
        let results = probes.indices.map { i in
            result(probes[i], scores: scores[i], completion: completions?[i])
        }
        return ProbeReport(results: results, exactMatchEvaluated: config.exactMatch, keepResults: config.keepResults)
    }

    /// For each probe, each candidate's (summed log-probability, token count), the answer first.
    public static func candidateScores(model: any CausalLM, codec: some TextCodec, probes: [Probe],
                                       config: Config = Config()) throws -> [[(logProb: Double, tokens: Int)]] {
        var sequences: [ScoredSequence] = []
        var owner: [Int] = []
        for (i, p) in probes.enumerated() {
            let prompt = codec.textTokens(p.context)
            for cand in p.candidates {
                let cont = codec.textTokens(" " + cand)
                sequences.append(try ScoredSequence(context: prompt, continuation: cont, model: model, what: "probe \(i + 1) ('\(cand)')"))
                owner.append(i)
            }
        }
        let sums = sequenceLogProbs(model: model, sequences: sequences, config: config)
        var out = probes.map { _ in [(logProb: Double, tokens: Int)]() }
        for (k, i) in owner.enumerated() { out[i].append((sums[k], sequences[k].scoredCount)) }
        return out
    }

    /// The greedy completion of each prompt (the answer's token count + `completionSlack` tokens at most,
    /// stopping at end of text), decoded and trimmed.
    public static func greedyCompletions(model: any CausalLM, codec: some TextCodec, probes: [Probe], config: Config = Config()) throws -> [String] {
        let n = model.contextLength
        let budgets = probes.map { max(1, codec.textTokens(" " + $0.answer).count + max(0, config.completionSlack)) }
        let prompts = try probes.enumerated().map { i, p -> [Int32] in
            let ids = codec.textTokens(p.context)
            try checkVocabulary(ids, model: model, what: "probe \(i + 1) prompt")
            guard !ids.isEmpty else { throw StrataError.data("probe eval", "probe \(i + 1): the prompt encodes to no tokens") }
            return Array(ids.suffix(max(1, n - min(budgets[i], n / 2))))  // room for the completion
        }
        let stop = codec.endOfTextToken.map { [$0] } ?? []
        var out: [String] = []
        var start = 0
        while start < prompts.count {
            let end = min(prompts.count, start + max(1, config.maxBatchRows))
            let budget = budgets[start..<end].max()!
            let completions = model.generate(prompts: Array(prompts[start..<end]),
                                             sampling: SamplingConfig(maxNewTokens: budget, temperature: 0, stopTokens: stop))
            for (k, c) in completions.enumerated() {
                let text = codec.tokensText(Array(c.tokens.prefix(budgets[start + k])))
                out.append(text.trimmingCharacters(in: .whitespacesAndNewlines))
            }
            start = end
        }
        return out
    }

    /// Whether a completion answers: it starts with the answer (both trimmed), followed by the end of
    /// the text or a character that cannot continue the answer's last word ("Paris," yes; "Parisian" no).
    public static func isExactMatch(completion: String, answer: String) -> Bool {
        let c = completion.trimmingCharacters(in: .whitespacesAndNewlines).unicodeScalars
        let a = answer.trimmingCharacters(in: .whitespacesAndNewlines).unicodeScalars
        guard !a.isEmpty, c.starts(with: a) else { return false }
        guard let next = c.dropFirst(a.count).first, let last = a.last else { return true }
        let word = CharacterSet.alphanumerics
        return !(word.contains(last) && word.contains(next))
    }

    static func result(_ p: Probe, scores: [(logProb: Double, tokens: Int)], completion: String?) -> ProbeResult {
        let sums = scores.map(\.logProb), counts = scores.map(\.tokens)
        let means = zip(sums, counts).map { $0 / Double(max(1, $1)) }
        let rank = 1 + sums.dropFirst().filter { $0 >= sums[0] }.count
        let rankNormalized = 1 + means.dropFirst().filter { $0 >= means[0] }.count
        let best = sums.indices.max { sums[$0] < sums[$1] || (sums[$0] == sums[$1] && $0 > $1) }!
        return ProbeResult(prompt: p.prompt, answer: p.answer, period: p.period, domain: p.domain, factID: p.factID,
                           candidateLogProbs: sums, candidateTokens: counts, answerRank: rank, correct: rank == 1,
                           correctNormalized: rankNormalized == 1, predicted: p.candidates[best], completion: completion,
                           exactMatch: completion.map { isExactMatch(completion: $0, answer: p.answer) } ?? false)
    }

    static func checkVocabulary(_ ids: [Int32], model: any CausalLM, what: String) throws {
        let v = model.vocabSize
        if let bad = ids.first(where: { $0 < 0 || Int($0) >= v }) {
            throw StrataError.data("probe eval", "\(what): token id \(bad) is outside the model's vocabulary of \(v)",
                                   fix: "evaluate with the tokenizer the checkpoint was trained with (its tokenizer.json)")
        }
    }
}
