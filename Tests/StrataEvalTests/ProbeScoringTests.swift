// Probe scoring: ranking against independent per-candidate log-probabilities,
// batched versus one-at-a-time scoring, context truncation, greedy completions,
// exact-match rules, reproducibility, and a tiny model trained on a few facts.

import XCTest
import StrataCore
import StrataTensor
import StrataModel
@testable import StrataEval
import StrataTestSupport

final class ProbeScoringTests: XCTestCase {
    let codec = CharCodec()
    let probes = [
        Probe(prompt: "Alice lives in", answer: "Paris", distractors: ["Lima", "Oslo", "Rome"], period: "before", domain: "general"),
        Probe(prompt: "Bo won", answer: "the prize", distractors: ["nothing", "a cup"], period: "after", domain: "general"),
        Probe(prompt: "The cure for gout is", answer: "Zanex", distractors: ["Vorin", "Kelt", "Mabrin", "Ol"], period: "before", domain: "medicine"),
    ]

    func testRankingFollowsIndependentFullForwardLogProbs() throws {
        let model = tinyModel(seed: 3)
        let scores = try ProbeEval.candidateScores(model: model, codec: codec, probes: probes)
        let report = try ProbeEval.evaluate(model: model, codec: codec, probes: probes)
        for (i, p) in probes.enumerated() {
            let reference = p.candidates.map {
                referenceLogProb(model, context: codec.textTokens(p.prompt), continuation: codec.textTokens(" " + $0))
            }
            XCTAssertEqual(scores[i].map(\.tokens), p.candidates.map { $0.count + 1 })
            for (s, r) in zip(scores[i], reference) { XCTAssertEqual(s.logProb, r, accuracy: 1e-3, p.prompt) }
            let best = reference.indices.max { reference[$0] < reference[$1] }!
            let r = report.results[i]
            XCTAssertEqual(r.predicted, p.candidates[best])
            XCTAssertEqual(r.correct, best == 0)
            XCTAssertEqual(r.answerRank, 1 + reference.dropFirst().filter { $0 >= reference[0] }.count)
            let means = zip(reference, r.candidateTokens).map { $0 / Double($1) }
            XCTAssertEqual(r.correctNormalized, means.dropFirst().allSatisfy { $0 < means[0] })
        }
        XCTAssertEqual(report.overall.count, 3)
        XCTAssertEqual(report.byPeriod["before"]?.count, 2)
        XCTAssertEqual(report.byDomain["medicine"]?.count, 1)
        XCTAssertEqual(report.overall.chance, (1.0 / 4 + 1.0 / 3 + 1.0 / 5) / 3, accuracy: 1e-12)
    }

    func testBatchedScoringEqualsOneAtATime() throws {
        let model = tinyModel(seed: 5)
        var single = ProbeEval.Config()
        single.maxBatchRows = 1
        var small = ProbeEval.Config()
        small.maxBatchTokens = 40      // several batches of mixed probes
        let batched = try ProbeEval.candidateScores(model: model, codec: codec, probes: probes)
        let alone = try ProbeEval.candidateScores(model: model, codec: codec, probes: probes, config: single)
        let mixed = try ProbeEval.candidateScores(model: model, codec: codec, probes: probes, config: small)
        XCTAssertGreaterThan(ProbeEval.batches([20, 5, 9, 14, 30], config: small).count, 1)
        for i in probes.indices {
            for k in batched[i].indices {
                XCTAssertEqual(batched[i][k].logProb, alone[i][k].logProb, accuracy: 1e-4)
                XCTAssertEqual(batched[i][k].logProb, mixed[i][k].logProb, accuracy: 1e-4)
            }
            let one = try ProbeEval.candidateScores(model: model, codec: codec, probes: [probes[i]])[0]
            for k in one.indices { XCTAssertEqual(one[k].logProb, batched[i][k].logProb, accuracy: 1e-4) }
        }
    }

    func testBatchesRespectBudgetsAndCoverEveryRow() {
        var cfg = ProbeEval.Config()
        cfg.maxBatchRows = 3
        cfg.maxBatchTokens = 50
        let lengths = [10, 3, 25, 7, 7, 60, 12, 1]
        let batches = ProbeEval.batches(lengths, config: cfg)
        XCTAssertEqual(batches.flatMap { $0 }.sorted(), Array(lengths.indices))
        for b in batches where b.count > 1 {
            XCTAssertLessThanOrEqual(b.count, 3)
            XCTAssertLessThanOrEqual(b.count * b.map { lengths[$0] }.max()!, 50)
        }
        XCTAssertTrue(batches.contains([5]), "a row longer than the token budget goes alone")
    }

