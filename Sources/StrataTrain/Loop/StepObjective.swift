// The step's forward and backward, beside the loop that drives it.
// BatchSource: what the shared training loop draws micro-batches from. Token
// windows from a pretraining mixture and packed chat rows for SFT both become a
// StepBatch: ids, next-token targets (-100 where no loss), optional per-row
// positions and document starts (packing), and the count of positions that carry
// a loss, so a step can normalise by the global count over its micro-batches.
// The source's whole position is a LoaderState, saved in trainer_state.json.
// A StepObjective is what one optimizer step computes from its micro-batches:
// next-token cross-entropy, or a pair objective (reward model and DPO share its
// micro-batch loop and bring only the loss of a batch of pairs).
// Leaves out: prefetching on another thread.

import StrataTensor
import StrataModel
import StrataData

/// One micro-batch of B rows of T tokens.
public struct StepBatch: Sendable {
    public var rows: Int
    public var time: Int
    /// Row-major [B·T] token ids and next-token targets (-100 = no loss at that position).
    public var inputs: [Int32]
    public var targets: [Int32]
    /// Per-position index within its sample and first attendable position (packed rows); nil = plain causal.
    public var positions: [Int32]?
    public var docStart: [Int32]?
    /// Positions that carry a loss.
    public var trainedTokens: Int
    /// Non-padding positions (what throughput counts).
    public var realTokens: Int

    public init(rows: Int, time: Int, inputs: [Int32], targets: [Int32], positions: [Int32]? = nil, docStart: [Int32]? = nil,
                trainedTokens: Int? = nil, realTokens: Int? = nil) {
        self.rows = rows; self.time = time; self.inputs = inputs; self.targets = targets
        self.positions = positions; self.docStart = docStart
        self.trainedTokens = trainedTokens ?? targets.reduce(0) { $0 + ($1 == RenderedSample.ignoreIndex ? 0 : 1) }
        self.realTokens = realTokens ?? inputs.count
    }
}

/// A resumable stream of micro-batches.
public protocol BatchSource: AnyObject {
    /// The whole position of the stream (restoring it replays the same batches).
    var state: LoaderState { get }
    func next() throws -> StepBatch
}

/// The pretraining mixture loader as a batch source.
public final class MixtureBatches: BatchSource {
    public private(set) var loader: MixtureLoader
    public init(_ loader: MixtureLoader) { self.loader = loader }
    public var state: LoaderState { loader.state }
    public func next() throws -> StepBatch {
        let b = loader.next()
        return StepBatch(rows: b.batch, time: b.context, inputs: b.inputs, targets: b.targets,
                         trainedTokens: b.inputs.count, realTokens: b.inputs.count)
    }
}

/// What one optimizer step produced before the update.
public struct StepOutcome: Sendable {
    /// The step's loss (mean over its micro-batches' trained positions or pairs); nil when nothing in the
    /// step carries a loss (the update is skipped).
    public var loss: Double?
    /// Tokens the step consumed (non-padding), and FLOPs it spent (forward + backward, reference passes included).
    public var tokens: Int
    public var flops: Double
    /// Stage-specific metrics for metrics.jsonl (reward accuracy, margins...).
    public var metrics: [String: Double]
    public init(loss: Double?, tokens: Int, flops: Double, metrics: [String: Double] = [:]) {
        self.loss = loss; self.tokens = tokens; self.flops = flops; self.metrics = metrics
    }
}

/// Forward and backward of one optimizer step: draws `accum` micro-batches and leaves gradients in the
/// trainable tensors that sum to the gradient of the step's mean loss.
public protocol StepObjective: AnyObject {
    /// The position of the data stream (saved in trainer_state.json; its `step` keys test injections).
    var state: LoaderState { get }
    func run(accum: Int, tapeSeed: (Int) -> UInt64) throws -> StepOutcome
}

/// Next-token cross-entropy normalised by the step's global count of trained positions.
public final class NextTokenObjective: StepObjective {
    let model: GPT2
    public let batches: BatchSource
    public init(model: GPT2, batches: BatchSource) { self.model = model; self.batches = batches }
    public var state: LoaderState { batches.state }

