// The rollout engine on tiny random models: seeded per (step, row), batch
// independence, finish reasons and the stop token, log-probs that agree with
// a full forward pass, and prompt errors (an encoder is no policy).

import Foundation
import XCTest
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataTokenizer
@testable import StrataRL
import StrataTestSupport

final class RolloutEngineTests: XCTestCase {
    var tokenizer: BPETokenizer!
    var model: GPT2!
    let prompts: [PromptRecord] = [
        .chat([ChatMessage(.user, "Add 3 and 4.")]),
        .chat([ChatMessage(.system, "Be brief."), ChatMessage(.user, "Where was Person1 born?")]),
        .plain("Reverse the list: apple, river"),
    ]

    override func setUpWithError() throws {
        tokenizer = try RLTestModels.tokenizer()
        model = RLTestModels.model(tokenizer, seed: 3)
    }

    func engine(_ config: RolloutConfig, model m: GPT2? = nil) throws -> RolloutEngine {
        try RolloutEngine(model: m ?? model, tokenizer: tokenizer, config: config)
    }

    /// Push the end-of-message token's logit up by about `boost` (ln_f bias along its embedding row).
    func biasTowardEndOfTurn(_ m: GPT2, boost: Float) {
        let end = tokenizer.id(forSpecial: ChatTemplate.chatML.messageEnd)!, c = m.config.nEmbd
        let row = (0..<c).map { m.wte.ptr[end * c + $0] }
        let norm2 = row.reduce(0) { $0 + $1 * $1 }
        for k in 0..<c { m.lnF.bias.ptr[k] = boost * row[k] / norm2 }
    }

    func testSameSeedAndStepGiveTheSameTokensAndOtherStepsDiffer() throws {
        let e = try engine(RolloutConfig(maxNewTokens: 8, temperature: 1, seed: 11))
        let a = try e.sample(prompts, step: 4, samplesPerPrompt: 2)
        XCTAssertEqual(try e.sample(prompts, step: 4, samplesPerPrompt: 2), a)
        XCTAssertEqual(a.map(\.promptIndex), [0, 0, 1, 1, 2, 2])
        XCTAssertEqual(a.map(\.sampleIndex), [0, 1, 0, 1, 0, 1])
        XCTAssertEqual(a.map(\.row), Array(0..<6))
        XCTAssertNotEqual(a[0].completionTokens, a[1].completionTokens, "two samples of one prompt draw different streams")
        XCTAssertNotEqual(try e.sample(prompts, step: 5, samplesPerPrompt: 2).map(\.completionTokens), a.map(\.completionTokens))
        let reseeded = try engine(RolloutConfig(maxNewTokens: 8, temperature: 1, seed: 12))
        XCTAssertNotEqual(try reseeded.sample(prompts, step: 4, samplesPerPrompt: 2).map(\.completionTokens), a.map(\.completionTokens))
    }

    func testARowSampledAloneEqualsTheSameRowInABatch() throws {
        let batched = try engine(RolloutConfig(maxNewTokens: 10, temperature: 0.9, topK: 50, topP: 0.95, seed: 2))
        let all = try batched.sample(prompts, step: 7, samplesPerPrompt: 2)
        let oneRowAtATime = try engine(RolloutConfig(maxNewTokens: 10, temperature: 0.9, topK: 50, topP: 0.95, seed: 2, maxBatchRows: 1))
        XCTAssertEqual(try oneRowAtATime.sample(prompts, step: 7, samplesPerPrompt: 2).map(\.completionTokens), all.map(\.completionTokens))
        // Row 5 (prompt 2, sample 1) drawn alone: same prompt, same (step, row) seed.
        let alone = try batched.sample([prompts[2]], step: 7, samplesPerPrompt: 1, firstRow: 5)[0]
        XCTAssertEqual(alone.seed, all[5].seed)
        XCTAssertEqual(alone.completionTokens, all[5].completionTokens)
        for (x, y) in zip(alone.logProbs, all[5].logProbs) { XCTAssertEqual(x, y, accuracy: 1e-5) }
    }

