// The loader's value types: a named source (one or more shards read as one
// token stream, with a weight schedule), a batch, and the serialisable state
// from which a resumed run continues exactly where an uninterrupted one would.
// Leaves out: the sampling logic (MixtureLoader.swift).

import StrataCore

public struct MixtureSource: Sendable {
    public var name: String
    public var shards: [Shard]
    public var weight: WeightSchedule

    public init(name: String, shards: [Shard], weight: WeightSchedule = .constant(1)) {
        self.name = name
        self.shards = shards
        self.weight = weight
    }

    public init(name: String, shard: Shard, weight: WeightSchedule = .constant(1)) {
        self.init(name: name, shards: [shard], weight: weight)
    }

    public var tokenCount: Int { shards.reduce(0) { $0 + $1.count } }
}

public struct Batch: Sendable, Equatable {
    /// The loader step that produced this batch (0 for the first).
    public var step: Int
    public var batch: Int
    public var context: Int
    /// Row-major [batch, context] token ids, and the same shifted by one token.
    public var inputs: [Int32]
    public var targets: [Int32]
    /// Per row: index of the source it came from, and where its window starts in that source's stream.
    public var sourceIndex: [Int]
    public var windowStart: [Int]
}

public struct LoaderState: Codable, Equatable, Sendable {
    public struct Cursor: Codable, Equatable, Sendable {
        public var name: String
        /// The source's token count when the state was saved (checked on restore).
        public var tokens: Int
        /// Completed passes over the source, and the next window within the current pass.
        public var epoch: Int
        public var window: Int
        public init(name: String, tokens: Int, epoch: Int, window: Int) {
            self.name = name; self.tokens = tokens; self.epoch = epoch; self.window = window
        }
    }

    public var version: Int = 1
    /// Batches produced so far; the mixture weights and source choices are functions of it.
    public var step: Int
    public var seed: UInt64
    public var batch: Int
    public var context: Int
    public var randomWindows: Bool
    public var cursors: [Cursor]

    public init(step: Int, seed: UInt64, batch: Int, context: Int, randomWindows: Bool, cursors: [Cursor]) {
        self.step = step; self.seed = seed; self.batch = batch; self.context = context
        self.randomWindows = randomWindows; self.cursors = cursors
    }
}