    public func run(accum: Int, tapeSeed: (Int) -> UInt64) throws -> StepOutcome {
        let draw = try StepDraw(batches, accum: accum, model: model)
        guard draw.trained > 0 else { return draw.outcome(loss: nil) }
        var loss = 0.0
        for (i, b) in draw.micro.enumerated() {
            let tape = Tape(seed: tapeSeed(i))
            let l = model.loss(b, tape: tape, normalizer: Float(draw.trained))   // the micro-batches sum to the step's mean
            tape.backward(l, seed: 1)
            loss += Double(l.item())
        }
        return draw.outcome(loss: loss)
    }
}

/// The micro-batches of one next-token step and what the step reports about them: positions that carry a
/// loss (the normaliser), tokens read, training FLOPs (3 × forward).
struct StepDraw {
    let micro: [StepBatch]
    let trained: Int, tokens: Int
    let flops: Double

    init(_ batches: BatchSource, accum: Int, model: GPT2) throws {
        micro = try (0..<accum).map { _ in try batches.next() }
        trained = micro.reduce(0) { $0 + $1.trainedTokens }
        tokens = micro.reduce(0) { $0 + $1.realTokens }
        flops = micro.reduce(0.0) { $0 + 3 * model.forwardFlopsPerToken(context: $1.time) * Double($1.rows * $1.time) }
    }

    func outcome(loss: Double?) -> StepOutcome { StepOutcome(loss: loss, tokens: tokens, flops: flops) }
}

extension GPT2 {
    /// Next-token loss of one micro-batch (plain windows or packed rows), divided by `normalizer`
    /// (default: its own count of scored positions).
    public func loss(_ b: StepBatch, tape: Tape, normalizer: Float? = nil) -> Tensor {
        loss(b.inputs, targets: b.targets, batch: b.rows, time: b.time, tape: tape, normalizer: normalizer,
             positions: b.positions, docStart: b.docStart)
    }
}

/// What a pair stage computes for one micro-batch of pairs: the loss tensor (mean over its pairs),
/// named metrics (pair means) and the non-padding tokens it read.
struct PairBatchLoss {
    var loss: Tensor
    var metrics: [String: Double]
    var tokens: Int
    init(loss: Tensor, metrics: [String: Double], tokens: Int) { self.loss = loss; self.metrics = metrics; self.tokens = tokens }
}

/// One optimizer step over micro-batches of preference pairs (reward model and DPO): each micro-batch's mean
/// loss is weighted by its share of the step's pairs, so the micro-batch gradients sum to the gradient of the
/// step's mean, and metrics are pair-weighted means.
final class PairObjective: StepObjective {
    let loader: PairLoader
    /// Training FLOPs of one pair (two rows, forward + backward, reference passes excluded).
    let flopsPerPair: Double
    let batchLoss: (_ pairs: [Int], _ tape: Tape) throws -> PairBatchLoss

    init(loader: PairLoader, flopsPerPair: Double, batchLoss: @escaping ([Int], Tape) throws -> PairBatchLoss) {
        self.loader = loader; self.flopsPerPair = flopsPerPair; self.batchLoss = batchLoss
    }

    var state: LoaderState { loader.state }

    func run(accum: Int, tapeSeed: (Int) -> UInt64) throws -> StepOutcome {
        let micro = (0..<accum).map { _ in loader.next() }
        let total = Float(micro.reduce(0) { $0 + $1.count })
        var sum = 0.0, tokens = 0, metrics: [String: Double] = [:]
        for (i, idx) in micro.enumerated() {
            let tape = Tape(seed: tapeSeed(i))
            let r = try batchLoss(idx, tape)
            let w = Float(idx.count) / total
            tape.backward(r.loss, seed: w)
            sum += Double(r.loss.item() * w)
            for (k, v) in r.metrics { metrics[k, default: 0] += v * Double(w) }
            tokens += r.tokens
        }
        return StepOutcome(loss: sum, tokens: tokens, flops: Double(total) * flopsPerPair, metrics: metrics)
    }
}
