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
// Data parallel: every rank draws the step's same micro-batches (the stream does not
// depend on the rank) and trains those its MicroBatchShare names; each micro-batch's
// gradient is computed from zero and added to the running sum (MicroBatchGradients),
// and its loss and metrics are kept as per-micro-batch terms summed in micro-batch
// order, so one process with accumulation N gives the bits N ranks give.
// Leaves out: prefetching on another thread.

import Foundation
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

/// Which of a step's micro-batches this process trains: all of them (one process), or, in a world of N ranks,
/// those whose index i has i % N == rank.
public struct MicroBatchShare: Sendable, Equatable {
    public var rank: Int
    public var ranks: Int
    public init(rank: Int, ranks: Int) { self.rank = rank; self.ranks = ranks }
    public static let whole = MicroBatchShare(rank: 0, ranks: 1)
    public func trains(_ microBatch: Int) -> Bool { microBatch % ranks == rank }
}

/// One micro-batch's part of a step's results: its loss term (weighted so the terms sum to the step's loss),
/// weighted metrics, and the tokens it read.
public struct MicroBatchTerms: Sendable, Equatable {
    public var loss: Double
    public var metrics: [String: Double]
    public var tokens: Int
    public init(loss: Double, metrics: [String: Double] = [:], tokens: Int) { self.loss = loss; self.metrics = metrics; self.tokens = tokens }
}

/// The running gradient sum over a process's micro-batches: before each micro-batch after the first the sum is
/// set aside and the gradients zeroed, so each micro-batch's gradient is computed from zero; after it, the
/// gradients become sum + that gradient. One process with accumulation 2 thus holds g0 + g1, the bits two ranks
/// hold after summing their gradients — accumulating in place would add each contribution to the running sum
/// separately (a bias sums its rows one at a time) and round differently.
public final class MicroBatchGradients {
    let parameters: [Tensor]
    /// Per parameter: the running sum while a micro-batch computes its own gradient, else a spare buffer.
    private var aside: [Tensor?]
    private var holding: [Bool]
    private var started = false

    public init(_ parameters: [Tensor]) {
        self.parameters = parameters
        aside = Array(repeating: nil, count: parameters.count); holding = Array(repeating: false, count: parameters.count)
    }

    /// Call before each micro-batch's backward.
    public func beginMicroBatch() {
        defer { started = true }
        guard started else { return }
        for (i, p) in parameters.enumerated() {
            guard let sum = p.grad else { continue }
            let spare = aside[i] ?? Tensor(zeros: p.shape)
            spare.fill(0)
            p.grad = spare
            aside[i] = sum; holding[i] = true
        }
    }

    /// Call after each micro-batch's backward.
    public func endMicroBatch() {
        for (i, p) in parameters.enumerated() where holding[i] {
            let sum = aside[i]!, g = p.grad!
            let ps = sum.ptr, pg = g.ptr
            for j in 0..<g.count { pg[j] = ps[j] + pg[j] }
            holding[i] = false   // the old sum's buffer is the next micro-batch's spare
        }
    }

    /// Call when the step's micro-batches are done (the next step starts from zeroed gradients).
    public func endStep() { started = false }
}

/// What the ranks of a data-parallel world share inside a step, for objectives that produce their own data
/// (the RL stages' rollouts): every rank's bytes in rank order, and element-wise sums of small vectors.
public protocol RankExchange: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    func allGather(_ data: Data) throws -> [Data]
    func allReduceSum(_ values: [Double]) -> [Double]
}

