// BatchSource: what the shared training loop draws micro-batches from. Token
// windows from a pretraining mixture and packed chat rows for SFT both become a
// StepBatch: ids, next-token targets (-100 where no loss), optional per-row
// positions and document starts (packing), and the count of positions that carry
// a loss, so a step can normalise by the global count over its micro-batches.
// The source's whole position is a LoaderState, saved in trainer_state.json.
// Leaves out: prefetching on another thread.

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