    func testStoppedRepliesEndWithTheStopTokenAndTruncatedOnesFillTheBudget() throws {
        let m = RLTestModels.model(tokenizer, seed: 3)
        biasTowardEndOfTurn(m, boost: 5)
        let e = try engine(RolloutConfig(maxNewTokens: 6, temperature: 1, seed: 1), model: m)
        let rollouts = try e.sample(prompts, step: 0, samplesPerPrompt: 6)
        let stops = Set(e.stopTokens)
        XCTAssertTrue(rollouts.contains { $0.finish == .endOfTurn } && rollouts.contains { $0.finish == .truncated })
        for r in rollouts {
            XCTAssertEqual(r.logProbs.count, r.completionTokens.count)
            XCTAssertFalse(r.completionTokens.dropLast().contains { stops.contains($0) }, "a stop token ends the reply")
            switch r.finish {
            case .endOfTurn: XCTAssertTrue(stops.contains(r.completionTokens.last!)); XCTAssertLessThanOrEqual(r.completionLength, 6)
            case .truncated: XCTAssertEqual(r.completionLength, 6); XCTAssertTrue(r.isTruncated)
            }
            XCTAssertEqual(r.text, tokenizer.tokensText(r.finish == .endOfTurn ? Array(r.completionTokens.dropLast()) : r.completionTokens)
                .trimmingCharacters(in: .whitespacesAndNewlines))
        }
    }

    func testSampledLogProbsMatchABatchedForwardPassAtTheSamplingTemperature() throws {
        for temperature: Float in [1, 0.7] {
            let e = try engine(RolloutConfig(maxNewTokens: 9, temperature: temperature, seed: 5))
            let rollouts = try e.sample(prompts, step: 1, samplesPerPrompt: 2)
            let again = try RolloutLogProbs.compute(model: model, rollouts: rollouts, temperature: temperature, batchRows: 4)
            for (r, lps) in zip(rollouts, again) {
                XCTAssertEqual(lps.count, r.completionTokens.count)
                for (x, y) in zip(r.logProbs, lps) { XCTAssertEqual(x, y, accuracy: 2e-4) }
            }
            // Independent reference: one unbatched full forward per rollout.
            let r = rollouts[3], seq = r.promptTokens + r.completionTokens
            let tape = Tape.noGrad()
            let logits = model.logits(model.hidden(seq, batch: 1, time: seq.count, tape: tape), tape: tape).toArray()
            let v = model.config.vocabSize
            for (k, tok) in r.completionTokens.enumerated() {
                let at = r.promptTokens.count - 1 + k
                let row = logits[(at * v)..<((at + 1) * v)].map { Double($0) / Double(temperature) }
                let m = row.max()!, lse = m + log(row.reduce(0) { $0 + exp($1 - m) })
                XCTAssertEqual(Double(again[3][k]), row[row.startIndex + Int(tok)] - lse, accuracy: 1e-4)
            }
        }
    }

