// Batches of (input, target) windows drawn from a weighted mixture of token
// sources. Each row's source is a pure function of (seed, step, row) and the
// weights at that step; each source walks its windows of T+1 tokens (stride T)
// in order or in a seeded per-epoch permutation with a per-epoch offset. The whole
// position is `state` (step + per-source epoch and window), so restoring it
// reproduces the uninterrupted run exactly, and `skip(batches:)` moves past
// batches without reading them. Leaves out: document-aligned windows, prefetching.

import StrataCore

public struct MixtureLoader: Sendable {
    public let sources: [MixtureSource]
    public let batch: Int
    public let context: Int
    public let seed: UInt64
    public let randomWindows: Bool
    public let vocabSize: Int
    private var step: Int
    private var epochs: [Int]
    private var windows: [Int]
    private let offsets: [[Int]]   // per source: start of each shard in its stream
    private let keys: [UInt64]     // per source: hash of its name

    /// A loader at step 0. `randomWindows` false reads each source front to back.
    public init(sources: [MixtureSource], batch: Int, context: Int, seed: UInt64, randomWindows: Bool) throws {
        let op = "create data loader"
        guard batch > 0, context > 0 else {
            throw StrataError.config(op, "batch \(batch) and context \(context) must be positive")
        }
        // Inputs and targets (Int32 each) of one batch, before anything is allocated or multiplied in Int.
        try MemoryBudget.check(Double(batch) * Double(context) * 8, for: "a batch of \(batch) × \(context) tokens", op: op,
                               fix: "lower train.batch_size (use train.grad_accum for a larger effective batch) or train.context")
        guard !sources.isEmpty else { throw StrataError.config(op, "no data sources given") }
        var seen = Set<String>()
        for s in sources {
            guard seen.insert(s.name).inserted else {
                throw StrataError.config(op, "source name '\(s.name)' appears twice", fix: "give every source its own name")
            }
            guard !s.shards.isEmpty else { throw StrataError.config(op, "source '\(s.name)' has no shards") }
            guard s.tokenCount >= context + 1 else {
                throw StrataError.data(op, "source '\(s.name)' has \(s.tokenCount) tokens; a window needs context + 1 = \(context + 1)",
                                       fix: "use more data or a shorter context")
            }
            try s.weight.validate(name: s.name)
        }
        let vocabs = Set(sources.flatMap { $0.shards.map(\.vocabSize) })
        guard vocabs.count == 1, let vocab = vocabs.first else {
            throw StrataError.data(op, "shards were written for different vocabulary sizes \(vocabs.sorted())",
                                   fix: "prepare every source with the same tokenizer")
        }
        self.sources = sources
        self.batch = batch
        self.context = context
        self.seed = seed
        self.randomWindows = randomWindows
        self.vocabSize = vocab
        step = 0
        epochs = [Int](repeating: 0, count: sources.count)
        windows = epochs
        offsets = sources.map { s in s.shards.reduce(into: [0]) { $0.append($0.last! + $1.count) }.dropLast() }
        keys = sources.map { Hash64.string($0.name) }
        try checkWeightsNeverAllZero()
    }

    /// A loader continuing from `state` over the same sources (same names, order and token counts).
    public init(sources: [MixtureSource], restoring state: LoaderState) throws {
        try self.init(sources: sources, batch: state.batch, context: state.context, seed: state.seed,
                      randomWindows: state.randomWindows)
        let op = "restore data loader"
        guard state.version == 1 else { throw StrataError.config(op, "unknown loader state version \(state.version)") }
        guard state.cursors.map(\.name) == sources.map(\.name) else {
            throw StrataError.config(op, "state has sources \(state.cursors.map(\.name)) but the loader was given \(sources.map(\.name))",
                                     fix: "resume with the same data sources in the same order")
        }
        for (c, s) in zip(state.cursors, sources) where c.tokens != s.tokenCount {
            throw StrataError.config(op, "source '\(c.name)' had \(c.tokens) tokens when saved but has \(s.tokenCount) now",
                                     fix: "resume with the same shards the run started with")
        }
        step = state.step
        for (i, c) in state.cursors.enumerated() {
            guard c.epoch >= 0, c.window >= 0, c.window < layout(source: i, epoch: c.epoch).windows else {
                throw StrataError.config(op, "cursor of '\(c.name)' (epoch \(c.epoch), window \(c.window)) is out of range")
            }
            epochs[i] = c.epoch
            windows[i] = c.window
        }
    }

