// SFTLoader: batches of packed (or padded) chat rows, epoch after epoch. Each
// epoch shuffles the samples with a seed derived from (seed, epoch) and packs
// them into rows of T tokens; batches take B rows in order and run on into the
// next epoch when one ends. The position is a LoaderState (one cursor "sft":
// epoch and next row), so restoring it replays the same batches exactly.
// Leaves out: length-grouped sampling, streaming datasets larger than memory.

import StrataCore

public struct SFTLoader: Sendable {
    public let samples: [RenderedSample]
    public let batch: Int
    public let rowLength: Int
    public let mode: SFTPacker.Mode
    public let padID: Int32
    public let seed: UInt64
    public private(set) var state: LoaderState
    private var rows: [PackedRow] = []
    private var rowsEpoch = -1

    /// A loader at the start (or at `state`). Samples must already fit `rowLength` (see SFTPacker).
    public init(samples: [RenderedSample], batch: Int, rowLength: Int, mode: SFTPacker.Mode, padID: Int32, seed: UInt64,
                state: LoaderState? = nil) throws {
        let op = "create SFT loader"
        guard batch > 0, rowLength > 0 else { throw StrataError.config(op, "batch \(batch) and row length \(rowLength) must be positive") }
        guard !samples.isEmpty else {
            throw StrataError.data(op, "no conversation fits in \(rowLength) tokens", fix: "use a longer train.context or shorter conversations")
        }
        if let long = samples.firstIndex(where: { $0.count > rowLength || $0.count == 0 }) {
            throw StrataError.data(op, "sample \(long) has \(samples[long].count) tokens; rows hold 1...\(rowLength)",
                                   fix: "drop samples longer than the context before building the loader")
        }
        self.samples = samples; self.batch = batch; self.rowLength = rowLength; self.mode = mode; self.padID = padID; self.seed = seed
        let fresh = LoaderState(step: 0, seed: seed, batch: batch, context: rowLength, randomWindows: true,
                                cursors: [.init(name: "sft", tokens: samples.count, epoch: 0, window: 0)])
        if let state {
            guard state.batch == batch, state.context == rowLength, state.seed == seed, state.cursors.count == 1,
                  state.cursors[0].name == "sft", state.cursors[0].tokens == samples.count else {
                throw StrataError.config("resume SFT loader", "the saved loader position (batch \(state.batch), context \(state.context), "
                                         + "\(state.cursors.first?.tokens ?? 0) samples) does not match this data (batch \(batch), "
                                         + "context \(rowLength), \(samples.count) samples)",
                                         fix: "resume with the recipe and data the run started with")
            }
            self.state = state
        } else {
            self.state = fresh
        }
    }

    /// The rows of one epoch: samples in a seeded order, packed or padded.
    public func rows(epoch: Int) -> [PackedRow] {
        var order = Array(samples.indices)
        var rng = StrataRNG(seed: seed &+ 0x5F7_0000 &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
        rng.shuffle(&order)
        // Every sample fits (checked in init), so arrange cannot drop any or fail.
        return (try? SFTPacker.arrange(order.map { samples[$0] }, rowLength: rowLength, mode: mode, padID: padID).rows) ?? []
    }

    /// The next B rows.
    public mutating func next() -> [PackedRow] {
        var out: [PackedRow] = []
        out.reserveCapacity(batch)
        while out.count < batch {
            let c = state.cursors[0]
            if rowsEpoch != c.epoch { rows = rows(epoch: c.epoch); rowsEpoch = c.epoch }
            if c.window >= rows.count {
                state.cursors[0].epoch += 1
                state.cursors[0].window = 0
                continue
            }
            out.append(rows[c.window])
            state.cursors[0].window += 1
        }
        state.step += 1
        return out
    }

    /// Rows per epoch (they can differ slightly between epochs when packing).
    public var rowsPerEpoch: Int { rows(epoch: state.cursors[0].epoch).count }
}
