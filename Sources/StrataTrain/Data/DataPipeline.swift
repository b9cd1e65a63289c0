// DataPipeline: turns a recipe's data sources into token shards (prepared once
// into the run directory, reused on resume) and builds the training mixture
// loader and one validation stream per source. Also the tokenizer step of a
// recipe: load tokenizer.json, or train one on the recipe's text.
// Leaves out: streaming tokenisation during training (shards are prepared first).

import Foundation
import StrataCore
import StrataData
import StrataTokenizer

/// The real tokenizer as the data pipeline's encoder.
public struct TokenizerEncoder: TokenEncoder {
    public let tokenizer: BPETokenizer
    public init(_ tokenizer: BPETokenizer) { self.tokenizer = tokenizer }
    public func encodeBatch(_ texts: [String]) -> [[Int]] { tokenizer.encodeBatch(texts) }
    public var eosID: Int? { tokenizer.eosID }
    public var vocabSize: Int { tokenizer.vocabSize }
    public var hash: String { tokenizer.hash }
}

public struct PreparedSource: Sendable {
    public var name: String
    public var train: Shard
    public var validation: Shard?
    public var record: DataRecord
}

public enum DataPipeline {
    public static let endOfText = "<|endoftext|>"

    /// Load or train the recipe's tokenizer; a trained one is saved as runDir/tokenizer.json and reused on resume.
    public static func tokenizer(for recipe: Recipe, runDir: URL, log: (String) -> Void) throws -> BPETokenizer {
        if let path = recipe.tokenizer.path { return try BPETokenizer(contentsOf: URL(fileURLWithPath: path)) }
        let saved = runDir.appendingPathComponent("tokenizer.json")
        if FileManager.default.fileExists(atPath: saved.path) { return try BPETokenizer(contentsOf: saved) }
        guard let spec = recipe.tokenizer.train else {
            throw StrataError.config("recipe", "tokenizer: set either 'tokenizer.path' or 'tokenizer.train'",
                                     fix: "e.g. tokenizer: {train: {vocab_size: 1024}}")
        }
        let files = try DataPrepare.expandInputs(spec.files.isEmpty ? recipe.data.sources.map(\.path) : spec.files)
        let docs = try TextSource.read(files)
        log("training a \(spec.vocabSize)-token byte-level BPE tokenizer on \(files.count) file(s)")
        // The encoder's special tokens take ids 0…4 as in RoBERTa (</s> then separates documents).
        let specials = recipe.model.family.isEncoder ? ["<s>", "<pad>", "</s>", "<unk>", "<mask>"] : [endOfText]
        let cfg = BPETrainer.Config(vocabSize: spec.vocabSize, specialTokens: specials)
        let (tok, _) = try BPETrainer.train(texts: docs.texts, config: cfg)
        try FileManager.default.createDirectory(at: runDir, withIntermediateDirectories: true)
        try tok.write(to: saved)
        return tok
    }

    /// Prepare (or reuse) the shards of every source.
    public static func prepare(_ recipe: Recipe, tokenizer: BPETokenizer, runDir: URL, log: (String) -> Void) throws -> [PreparedSource] {
        let dataDir = runDir.appendingPathComponent("data")
        if let shard = recipe.data.validation.shard {
            throw StrataError.config("recipe", "data.validation.shard (\(shard)) is not supported by the training stages yet",
                                     fix: "hold out documents with data.validation.fraction instead")
        }
        return try recipe.data.sources.map { src in
            if src.path.hasSuffix(".bin") {
                let shard = try Shard(contentsOf: URL(fileURLWithPath: src.path))
                try checkVocabulary(shard, tokenizer: tokenizer, source: src.name)
                return PreparedSource(name: src.name, train: shard, validation: nil,
                                      record: DataRecord(name: src.name, path: src.path, sha256: try SHA256.hex(fileAt: shard.url), tokens: shard.count))
            }
            let trainURL = dataDir.appendingPathComponent("\(src.name).train.bin")
            if !FileManager.default.fileExists(atPath: trainURL.path) {
                var cfg = DataPrepare.Config(inputs: [src.path], outputDirectory: dataDir.path)
                cfg.name = src.name
                cfg.valFraction = recipe.data.validation.effectiveFraction
                // The split depends only on the file's name, so every stage that reads the same file holds out
                // the same documents (no stage trains on another stage's validation set).
                cfg.seed = splitSeed(src.path)
                let report = try DataPrepare.run(cfg, encoder: TokenizerEncoder(tokenizer))
                log("prepared \(src.name): \(report.train.sidecar.tokenCount) train tokens, \(report.validation?.sidecar.tokenCount ?? 0) validation tokens")
            }
            let train = try Shard(contentsOf: trainURL)
            let valURL = dataDir.appendingPathComponent("\(src.name).val.bin")
            let val = FileManager.default.fileExists(atPath: valURL.path) ? try Shard(contentsOf: valURL) : nil
            let sidecar = try StrataJSON.read(ShardSidecar.self, at: train.sidecarURL)
            try train.verify(against: sidecar)  // a shard changed since it was prepared stops the run here
            if let val { try val.verify(against: try StrataJSON.read(ShardSidecar.self, at: val.sidecarURL)) }
            guard sidecar.tokenizerHash == tokenizer.hash else {
                throw StrataError.data("prepare \(src.name)", "shard \(trainURL.path) was tokenized with a different tokenizer",
                                       fix: "delete \(dataDir.path) to re-tokenize")
            }
            let sha = sidecar.sources.map(\.sha256).joined(separator: "+")
            return PreparedSource(name: src.name, train: train, validation: val,
                                  record: DataRecord(name: src.name, path: src.path, sha256: sha, tokens: train.count))
        }
    }

    /// A stable seed from a file's base name (FNV-1a), independent of the recipe's training seed.
    static func splitSeed(_ path: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in URL(fileURLWithPath: path).lastPathComponent.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    static func checkVocabulary(_ shard: Shard, tokenizer: BPETokenizer, source: String) throws {
        if shard.vocabSize > tokenizer.vocabSize {
            throw StrataError.data("open \(shard.url.path)", "source '\(source)' was tokenized with \(shard.vocabSize) ids but the tokenizer has \(tokenizer.vocabSize)")
        }
    }

    /// The training loader over all sources, weighted as the recipe says.
    public static func loader(_ recipe: Recipe, sources: [PreparedSource], state: LoaderState? = nil) throws -> MixtureLoader {
        let mix = zip(recipe.data.sources, sources).map { cfg, src in
            MixtureSource(name: src.name, shard: src.train, weight: weightSchedule(cfg))
        }
        if let state { return try MixtureLoader(sources: mix, restoring: state) }
        return try MixtureLoader(sources: mix, batch: recipe.train.batchSize, context: recipe.context,
                                 seed: UInt64(recipe.train.seed), randomWindows: true)
    }

    static func weightSchedule(_ src: DataSource) -> WeightSchedule {
        if let points = src.schedule, !points.isEmpty {
            return WeightSchedule(points.map { WeightSchedule.Keypoint(step: $0.step, weight: $0.weight) },
                                  interpolation: src.interpolation == .linear ? .linear : .step)
        }
        return .constant(src.weight ?? 1)
    }
}
