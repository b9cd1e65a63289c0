// Preference pairs for a run (reward model or DPO): the recipe's TRL JSONL
// validated and rendered with the chat template, split into train and held-out
// pairs, pairs longer than the context dropped and counted; a loader that walks
// the pairs epoch after epoch in a seeded order (position = LoaderState), and
// batches laid out as [2P, T] (chosen rows, then rejected rows).
// Leaves out: length-grouped batching, packing pairs.

import Foundation
import StrataCore
import StrataModel
import StrataData

struct PreferenceData {
    var train: [RenderedPair]
    var validation: [RenderedPair]
    /// The held-out pairs' labels ("wrong_fact", "refusal", ...), parallel to `validation`.
    var validationTypes: [String?]
    var records: [DataRecord]
    var droppedTooLong: Int
    var skippedLines: Int

    static func prepare(_ pref: PreferenceConfig, template: ChatTemplate, chat: ChatTokenizer, rowLength: Int,
                        log: (String) -> Void) throws -> PreferenceData {
        let trainURL = URL(fileURLWithPath: pref.train)
        let split = try HeldOutSplit<PreferencePair>.make(train: trainURL, validation: pref.validation, fraction: pref.validationFraction,
                                                          name: "preference") { url in
            let set = try PreferenceDataset.load(url, skipBadLines: pref.skipBadLines)
            return (set.pairs, set.skippedLines)
        }
        let trainPairs = split.train, valPairs = split.validation, skipped = split.skipped, records = split.records
        let renderedTrain = try trainPairs.map { try template.render(pair: $0, chat) }
        let renderedVal = try valPairs.map { try template.render(pair: $0, chat) }
        let keepTrain = renderedTrain.indices.filter { renderedTrain[$0].longestSequence <= rowLength }
        let keepVal = renderedVal.indices.filter { renderedVal[$0].longestSequence <= rowLength }
        let dropped = renderedTrain.count - keepTrain.count + renderedVal.count - keepVal.count
        var d = PreferenceData(train: keepTrain.map { renderedTrain[$0] }, validation: keepVal.map { renderedVal[$0] },
                               validationTypes: keepVal.map { valPairs[$0].type }, records: records, droppedTooLong: dropped,
                               skippedLines: skipped)
        d.records[0].tokens = d.train.reduce(0) { $0 + $1.prompt.count + $1.chosen.count + $1.rejected.count }
        if d.records.count > 1 { d.records[1].tokens = d.validation.reduce(0) { $0 + $1.prompt.count + $1.chosen.count + $1.rejected.count } }
        log("preference data: \(d.train.count) training and \(d.validation.count) held-out pairs"
            + (dropped > 0 ? ", \(dropped) longer than \(rowLength) tokens dropped" : "")
            + (skipped > 0 ? ", \(skipped) bad lines skipped" : ""))
        guard !d.train.isEmpty else {
            throw StrataError.data("preference data \(trainURL.path)", "no training pair fits in \(rowLength) tokens",
                                   fix: "raise train.context (up to the model's n_positions) or shorten the pairs")
        }
        return d
    }

    /// The [2P, T] batch of `indices` into `pairs` (all fit, so none is dropped).
    static func batch(_ pairs: [RenderedPair], _ indices: [Int], rowLength: Int, padID: Int32) throws -> (PreferenceBatch, ResponseBatch) {
        let b = try PreferenceBatch.make(indices.map { pairs[$0] }, rowLength: rowLength, padID: padID)
        return (b, try ResponseBatch(ids: b.ids, targets: b.targets, rows: b.rows, time: rowLength))
    }
}

/// Pair indices, B per batch, in a seeded order reshuffled every epoch.
final class PairLoader {
    let count: Int, batch: Int, seed: UInt64, context: Int
    private(set) var state: LoaderState
    private var order: [Int] = []
    private var orderEpoch = -1

    init(count: Int, batch: Int, context: Int, seed: UInt64, state: LoaderState? = nil) throws {
        self.count = count; self.batch = batch; self.seed = seed; self.context = context
        let fresh = LoaderState(step: 0, seed: seed, batch: batch, context: context, randomWindows: true,
                                cursors: [.init(name: "pairs", tokens: count, epoch: 0, window: 0)])
        if let state {
            guard state.batch == batch, state.context == context, state.seed == seed, state.cursors.count == 1,
                  state.cursors[0].name == "pairs", state.cursors[0].tokens == count else {
                throw StrataError.config("resume preference loader", "the saved loader position (batch \(state.batch), "
                                         + "\(state.cursors.first?.tokens ?? 0) pairs) does not match this data (batch \(batch), \(count) pairs)",
                                         fix: "resume with the recipe and data the run started with")
            }
            self.state = state
        } else {
            self.state = fresh
        }
    }

    func next() -> [Int] {
        var out: [Int] = []
        while out.count < batch {
            let c = state.cursors[0]
            if orderEpoch != c.epoch {
                order = Array(0..<count)
                var rng = StrataRNG(seed: seed &+ 0x0BAD_5EED &+ UInt64(c.epoch) &* 0x9E37_79B9_7F4A_7C15)
                rng.shuffle(&order)
                orderEpoch = c.epoch
            }
            if c.window >= count { state.cursors[0].epoch += 1; state.cursors[0].window = 0; continue }
            out.append(order[c.window])
            state.cursors[0].window += 1
        }
        state.step += 1
        return out
    }
}
