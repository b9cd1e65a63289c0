// SFT data for a run: the recipe's TRL JSONL validated and rendered with the chat
// template, split into train and held-out samples (a validation file, or a share
// of the train file chosen by a hash of each record), samples longer than the
// context dropped and counted; replayed pretraining documents (sft.replay) cut to
// fit a row and mixed in; the batch source over packed rows; and the held-out loss
// (mean over trained positions). Leaves out: caching rendered samples on disk.

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData

struct SFTData {
    var train: [RenderedSample]
    var validation: [RenderedSample]
    var records: [DataRecord]
    var droppedTooLong: Int
    var skippedLines: Int
    /// Non-padding share of positions and trained share, for the first epoch's rows.
    var usefulShare: Double
    var trainedShare: Double

    static func prepare(_ sft: SFTConfig, template: ChatTemplate, chat: ChatTokenizer, rowLength: Int, mode: SFTPacker.Mode,
                        log: (String) -> Void) throws -> SFTData {
        let trainURL = URL(fileURLWithPath: sft.train)
        let split = try HeldOutSplit<Conversation>.make(train: trainURL, validation: sft.validation, fraction: sft.validationFraction,
                                                        name: "sft") { url in
            let set = try SFTDataset.load(url, skipBadLines: sft.skipBadLines)
            return (set.conversations, set.skippedLines)
        }
        let trainConvs = split.train, valConvs = split.validation, skipped = split.skipped
        var records = split.records
        let renderedTrain = try trainConvs.map { try template.render($0, chat) }
        let renderedVal = try valConvs.map { try template.render($0, chat) }
        let fits = { (s: RenderedSample) in s.count > 0 && s.count <= rowLength }
        var train = renderedTrain.filter(fits)
        let validation = renderedVal.filter(fits)
        let dropped = renderedTrain.count - train.count + renderedVal.count - validation.count
        records[0].tokens = train.reduce(0) { $0 + $1.count }
        if let replay = sft.replay, !train.isEmpty {
            let (pieces, replayRecords) = try replayPieces(replay, conversations: train.count, template: template, chat: chat,
                                                           rowLength: rowLength)
            log("sft replay: \(pieces.count) pieces of \(replay.paths.joined(separator: ", ")) (\(replayRecords.reduce(0) { $0 + $1.tokens }) tokens)"
                + " among \(train.count) conversations")
            train += pieces
            records += replayRecords
        }
        let packed = try SFTPacker.arrange(train, rowLength: rowLength, mode: mode, padID: 0)
        if records.count > 1, records[1].name.hasSuffix("_validation") { records[1].tokens = validation.reduce(0) { $0 + $1.count } }
        log("sft data: \(train.count) training and \(validation.count) held-out conversations"
            + (dropped > 0 ? ", \(dropped) longer than \(rowLength) tokens dropped" : "")
            + (skipped > 0 ? ", \(skipped) bad lines skipped" : "")
            + String(format: "; %@: %d rows, %.1f%% useful tokens, %.1f%% trained", mode.rawValue, packed.rows.count,
                     100 * packed.usefulShare, 100 * packed.trainedShare))
        guard !train.isEmpty else {
            throw StrataError.data("sft data \(trainURL.path)", "no training conversation fits in \(rowLength) tokens",
                                   fix: "raise train.context (up to the model's n_positions) or shorten the conversations")
        }
        return SFTData(train: train, validation: validation, records: records, droppedTooLong: dropped, skippedLines: skipped,
                       usefulShare: packed.usefulShare, trainedShare: packed.trainedShare)
    }

    /// Documents of `replay.paths` cut into pieces of at most `rowLength` tokens (every token trained), a seeded
    /// choice of them making up `replay.fraction` of the samples beside `conversations` (all pieces if fewer);
    /// one lineage record per file with the tokens chosen from it.
    static func replayPieces(_ replay: SFTReplaySection, conversations: Int, template: ChatTemplate, chat: ChatTokenizer,
                             rowLength: Int) throws -> ([RenderedSample], [DataRecord]) {
        var pieces: [(file: Int, sample: RenderedSample)] = []
        for (f, path) in replay.paths.enumerated() {
            for doc in try SFTDataset.load(URL(fileURLWithPath: path)).conversations {
                let (tokens, trained) = try template.tokens(doc, chat)
                for start in stride(from: 0, to: max(0, tokens.count - 1), by: rowLength) {
                    let end = min(tokens.count, start + rowLength + 1)   // rowLength inputs and their next tokens
                    guard end - start >= 2 else { continue }
                    pieces.append((f, RenderedSample(tokens: Array(tokens[start..<end]), trained: Array(trained[start..<end]))))
                }
            }
        }
        var rng = StrataRNG(seed: 0x5EED_5F7)
        rng.shuffle(&pieces)
        let wanted = Int((replay.fraction / (1 - replay.fraction) * Double(conversations)).rounded())
        let chosen = replay.weights.map { weighted(pieces, weights: $0, wanted: wanted, &rng) } ?? Array(pieces.prefix(wanted))
        let records = try replay.paths.enumerated().map { f, path in
            DataRecord(name: "replay" + (replay.paths.count > 1 ? "_\(f)" : ""), path: path, sha256: try SHA256.hex(fileAt: URL(fileURLWithPath: path)),
                       tokens: chosen.filter { $0.file == f }.reduce(0) { $0 + $1.sample.count })
        }
        return (chosen.map(\.sample), records)
    }

