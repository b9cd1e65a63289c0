// Test support for StrataEval: a character-level codec (tokenizer-free probes),
// tiny models, temporary directories, an independent full-forward reference for
// continuation log-probabilities, and hand-made probe results for report tests.

import Foundation
import XCTest
import StrataCore
import StrataTensor
import StrataModel
@testable import StrataEval

/// One token per character of a fixed alphabet; id `alphabet.count` is end of text.
struct CharCodec: TextCodec {
    static let alphabet = Array(" abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,")
    var vocabSize: Int { Self.alphabet.count + 1 }
    func textTokens(_ text: String) -> [Int32] {
        text.map { ch in Int32(Self.alphabet.firstIndex(of: ch) ?? 0) }
    }
    func tokensText(_ tokens: [Int32]) -> String {
        String(tokens.map { Int($0) < Self.alphabet.count ? Self.alphabet[Int($0)] : "#" })
    }
    var endOfTextToken: Int32? { Int32(Self.alphabet.count) }
}

func tinyModel(seed: UInt64, positions: Int = 32, vocab: Int = CharCodec().vocabSize) -> GPT2 {
    GPT2(GPT2Config(vocabSize: vocab, nPositions: positions, nEmbd: 32, nLayer: 2, nHead: 4), seed: seed)
}

/// log p(continuation | context) from one unbatched forward pass over the whole sequence, with the
/// log-softmax computed here in Double (independent of ProbeEval's batching and gather).
func referenceLogProb(_ model: GPT2, context: [Int32], continuation: [Int32]) -> Double {
    let seq = context + continuation, input = Array(seq.dropLast())   // the last token is only a target
    let tape = Tape.noGrad()
    let logits = model.logits(model.hidden(input, batch: 1, time: input.count, tape: tape), tape: tape).toArray()
    let v = model.config.vocabSize
    var total = 0.0
    for i in (context.count - 1)..<(seq.count - 1) {
        let row = logits[(i * v)..<((i + 1) * v)].map(Double.init)
        let m = row.max()!
        let lse = m + log(row.reduce(0) { $0 + exp($1 - m) })
        total += row[row.startIndex + Int(seq[i + 1])] - lse
    }
    return total
}

/// A probe result with the given outcome, for report and forgetting tests.
func result(period: String, domain: String, correct: Bool, exact: Bool = false, candidates: Int = 4) -> ProbeResult {
    let scores = (0..<candidates).map { $0 == 0 ? (correct ? -1.0 : -5.0) : -3.0 }
    return ProbeResult(prompt: "p", answer: "a", period: period, domain: domain, factID: nil, candidateLogProbs: scores,
                       candidateTokens: Array(repeating: 2, count: candidates), answerRank: correct ? 1 : candidates,
                       correct: correct, correctNormalized: correct, predicted: correct ? "a" : "d", completion: exact ? "a" : "x",
                       exactMatch: exact)
}

/// A report whose probes in `period` have `correct` of `count` right (domain "general").
func report(_ label: String, before: (Int, Int), after: (Int, Int), losses: [String: Double] = [:]) -> EvalReport {
    let results = (0..<before.1).map { result(period: "before", domain: "general", correct: $0 < before.0, exact: $0 < before.0) }
        + (0..<after.1).map { result(period: "after", domain: "general", correct: $0 < after.0) }
    let validation = losses.keys.sorted().map { SourceLoss(name: $0, loss: losses[$0]!, tokens: 64, windows: 2, context: 32) }
    return EvalReport(label: label, probes: ProbeReport(results: results, exactMatchEvaluated: true), validation: validation)
}