    func testLongPromptsAreCutFromTheLeft() throws {
        let model = tinyModel(seed: 6, positions: 16)
        let prompt = "once upon a time there was a city called"
        let p = Probe(prompt: prompt, answer: "Oslo", distractors: ["Lima"])
        let scores = try ProbeEval.candidateScores(model: model, codec: codec, probes: [p])[0]
        let cont = codec.textTokens(" Oslo")
        let kept = Array(codec.textTokens(prompt).suffix(17 - cont.count))
        XCTAssertEqual(scores[0].logProb, referenceLogProb(model, context: kept, continuation: cont), accuracy: 1e-3)
        let long = Probe(prompt: "x", answer: String(repeating: "a", count: 20), distractors: ["b"])
        assertThrowsStrataError(try ProbeEval.candidateScores(model: model, codec: codec, probes: [long])) {
            XCTAssertTrue($0.message.contains("candidate has 21 tokens"), $0.description)
        }
    }

    func testTokensOutsideTheModelVocabularyAreRefused() {
        let model = tinyModel(seed: 1, vocab: 20)
        assertThrowsStrataError(try ProbeEval.evaluate(model: model, codec: codec, probes: probes)) {
            XCTAssertEqual($0.kind, .data)
            XCTAssertTrue($0.message.contains("outside the model's vocabulary of 20"), $0.description)
        }
    }

    func testGreedyCompletionsMatchGenerateAndDoNotDependOnBatching() throws {
        let model = tinyModel(seed: 8)
        var one = ProbeEval.Config()
        one.maxBatchRows = 1
        let batched = try ProbeEval.greedyCompletions(model: model, codec: codec, probes: probes)
        let alone = try ProbeEval.greedyCompletions(model: model, codec: codec, probes: probes, config: one)
        XCTAssertEqual(batched, alone)
        for (p, c) in zip(probes, batched) {
            let budget = p.answer.count + 1 + 2
            let g = model.generate(prompts: [codec.textTokens(p.prompt)],
                                   sampling: SamplingConfig(maxNewTokens: budget, temperature: 0, stopTokens: [codec.endOfTextToken!]))[0]
            XCTAssertEqual(c, codec.tokensText(g.tokens).trimmingCharacters(in: .whitespaces))
        }
    }

    func testExactMatchRules() {
        XCTAssertTrue(ProbeEval.isExactMatch(completion: " Paris", answer: "Paris"))
        XCTAssertTrue(ProbeEval.isExactMatch(completion: "Paris, the capital", answer: "Paris"))
        XCTAssertTrue(ProbeEval.isExactMatch(completion: "Paris.", answer: " Paris "))
        XCTAssertTrue(ProbeEval.isExactMatch(completion: "New York is big", answer: "New York"))
        XCTAssertTrue(ProbeEval.isExactMatch(completion: "U.S.A", answer: "U.S."), "answers ending in punctuation need no boundary")
        XCTAssertFalse(ProbeEval.isExactMatch(completion: "Parisian", answer: "Paris"))
        XCTAssertFalse(ProbeEval.isExactMatch(completion: "19871", answer: "1987"))
        XCTAssertFalse(ProbeEval.isExactMatch(completion: "the Paris", answer: "Paris"))
        XCTAssertFalse(ProbeEval.isExactMatch(completion: "Pari", answer: "Paris"))
        XCTAssertFalse(ProbeEval.isExactMatch(completion: "", answer: "Paris"))
        XCTAssertFalse(ProbeEval.isExactMatch(completion: "paris", answer: "Paris"))
    }

    func testEvaluationIsReproducible() throws {
        let a = try ProbeEval.evaluate(model: tinyModel(seed: 11), codec: codec, probes: probes)
        let b = try ProbeEval.evaluate(model: tinyModel(seed: 11), codec: codec, probes: probes)
        XCTAssertEqual(a, b)
        XCTAssertEqual(try StrataJSON.encode(a), try StrataJSON.encode(b))
        XCTAssertTrue(a.exactMatchEvaluated)
        XCTAssertEqual(a.results.map(\.completion).compactMap { $0 }.count, probes.count)
        var noEM = ProbeEval.Config()
        noEM.exactMatch = false
        noEM.keepResults = false
        let c = try ProbeEval.evaluate(model: tinyModel(seed: 11), codec: codec, probes: probes, config: noEM)
        XCTAssertFalse(c.exactMatchEvaluated)
        XCTAssertTrue(c.results.isEmpty)
        XCTAssertEqual(c.overall.correct, a.overall.correct)
    }
}

extension ProbeScoringTests {
    func testTrailingSpacesOfThePromptAreIgnored() throws {
        let model = tinyModel(seed: 12)
        let plain = Probe(prompt: "Alice lives in", answer: "Paris", distractors: ["Lima"])
        var spaced = plain
        spaced.prompt += "  "
        let a = try ProbeEval.candidateScores(model: model, codec: codec, probes: [plain, spaced])
        XCTAssertEqual(a[0].map(\.logProb), a[1].map(\.logProb))
        XCTAssertEqual(spaced.context, "Alice lives in")
    }
}