    public var state: LoaderState {
        LoaderState(step: step, seed: seed, batch: batch, context: context, randomWindows: randomWindows,
                    cursors: sources.indices.map {
                        LoaderState.Cursor(name: sources[$0].name, tokens: sources[$0].tokenCount,
                                           epoch: epochs[$0], window: windows[$0])
                    })
    }

    /// Normalised mixture weights at `step`.
    public func weights(at step: Int) -> [Double] {
        let w = sources.map { $0.weight.weight(at: step) }
        let total = w.reduce(0, +)
        return w.map { $0 / total }
    }

    /// Windows in one pass over source `index` (its epoch length in rows).
    public func windowsPerEpoch(source index: Int) -> Int { layout(source: index, epoch: 0).windows }

    /// The next batch.
    public mutating func next() -> Batch {
        let thisStep = step
        let plan = advance()
        let t = context
        var inputs = [Int32](repeating: 0, count: batch * t)
        var targets = inputs
        var scratch = [Int32](repeating: 0, count: t + 1)
        for (row, p) in plan.enumerated() {
            scratch.withUnsafeMutableBufferPointer { read(source: p.source, from: p.start, count: t + 1, into: $0.baseAddress!) }
            for j in 0..<t {
                inputs[row * t + j] = scratch[j]
                targets[row * t + j] = scratch[j + 1]
            }
        }
        return Batch(step: thisStep, batch: batch, context: t, inputs: inputs, targets: targets,
                     sourceIndex: plan.map(\.source), windowStart: plan.map(\.start))
    }

    /// Move past `batches` batches without reading tokens (e.g. after a loss-spike rollback).
    public mutating func skip(batches: Int) {
        for _ in 0..<max(0, batches) { _ = advance() }
    }

    /// Choose each row's source and window for the current step, then move the state on.
    private mutating func advance() -> [(source: Int, start: Int)] {
        var cumulative = [Double]()
        var total = 0.0, lastPositive = 0
        for (i, s) in sources.enumerated() {
            let w = s.weight.weight(at: step)
            if w > 0 { lastPositive = i }
            total += w
            cumulative.append(total)
        }
        var plan: [(source: Int, start: Int)] = []
        plan.reserveCapacity(batch)
        for row in 0..<batch {
            let u = Hash64.unit(Hash64.combine(seed, 0x5EED, UInt64(step), UInt64(row))) * total
            let s = cumulative.firstIndex { u < $0 } ?? lastPositive   // zero-weight sources never match
            let lay = layout(source: s, epoch: epochs[s])
            let w = lay.permutation.map { $0(windows[s]) } ?? windows[s]
            plan.append((s, lay.offset + w * context))
            windows[s] += 1
            if windows[s] == lay.windows { windows[s] = 0; epochs[s] += 1 }
        }
        step += 1
        return plan
    }

    private func layout(source s: Int, epoch: Int) -> (offset: Int, windows: Int, permutation: WindowPermutation?) {
        let n = sources[s].tokenCount
        guard randomWindows else { return (0, (n - 1) / context, nil) }
        var offset = Int(Hash64.combine(seed, keys[s], UInt64(epoch), 1) % UInt64(context))
        if (n - 1 - offset) / context < 1 { offset = 0 }
        let count = (n - 1 - offset) / context
        return (offset, count, WindowPermutation(count: count, key: Hash64.combine(seed, keys[s], UInt64(epoch), 2)))
    }

    /// Copy `count` tokens of source `s`'s stream from `start`, crossing shard boundaries.
    private func read(source s: Int, from start: Int, count: Int, into dst: UnsafeMutablePointer<Int32>) {
        let shards = sources[s].shards
        var pos = start, done = 0
        var k = offsets[s].lastIndex { $0 <= pos } ?? 0
        while done < count {
            let local = pos - offsets[s][k]
            let n = min(count - done, shards[k].count - local)
            if n > 0 { shards[k].copy(local..<local + n, into: dst + done) }
            done += n; pos += n; k += 1
        }
    }

    /// The weights sum to zero somewhere iff they do at a keypoint step (they are piecewise linear).
    private func checkWeightsNeverAllZero() throws {
        let steps = Set(sources.flatMap { $0.weight.keypoints.map(\.step) } + [0]).sorted()
        for st in steps where sources.map({ $0.weight.weight(at: st) }).reduce(0, +) <= 0 {
            throw StrataError.config("create data loader", "all mixture weights are zero at step \(st)",
                                     fix: "give at least one source a positive weight at every step")
        }
    }
}