    func testLogProbsOfAnotherModelDifferAndOfTheSameModelDoNot() throws {
        let e = try engine(RolloutConfig(maxNewTokens: 6, temperature: 1, seed: 9))
        let rollouts = try e.sample(prompts, step: 0)
        let same = try RolloutLogProbs.compute(model: model, rollouts: rollouts)
        let other = try RolloutLogProbs.compute(model: RLTestModels.model(tokenizer, seed: 4), rollouts: rollouts)
        XCTAssertEqual(same.map(\.count), other.map(\.count))
        XCTAssertNotEqual(same, other)
        let single = try RolloutLogProbs.compute(model: model, rollouts: rollouts, batchRows: 1)
        for (a, b) in zip(same, single) { for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-5, "padding in a batch changes nothing") } }
    }

    func testPromptsThatLeaveNoRoomAndBadConfigsAreRefused() throws {
        let e = try engine(RolloutConfig(maxNewTokens: 60))
        let long = PromptRecord.chat([ChatMessage(.user, String(repeating: "Where was Person1 born? ", count: 6))])
        let set = PromptDataset(records: [prompts[0], long], lineNumbers: [1, 4], path: "p.jsonl")
        assertThrowsStrataError(try e.checkPrompts(set)) { err in
            XCTAssertTrue(err.operation.contains("p.jsonl:4"), "\(err)")
            XCTAssertTrue(err.message.contains("n_positions 96"), "\(err)")
        }
        assertThrowsStrataError(try self.engine(RolloutConfig(maxNewTokens: 96))) { XCTAssertTrue($0.message.contains("max_new_tokens"), "\($0)") }
        assertThrowsStrataError(try self.engine(RolloutConfig(topP: 0))) { XCTAssertTrue($0.message.contains("top_p"), "\($0)") }
        assertThrowsStrataError(try self.engine(RolloutConfig(temperature: -1))) { XCTAssertTrue($0.message.contains("temperature"), "\($0)") }
        assertThrowsStrataError(try e.sample(self.prompts, step: 0, samplesPerPrompt: 0)) { XCTAssertTrue($0.message.contains("samples per prompt"), "\($0)") }
    }

    func testConversationalPromptsNeedTheChatTokens() throws {
        let plainTok = try BPETokenizer.train(texts: RLTestModels.corpus, config: BPETrainer.Config(vocabSize: 280, specialTokens: ["<|endoftext|>"]))
        let e = try RolloutEngine(model: RLTestModels.model(plainTok, seed: 1), tokenizer: plainTok, config: RolloutConfig(maxNewTokens: 4))
        XCTAssertEqual(try e.sample([prompts[2]], step: 0).count, 1, "plain prompts need no chat tokens")
        assertThrowsStrataError(try e.sample([self.prompts[0]], step: 0)) { XCTAssertTrue($0.message.contains("<|im_start|>"), "\($0)") }
    }

    func testAnEncoderIsRefusedAsAPolicy() throws {
        let encoder = Roberta(RobertaConfig(vocabSize: tokenizer.vocabSize, hiddenSize: 16, layers: 1, heads: 2, intermediateSize: 32,
                                            maxPositions: 40), seed: 1)
        assertThrowsStrataError(try RolloutEngine(model: encoder, tokenizer: self.tokenizer, config: RolloutConfig(maxNewTokens: 4))) {
            XCTAssertTrue($0.message.contains("masked-LM encoder") && $0.operation.contains("rollout engine"), "\($0)")
        }
    }

    func testRolloutConfigDecodesFromSnakeCaseKeys() throws {
        let json = #"{"max_new_tokens": 12, "temperature": 0.8, "top_k": 5, "top_p": 0.9, "seed": 3, "max_batch_rows": 4}"#
        let c = try JSONDecoder().decode(RolloutConfig.self, from: Data(json.utf8))
        XCTAssertEqual(c, RolloutConfig(maxNewTokens: 12, temperature: 0.8, topK: 5, topP: 0.9, seed: 3, maxBatchRows: 4))
    }
}

final class RolloutStatsTests: XCTestCase {
    func testStatsCountLengthsAndTruncatedShareUnderTRLNames() {
        func r(_ n: Int, _ f: Rollout.Finish) -> Rollout {
            Rollout(promptIndex: 0, sampleIndex: 0, row: 0, seed: 0, promptTokens: [1], completionTokens: Array(repeating: 2, count: n),
                    logProbs: Array(repeating: -1, count: n), finish: f, text: "")
        }
        let s = RolloutStats([r(2, .endOfTurn), r(4, .endOfTurn), r(6, .truncated), r(6, .truncated)])
        XCTAssertEqual(s.meanLength, 4.5)
        XCTAssertEqual(s.minLength, 2)
        XCTAssertEqual(s.maxLength, 6)
        XCTAssertEqual(s.meanTerminatedLength, 3)
        XCTAssertEqual(s.truncatedShare, 0.5)
        XCTAssertEqual(s.metricsDictionary()["completions/clipped_ratio"], 0.5)
    }
}

final class SamplerDistributionTests: XCTestCase {
    func testSamplingFromTheWholeDistributionDrawsTokensAtTheirTemperedProbabilities() {
        let logits: [Float] = [0, 1, 2, -1, 0.5]
        let t: Float = 0.7
        let weights = logits.map { exp(Double($0 / t)) }
        let probs = weights.map { $0 / weights.reduce(0, +) }
        var counts = [Int](repeating: 0, count: logits.count)
        var rng = StrataRNG(seed: 99)
        let n = 40_000
        logits.withUnsafeBufferPointer { row in
            for _ in 0..<n {
                let (tok, lp) = Sampler.sample(row, SamplingConfig(temperature: t), &rng)
                counts[Int(tok)] += 1
                XCTAssertEqual(Double(lp), log(probs[Int(tok)]), accuracy: 1e-5)
            }
        }
        for (c, p) in zip(counts, probs) { XCTAssertEqual(Double(c) / Double(n), p, accuracy: 0.01) }
    }
}
