import XCTest
import StrataCore
import StrataTensor
@testable import StrataModel

final class TrainingAndGenerationTests: XCTestCase {
    let tiny = GPT2Config(vocabSize: 32, nPositions: 16, nEmbd: 32, nLayer: 2, nHead: 4)

    func testTinyModelOverfitsOneBatch() {
        let model = GPT2(tiny, seed: 1)
        let opt = AdamW(model.parameters, config: .init(lr: 1e-2, weightDecay: 0))
        var rng = StrataRNG(seed: 2)
        let b = 2, t = 12
        let ids = (0..<(b * t)).map { _ in Int32(rng.int(below: tiny.vocabSize)) }
        let targets = (0..<(b * t)).map { _ in Int32(rng.int(below: tiny.vocabSize)) }
        var first: Float = 0, last: Float = 0
        for step in 0..<150 {
            let tape = Tape()
            let loss = model.loss(ids, targets: targets, batch: b, time: t, tape: tape)
            tape.backward(loss)
            AdamW.clipGradNorm(model.parameters, maxNorm: 1)
            opt.update()
            model.zeroGrad()
            if step == 0 { first = loss.item() }
            last = loss.item()
        }
        XCTAssertGreaterThan(first, 3)
        XCTAssertLessThan(last, 0.05, "loss went from \(first) to \(last)")
    }

    func testGradientAccumulationEqualsOneLargeBatch() {
        // Two half-batches with loss scaled by ½ each give the gradient of the full batch.
        let a = GPT2(tiny, seed: 4), b = GPT2(tiny, seed: 4)
        var rng = StrataRNG(seed: 5)
        let ids = (0..<24).map { _ in Int32(rng.int(below: 32)) }, tg = (0..<24).map { _ in Int32(rng.int(below: 32)) }
        let t1 = Tape(); t1.backward(a.loss(ids, targets: tg, batch: 2, time: 12, tape: t1))
        for half in 0..<2 {
            let r = (half * 12)..<(half * 12 + 12)
            let t = Tape(); t.backward(b.loss(Array(ids[r]), targets: Array(tg[r]), batch: 1, time: 12, tape: t), seed: 0.5)
        }
        for (p, q) in zip(a.parameters, b.parameters) {
            XCTAssertLessThan(scaledError(q.grad!.ptr, p.grad!.toArray()), 1e-4, p.name!)
        }
    }

    func testKVCacheGreedyMatchesFullRecomputation() {
        let model = GPT2(tiny, seed: 7)
        let prompts: [[Int32]] = [[1, 5, 9], [3], [2, 4, 6, 8, 10]]
        let sampling = SamplingConfig(maxNewTokens: 8, temperature: 0)
        let cached = model.generate(prompts: prompts, sampling: sampling)
        for (p, c) in zip(prompts, cached) {
            var seq = p
            for _ in 0..<8 {
                let tape = Tape.noGrad()
                let logits = model.logits(model.hidden(seq, batch: 1, time: seq.count, tape: tape), tape: tape)
                let last = Array(UnsafeBufferPointer(start: logits.ptr + (seq.count - 1) * tiny.vocabSize, count: tiny.vocabSize))
                seq.append(Int32(last.indices.max { last[$0] < last[$1] }!))
            }
            XCTAssertEqual(c.tokens, Array(seq[p.count...]))
        }
    }

    func testSamplingIsSeededAndBatchIndependent() {
        let model = GPT2(tiny, seed: 8)
        let s = SamplingConfig(maxNewTokens: 10, temperature: 1.0, topK: 10, topP: 0.9, seed: 42)
        let a = model.generate(prompts: [[1, 2], [3]], sampling: s)
        let b = model.generate(prompts: [[1, 2], [3]], sampling: s)
        XCTAssertEqual(a, b)
        let alone = model.generate(prompts: [[1, 2]], sampling: s)
        XCTAssertEqual(alone[0].tokens, a[0].tokens)
        var other = s; other.seed = 43
        XCTAssertNotEqual(model.generate(prompts: [[1, 2], [3]], sampling: other).map(\.tokens), a.map(\.tokens))
    }

    func testStopTokensAndContextLimit() {
        let model = GPT2(tiny, seed: 9)
        let greedy = model.generate(prompts: [[1]], sampling: SamplingConfig(maxNewTokens: 5, temperature: 0))[0]
        let stopAt = greedy.tokens[2]
        let stopped = model.generate(prompts: [[1]], sampling: SamplingConfig(maxNewTokens: 5, temperature: 0, stopTokens: [stopAt]))[0]
        XCTAssertEqual(stopped.finish, .stop)
        XCTAssertFalse(stopped.tokens.contains(stopAt))
        let long = model.generate(prompts: [[1, 2, 3]], sampling: SamplingConfig(maxNewTokens: 100, temperature: 0))[0]
        XCTAssertEqual(long.finish, .contextFull)
        // The cache fills at n_positions inputs; the last of them still predicts one more token.
        XCTAssertEqual(long.tokens.count, tiny.nPositions - 3 + 1)
    }

    func testTopKOneIsGreedy() {
        let model = GPT2(tiny, seed: 10)
        let g = model.generate(prompts: [[4, 5]], sampling: SamplingConfig(maxNewTokens: 6, temperature: 0))
        let k1 = model.generate(prompts: [[4, 5]], sampling: SamplingConfig(maxNewTokens: 6, temperature: 0.7, topK: 1, seed: 3))
        XCTAssertEqual(g[0].tokens, k1[0].tokens)
    }
}

final class VocabularyGrowthTests: XCTestCase {
    func testGrownModelKeepsOldLogitsAndInitialisesNewRowsToTheMean() throws {
        let cfg = GPT2Config(vocabSize: 20, nPositions: 8, nEmbd: 16, nLayer: 1, nHead: 2)
        let model = GPT2(cfg, seed: 4)
        let grown = try model.growingVocabulary(to: 23)
        XCTAssertEqual(grown.config.vocabSize, 23)
        XCTAssertEqual(grown.wte.shape, [23, 16])
        let ids: [Int32] = [1, 5, 19, 3]
        let a = model.logits(model.hidden(ids, batch: 1, time: 4, tape: .noGrad()), tape: .noGrad())
        let b = grown.logits(grown.hidden(ids, batch: 1, time: 4, tape: .noGrad()), tape: .noGrad())
        for r in 0..<4 { for v in 0..<20 { XCTAssertEqual(a.ptr[r * 20 + v], b.ptr[r * 23 + v], accuracy: 1e-6) } }
        for j in 0..<16 {
            let mean = (0..<20).map { model.wte.ptr[$0 * 16 + j] }.reduce(0, +) / 20
            for r in 20..<23 { XCTAssertEqual(grown.wte.ptr[r * 16 + j], mean, accuracy: 1e-6) }
        }
        XCTAssertThrowsError(try model.growingVocabulary(to: 10))
    }
}