    /// `wanted` pieces, file f giving round(wanted · w_f / Σw) of them in the (already shuffled) order, cycling
    /// through a file whose pieces are fewer than its share; the choice shuffled together.
    static func weighted(_ pieces: [(file: Int, sample: RenderedSample)], weights: [Double], wanted: Int,
                         _ rng: inout StrataRNG) -> [(file: Int, sample: RenderedSample)] {
        let total = weights.reduce(0, +)
        var chosen: [(file: Int, sample: RenderedSample)] = []
        for (f, w) in weights.enumerated() {
            let own = pieces.filter { $0.file == f }
            guard !own.isEmpty else { continue }
            let n = Int((Double(wanted) * w / total).rounded())
            chosen += (0..<n).map { own[$0 % own.count] }
        }
        rng.shuffle(&chosen)
        return chosen
    }

    /// Whether a conversation belongs to the held-out share: a hash of its content, so the choice
    /// does not depend on order or on the other records.
    /// A number in [0, 1) from the SHA-256 of `bytes`.
    static func fraction(_ bytes: Data) -> Double {
        Double(UInt64(SHA256.hex(bytes).prefix(15), radix: 16)!) / Double(1 << 60)
    }

    /// Next-token loss over the trained positions of up to `batches` batches of held-out rows (packed the same way,
    /// in file order), reported as source "sft".
    static func validator(model: any CausalLM, samples: [RenderedSample], rowLength: Int, batch: Int, batches: Int,
                          mode: SFTPacker.Mode) -> Validator {
        Validator {
            guard !samples.isEmpty else { return nil }
            let rows = try SFTPacker.arrange(samples, rowLength: rowLength, mode: mode, padID: 0).rows
            var sum = TokenLossSum()
            for chunk in stride(from: 0, to: min(rows.count, batch * batches), by: batch) {
                let b = SFTBatches.stepBatch(Array(rows[chunk..<min(rows.count, chunk + batch)]), rowLength: rowLength)
                guard b.trainedTokens > 0 else { continue }
                sum.add("sft", meanLoss: Double(model.loss(b, tape: .noGrad()).item()), tokens: b.trainedTokens)
            }
            return sum.result
        }
    }
}

/// Training records and held-out ones: a validation file, or the share of the training file whose content
/// hash falls below `fraction` (independent of order and of the other records).
struct HeldOutSplit<Item: Encodable> {
    var train: [Item], validation: [Item], records: [DataRecord], skipped: Int

    static func make(train url: URL, validation: String?, fraction: Double, name: String,
                     load: (URL) throws -> (items: [Item], skipped: Int)) throws -> HeldOutSplit {
        let (items, skipped) = try load(url)
        var out = HeldOutSplit(train: items, validation: [], skipped: skipped,
                               records: [DataRecord(name: name, path: url.path, sha256: try SHA256.hex(fileAt: url), tokens: 0)])
        if let v = validation {
            let vurl = URL(fileURLWithPath: v)
            let (held, bad) = try load(vurl)
            out.validation = held
            out.skipped += bad
            out.records.append(DataRecord(name: name + "_validation", path: vurl.path, sha256: try SHA256.hex(fileAt: vurl), tokens: 0))
        } else if fraction > 0 {
            let held = try items.map { SFTData.fraction(try StrataJSON.encode($0, pretty: false)) < fraction }
            out.validation = zip(items, held).filter { $0.1 }.map(\.0)
            out.train = zip(items, held).filter { !$0.1 }.map(\.0)
        }
        return out
    }

    init(train: [Item], validation: [Item], skipped: Int, records: [DataRecord]) {
        self.train = train; self.validation = validation; self.skipped = skipped; self.records = records
    }
}

/// Packed SFT rows as the training loop's batch source.
public final class SFTBatches: BatchSource {
    public private(set) var loader: SFTLoader
    public init(_ loader: SFTLoader) { self.loader = loader }
    public var state: LoaderState { loader.state }
    public func next() throws -> StepBatch { SFTBatches.stepBatch(loader.next(), rowLength: loader.rowLength) }

    public static func stepBatch(_ rows: [PackedRow], rowLength: Int) -> StepBatch {
        StepBatch(rows: rows.count, time: rowLength, inputs: rows.flatMap(\.ids), targets: rows.flatMap(\.targets),
                  positions: rows.flatMap(\.positions), docStart: rows.flatMap(\.docStart),
                  realTokens: rows.reduce(0) { $0 + $1.used })
    }
}
