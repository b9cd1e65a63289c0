// A one-layer model trained for 60 steps on six one-sentence facts must rank
// the right city first on their probes far above chance (and above the untrained
// model), and complete the prompts greedily with the right city.

import XCTest
import StrataCore
import StrataTensor
import StrataModel
@testable import StrataEval

final class TrainedProbeTests: XCTestCase {
    static let people = ["Alice", "Bruno", "Chen", "Dara", "Emil", "Femi"]
    static let cities = ["Paris", "Lima", "Oslo", "Rome", "Kyiv", "Accra"]

    static func probes() -> [Probe] {
        people.indices.map { i in
            let others = (1...3).map { cities[(i + $0) % cities.count] }
            return Probe(prompt: "\(people[i]) lives in", answer: cities[i], distractors: others,
                         period: i % 2 == 0 ? "before" : "after", domain: "general", factID: "F\(i)")
        }
    }

    static func train(_ model: GPT2, steps: Int, lr: Float) {
        let codec = CharCodec()
        let t = 24, b = people.count
        var inputs = [Int32](repeating: 0, count: b * t), targets = [Int32](repeating: -100, count: b * t)
        for i in 0..<b {
            let s = codec.textTokens("\(people[i]) lives in \(cities[i]).") + [codec.endOfTextToken!]
            for j in 0..<(s.count - 1) { inputs[i * t + j] = s[j]; targets[i * t + j] = s[j + 1] }
        }
        let opt = AdamW(model.parameters, config: .init(lr: lr, weightDecay: 0))
        for _ in 0..<steps {
            let tape = Tape()
            tape.backward(model.loss(inputs, targets: targets, batch: b, time: t, tape: tape))
            AdamW.clipGradNorm(model.parameters, maxNorm: 1)
            opt.update()
            model.zeroGrad()
        }
    }

    func testTrainingOnFactsLiftsProbeAccuracyAboveChance() throws {
        let model = GPT2(GPT2Config(vocabSize: CharCodec().vocabSize, nPositions: 24, nEmbd: 32, nLayer: 1, nHead: 4), seed: 21)
        let before = try ProbeEval.evaluate(model: model, codec: CharCodec(), probes: Self.probes())
        Self.train(model, steps: 60, lr: 2e-2)
        let after = try ProbeEval.evaluate(model: model, codec: CharCodec(), probes: Self.probes())
        XCTAssertEqual(after.overall.chance, 0.25, accuracy: 1e-12)
        XCTAssertGreaterThanOrEqual(after.overall.accuracy, 5.0 / 6, "accuracy \(after.overall.accuracy), results \(after.results.map(\.predicted))")
        XCTAssertGreaterThan(after.overall.accuracy, before.overall.accuracy)
        XCTAssertGreaterThanOrEqual(after.overall.exactMatch, 0.5, "completions \(after.results.compactMap(\.completion))")
        XCTAssertEqual(after.byPeriod["before"]!.count + after.byPeriod["after"]!.count, 6)
    }
}
