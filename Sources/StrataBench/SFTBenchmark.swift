// SFTBenchmark: packing versus padding on real chat data. For each mode, the
// conversations are rendered with the template and arranged into rows of T
// tokens; full training steps (forward, backward, AdamW) are timed on B rows at
// a time, the modes alternating round by round so machine drift hits both alike.
// Reports positions/s, useful (non-padding) tokens/s, trained (assistant) tokens/s
// and the useful and trained shares. Leaves out: LoRA timing, multi-epoch effects.

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataEval
import StrataTrain

public enum SFTBenchmark {
    public struct Config: Sendable {
        /// Checkpoint whose model and tokenizer are used.
        public var checkpoint = ""
        /// SFT JSONL (TRL formats).
        public var data = ""
        public var context = 128
        public var batch = 16
        /// Timed steps per mode per round, rounds, and untimed warm-up steps per mode.
        public var steps = 5
        public var rounds = 3
        public var warmup = 1
        public init() {}
    }

    public struct Result: Codable, Sendable {
        public var mode: String
        public var rows: Int
        public var usefulShare: Double
        public var trainedShare: Double
        public var msPerStep: Double
        public var positionsPerSecond: Double
        public var usefulTokensPerSecond: Double
        public var trainedTokensPerSecond: Double
    }

    public static func run(_ c: Config, log: (String) -> Void) throws -> [Result] {
        let loaded = try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(c.checkpoint))
        let (model, tokenizer, _) = try ChatSession.addingChatTokens(model: loaded.model, tokenizer: loaded.tokenizer)
        let chat = try InstructionEval.chatTokenizer(tokenizer)
        let samples = try SFTDataset.load(URL(fileURLWithPath: c.data)).render(.chatML, chat).filter { $0.count <= c.context }
        let optimizer = AdamW(model.parameters, config: .init(lr: 1e-4))
        var loaders = try SFTPacker.Mode.allCases.map {
            try SFTLoader(samples: samples, batch: c.batch, rowLength: c.context, mode: $0, padID: 0, seed: 1)
        }
        var seconds = [Double](repeating: 0, count: loaders.count), useful = [Int](repeating: 0, count: loaders.count)
        var trained = [Int](repeating: 0, count: loaders.count)
        for i in loaders.indices { for _ in 0..<c.warmup { _ = step(model, optimizer, SFTBatches.stepBatch(loaders[i].next(), rowLength: c.context)) } }
        for round in 0..<c.rounds {
            for i in loaders.indices {
                for _ in 0..<c.steps {
                    let b = SFTBatches.stepBatch(loaders[i].next(), rowLength: c.context)
                    seconds[i] += step(model, optimizer, b)
                    useful[i] += b.realTokens; trained[i] += b.trainedTokens
                }
            }
            log("round \(round + 1)/\(c.rounds) done")
        }
        return loaders.indices.map { i in
            let arranged = try? SFTPacker.arrange(samples, rowLength: c.context, mode: loaders[i].mode, padID: 0)
            let n = Double(c.steps * c.rounds)
            return Result(mode: loaders[i].mode.rawValue, rows: arranged?.rows.count ?? 0, usefulShare: arranged?.usefulShare ?? 0,
                          trainedShare: arranged?.trainedShare ?? 0, msPerStep: 1000 * seconds[i] / n,
                          positionsPerSecond: n * Double(c.batch * c.context) / seconds[i],
                          usefulTokensPerSecond: Double(useful[i]) / seconds[i], trainedTokensPerSecond: Double(trained[i]) / seconds[i])
        }
    }

    /// One training step; returns its wall time in seconds.
    static func step(_ model: any CausalLM, _ optimizer: AdamW, _ b: StepBatch) -> Double {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let tape = Tape(seed: 1)
        tape.backward(model.loss(b, tape: tape, normalizer: Float(max(1, b.trainedTokens))), seed: 1)
        optimizer.update(lr: 1e-4)
        model.zeroGrad()
        return Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
    }
}
