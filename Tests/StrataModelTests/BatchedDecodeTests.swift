// Tests of the batched KV-cache decode paths (packed prefill through the tiled
// attention kernel, one batched product per layer per step) against the per-row
// dot-product path they replaced: logits of mixed calls within 1e-5, and
// generate's greedy and per-row-seeded sampled tokens identical, with rows of
// different prompt lengths and rows leaving the batch at stop tokens.
// Leaves out: speed (`strata bench generate`).

import XCTest
import StrataCore
import StrataTensor
@testable import StrataModel

final class BatchedDecodeTests: XCTestCase {
    let cfg = GPT2Config(vocabSize: 61, nPositions: 48, nEmbd: 32, nLayer: 2, nHead: 4)

    func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Float { zip(a.toArray(), b.toArray()).map { abs($0 - $1) }.max()! }

    func testBatchedDecodeLogitsMatchPerRowPath() {
        let model = GPT2(cfg, seed: 3)
        let batched = KVCache(model: model, batch: 4), perRow = KVCache(model: model, batch: 4)
        perRow.batchedAttention = false
        // Prefill rows of different lengths, one step for every row, a step for a subset, a two-token continuation.
        let calls: [([Int], [[Int32]])] = [
            ([0, 1, 2, 3], [[1, 2, 3, 4, 5], [6], [7, 8, 9], Array(10..<30)]),
            ([0, 1, 2, 3], [[11], [12], [13], [14]]),
            ([3, 1], [[15], [16]]),
            ([2], [[17, 18]]),
            ([0, 2], [[19], [20]]),
        ]
        for (k, (rows, tokens)) in calls.enumerated() {
            let a = model.decode(rows: rows, tokens: tokens, cache: batched)
            let b = model.decode(rows: rows, tokens: tokens, cache: perRow)
            XCTAssertLessThan(maxAbsDiff(a, b), 1e-5, "call \(k)")
        }
        XCTAssertEqual(batched.lengths, perRow.lengths)
    }

    func generateBoth(_ model: GPT2, _ prompts: [[Int32]], _ s: SamplingConfig, seeds: [UInt64]) -> ([Completion], [Completion]) {
        model.batchedDecoding = true
        let a = model.generate(prompts: prompts, sampling: s, rowSeeds: seeds)
        model.batchedDecoding = false
        let b = model.generate(prompts: prompts, sampling: s, rowSeeds: seeds)
        model.batchedDecoding = true
        return (a, b)
    }

    func testBatchedGenerationGivesTheSameTokensGreedyAndSampled() {
        let model = GPT2(cfg, seed: 5)
        let prompts: [[Int32]] = [[1, 2, 3], [4], [5, 6, 7, 8, 9, 10, 11], [12, 13], [14, 15, 16, 17], [18]]
        let seeds = prompts.indices.map { UInt64(1000 + 7 * $0) }
        // Tokens and finish reasons identical; log-probs equal to float rounding (the products sum in another order).
        func assertSame(_ a: [Completion], _ b: [Completion], _ what: String) {
            XCTAssertEqual(a.map(\.tokens), b.map(\.tokens), what)
            for (x, y) in zip(a, b) {
                XCTAssertEqual(x.finish, y.finish, what)
                XCTAssertEqual(x.stopToken, y.stopToken, what)
                XCTAssertEqual(x.logProbs.count, y.logProbs.count, what)
                for (p, q) in zip(x.logProbs, y.logProbs) { XCTAssertEqual(p, q, accuracy: 1e-5, what) }
            }
        }
        let greedy = generateBoth(model, prompts, SamplingConfig(maxNewTokens: 24, temperature: 0), seeds: seeds)
        assertSame(greedy.0, greedy.1, "greedy")
        var sampled = SamplingConfig(maxNewTokens: 30, temperature: 1)
        sampled.stopTokens = [2, 9, 33]
        let s = generateBoth(model, prompts, sampled, seeds: seeds)
        assertSame(s.0, s.1, "sampled")
        // Rows must leave the batch at different steps for the step path's inactive rows to be exercised.
        XCTAssertTrue(s.0.contains { $0.finish == .stop }, "no row hit a stop token")
        XCTAssertTrue(s.0.contains { $0.finish == .maxTokens }, "every row hit a stop token")
    }
}