/// What one optimizer step asks of its objective.
public struct StepPlan {
    /// Micro-batches in the step, all ranks together (the recipe's train.grad_accum).
    public var accum: Int
    public var share: MicroBatchShare
    /// Per-micro-batch gradient sums (nil: objectives that accumulate in place).
    public var gradients: MicroBatchGradients?
    /// Dropout seed of micro-batch i (its index in the whole step, whichever rank trains it).
    public var tapeSeed: (Int) -> UInt64
    /// The other ranks of a data-parallel world (nil: this process alone).
    public var exchange: RankExchange?
    public init(accum: Int, share: MicroBatchShare = .whole, gradients: MicroBatchGradients? = nil, tapeSeed: @escaping (Int) -> UInt64) {
        self.accum = accum; self.share = share; self.gradients = gradients; self.tapeSeed = tapeSeed
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
    /// Per micro-batch of the step, the terms of those this process trained (nil: another rank's); empty when
    /// the objective does not keep terms.
    public var terms: [MicroBatchTerms?] = []
    public init(loss: Double?, tokens: Int, flops: Double, metrics: [String: Double] = [:]) {
        self.loss = loss; self.tokens = tokens; self.flops = flops; self.metrics = metrics
    }

    /// A step's outcome from its micro-batch terms: loss, metrics and tokens summed in micro-batch order
    /// (`tokens` overrides the terms' count when the objective knows every micro-batch's).
    public init(terms: [MicroBatchTerms?], tokens: Int? = nil, flops: Double) {
        var loss = 0.0, count = 0, metrics: [String: Double] = [:]
        for case let t? in terms {
            loss += t.loss
            count += t.tokens
            for (k, v) in t.metrics { metrics[k, default: 0] += v }
        }
        self.init(loss: loss, tokens: tokens ?? count, flops: flops, metrics: metrics)
        self.terms = terms
    }
}

/// Forward and backward of one optimizer step: draws `accum` micro-batches and leaves gradients in the
/// trainable tensors that sum to the gradient of the step's mean loss.
public protocol StepObjective: AnyObject {
    /// The position of the data stream (saved in trainer_state.json; its `step` keys test injections).
    var state: LoaderState { get }
    /// Whether the objective trains a share of the step's micro-batches (`plan.share`) and keeps terms.
    var splitsAcrossRanks: Bool { get }
    func run(_ plan: StepPlan) throws -> StepOutcome
}

extension StepObjective {
    public var splitsAcrossRanks: Bool { false }
}

/// Next-token cross-entropy normalised by the step's global count of trained positions.
public final class NextTokenObjective: StepObjective {
    let model: any CausalLM
    public let batches: BatchSource
    public init(model: any CausalLM, batches: BatchSource) { self.model = model; self.batches = batches }
    public var state: LoaderState { batches.state }

    public var splitsAcrossRanks: Bool { true }

    public func run(_ plan: StepPlan) throws -> StepOutcome {
        let draw = try StepDraw(batches, accum: plan.accum, model: model)
        guard draw.trained > 0 else { return draw.outcome(loss: nil) }
        var terms: [MicroBatchTerms?] = Array(repeating: nil, count: draw.micro.count)
        for (i, b) in draw.micro.enumerated() where plan.share.trains(i) {
            plan.gradients?.beginMicroBatch()
            let tape = Tape(seed: plan.tapeSeed(i))
            let l = model.loss(b, tape: tape, normalizer: Float(draw.trained))   // the micro-batches sum to the step's mean
            tape.backward(l, seed: 1)
            plan.gradients?.endMicroBatch()
            terms[i] = MicroBatchTerms(loss: Double(l.item()), tokens: b.realTokens)
        }
        plan.gradients?.endStep()
        return StepOutcome(terms: terms, tokens: draw.tokens, flops: draw.flops)
    }
}

/// The micro-batches of one next-token step and what the step reports about them: positions that carry a
/// loss (the normaliser), tokens read, training FLOPs (3 × forward).
struct StepDraw {
    let micro: [StepBatch]
    let trained: Int, tokens: Int
    let flops: Double

    init(_ batches: BatchSource, accum: Int, model: any CausalLM) throws {
        micro = try (0..<accum).map { _ in try batches.next() }
        trained = micro.reduce(0) { $0 + $1.trainedTokens }
        tokens = micro.reduce(0) { $0 + $1.realTokens }
        flops = micro.reduce(0.0) { $0 + 3 * model.forwardFlopsPerToken(context: $1.time) * Double($1.rows * $1.time) }
    }

    func outcome(loss: Double?) -> StepOutcome { StepOutcome(loss: loss, tokens: tokens, flops: flops) }
}

extension CausalLM {
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
    var splitsAcrossRanks: Bool { true }

    func run(_ plan: StepPlan) throws -> StepOutcome {
        let micro = (0..<plan.accum).map { _ in loader.next() }
        let total = Float(micro.reduce(0) { $0 + $1.count })
        var terms: [MicroBatchTerms?] = Array(repeating: nil, count: micro.count)
        for (i, idx) in micro.enumerated() where plan.share.trains(i) {
            plan.gradients?.beginMicroBatch()
            let tape = Tape(seed: plan.tapeSeed(i))
            let r = try batchLoss(idx, tape)
            let w = Float(idx.count) / total
            tape.backward(r.loss, seed: w)
            plan.gradients?.endMicroBatch()
            terms[i] = MicroBatchTerms(loss: Double(r.loss.item() * w), metrics: r.metrics.mapValues { $0 * Double(w) }, tokens: r.tokens)
        }
        plan.gradients?.endStep()
        return StepOutcome(terms: terms, flops: Double(total) * flopsPerPair)
    }
}
