// Validation loss per data source: mean next-token cross-entropy over the first
// N windows of a token shard, read front to back (window w holds tokens
// [w·T, w·T + T + 1), the layout of the training loader's sequential mode), so
// every evaluation of every checkpoint sees the same tokens; and its perplexity.
// Leaves out: document-aligned windows, sliding-window (strided) perplexity.

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData

/// The loss of one source.
public struct SourceLoss: Codable, Equatable, Sendable {
    public var name: String
    /// Mean next-token cross-entropy (nats per token).
    public var loss: Double
    public var perplexity: Double
    /// Tokens scored (windows × context).
    public var tokens: Int
    public var windows: Int
    public var context: Int

    public init(name: String, loss: Double, tokens: Int, windows: Int, context: Int) {
        self.name = name; self.loss = loss; self.perplexity = Foundation.exp(loss)
        self.tokens = tokens; self.windows = windows; self.context = context
    }
}

public enum ValidationLoss {
    public struct Config: Codable, Equatable, Sendable {
        /// Windows read from the front of each shard (fewer if the shard is shorter).
        public var windows = 32
        /// Tokens per window; nil uses the model's n_positions.
        public var context: Int? = nil
        /// Windows per forward pass.
        public var batch = 8

        public init(windows: Int = 32, context: Int? = nil, batch: Int = 8) {
            self.windows = windows; self.context = context; self.batch = batch
        }
    }

    /// Loss of `model` on the first `config.windows` windows of `shard`.
    public static func evaluate(model: any CausalLM, shard: Shard, name: String, config: Config = Config()) throws -> SourceLoss {
        let op = "validation loss of '\(name)' (\(shard.url.path))"
        let t = config.context ?? model.contextLength
        guard t >= 1, t <= model.contextLength else {
            throw StrataError.config(op, "context \(t) is outside 1...\(model.contextLength) (the model's n_positions)")
        }
        guard config.windows >= 1, config.batch >= 1 else {
            throw StrataError.config(op, "windows (\(config.windows)) and batch (\(config.batch)) must be positive")
        }
        guard shard.vocabSize <= model.vocabSize else {
            throw StrataError.data(op, "the shard was written for a vocabulary of \(shard.vocabSize), the model has \(model.vocabSize)",
                                   fix: "evaluate on shards prepared with the checkpoint's tokenizer")
        }
        let windows = min(config.windows, (shard.count - 1) / t)
        guard windows >= 1 else {
            throw StrataError.data(op, "the shard has \(shard.count) tokens; one window needs context + 1 = \(t + 1)",
                                   fix: "use a longer shard or a shorter context")
        }
        var total = 0.0
        var w = 0
        while w < windows {
            let b = min(config.batch, windows - w)
            var inputs = [Int32](repeating: 0, count: b * t), targets = inputs
            for r in 0..<b {
                let window = shard.tokens(in: (w + r) * t ..< (w + r) * t + t + 1)
                for j in 0..<t { inputs[r * t + j] = window[j]; targets[r * t + j] = window[j + 1] }
            }
            if let bad = (inputs + targets).first(where: { Int($0) >= model.vocabSize }) {
                throw StrataError.data(op, "token \(bad) is outside the model's vocabulary of \(model.vocabSize)",
                                       fix: "evaluate on shards prepared with the checkpoint's tokenizer")
            }
            let loss = model.loss(inputs, targets: targets, batch: b, time: t, tape: .noGrad()).item()
            total += Double(loss) * Double(b * t)
            w += b
        }
        return SourceLoss(name: name, loss: total / Double(windows * t), tokens: windows * t, windows: windows, context: t)
    }

    /// Loss on every source, in the given order.
    public static func evaluate(model: any CausalLM, sources: [(name: String, shard: Shard)], config: Config = Config()) throws -> [SourceLoss] {
        try sources.map { try evaluate(model: model, shard: $0.shard, name: $0.name, config: config) }
    }

    /// Token-weighted mean loss over sources (nil when there are none).
    public static func combined(_ losses: [SourceLoss]) -> Double? {
        let tokens = losses.reduce(0) { $0 + $1.tokens }
        guard tokens > 0 else { return nil }
        return losses.reduce(0.0) { $0 + $1.loss * Double($1.tokens) } / Double(tokens)
    }
}
