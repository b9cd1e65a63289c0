// `strata data prepare`: text/JSONL files → token shards plus JSON sidecars.
// Documents are tokenized in batches, each followed by the end-of-text token,
// and routed to the train or validation shard by a hash of (seed, source index,
// document index), so the split is deterministic and independent of batching.
// Leaves out: deduplication, filtering by language or quality, sharding by size.

import Foundation
import StrataCore

public enum DataPrepare {
    public struct Config: Codable, Sendable {
        /// Input files or directories (directories are searched recursively for
        /// .txt, .text, .md, .jsonl and .ndjson files, in sorted order).
        public var inputs: [String]
        /// Directory the shards and sidecars go to (created if missing).
        public var outputDirectory: String
        /// File prefix: NAME.train.bin / NAME.train.json / NAME.val.bin / NAME.val.json.
        public var name: String = "data"
        public var reader = DocumentReader.Options()
        /// Fraction of documents routed to the validation shard (0 writes no validation shard).
        public var valFraction: Double = 0.05
        /// Seed of the train/validation split.
        public var seed: UInt64 = 0
        /// Force a token dtype; nil chooses uint16 when the vocabulary has ≤ 65536 ids, else uint32.
        public var dtype: ShardDType? = nil
        /// Documents handed to the tokenizer per call.
        public var batchDocuments: Int = 256

        public init(inputs: [String], outputDirectory: String) {
            self.inputs = inputs
            self.outputDirectory = outputDirectory
        }
    }

    public struct Split: Sendable {
        public var shardURL: URL
        public var sidecarURL: URL
        public var sidecar: ShardSidecar
    }

    public struct Report: Sendable {
        public var train: Split
        public var validation: Split?
        public var emptyDocuments: Int
        public var badLines: Int
        public var emptyFiles: Int
        public var warnings: [String]
    }

    /// True when document `index` of source `sourceIndex` belongs to the validation split.
    public static func isValidation(sourceIndex: Int, documentIndex: Int, seed: UInt64, fraction: Double) -> Bool {
        guard fraction > 0 else { return false }
        return Hash64.unit(Hash64.combine(seed, UInt64(sourceIndex), UInt64(documentIndex))) < fraction
    }

    /// The files `inputs` name, directories expanded, in a stable order.
    public static func expandInputs(_ inputs: [String]) throws -> [URL] {
        let fm = FileManager.default
        let known: Set<String> = ["txt", "text", "md", "jsonl", "ndjson"]
        var out: [URL] = []
        for input in inputs {
            var isDir: ObjCBool = false
            guard fm.fileExists(atPath: input, isDirectory: &isDir) else {
                throw StrataError.io("prepare data", "input \(input) does not exist", fix: "check the path")
            }
            if !isDir.boolValue { out.append(URL(fileURLWithPath: input)); continue }
            let found = (fm.enumerator(atPath: input)?.compactMap { $0 as? String } ?? [])
                .filter { known.contains(($0 as NSString).pathExtension.lowercased()) }
                .sorted()
            out += found.map { URL(fileURLWithPath: input).appendingPathComponent($0) }
        }
        guard !out.isEmpty else {
            throw StrataError.config("prepare data", "no input files found in \(inputs)",
                                     fix: "pass .txt/.md/.jsonl files or directories holding them")
        }
        return out
    }

    /// Tokenize the inputs and write the shards and sidecars.
    public static func run<E: TokenEncoder>(_ config: Config, encoder: E) throws -> Report {
        try validate(config, encoder: encoder)
        let files = try expandInputs(config.inputs)
        let outDir = URL(fileURLWithPath: config.outputDirectory)
        do { try FileManager.default.createDirectory(at: outDir, withIntermediateDirectories: true) } catch {
            throw StrataError.file("prepare data", path: outDir.path, error)
        }
        var job = try PrepareJob(config: config, encoder: encoder, files: files, outDir: outDir)
        for (i, file) in files.enumerated() { try job.process(file: file, index: i) }
        return try job.finish()
    }

    static func validate<E: TokenEncoder>(_ config: Config, encoder: E) throws {
        guard config.valFraction >= 0, config.valFraction < 1 else {
            throw StrataError.config("prepare data", "val fraction \(config.valFraction) is outside [0, 1)",
                                     fix: "use e.g. 0.05 for 5% validation documents, or 0 for none")
        }
        guard config.batchDocuments > 0 else {
            throw StrataError.config("prepare data", "batchDocuments must be positive, got \(config.batchDocuments)")
        }
        guard let eos = encoder.eosID else {
            throw StrataError.config("prepare data", "the tokenizer has no end-of-text token",
                                     fix: "use a tokenizer with an EOS/end-of-text special token")
        }
        guard eos >= 0, eos < encoder.vocabSize else {
            throw StrataError.config("prepare data", "end-of-text id \(eos) is outside the vocabulary (0..<\(encoder.vocabSize))")
        }
        _ = try ShardDType.choose(vocabSize: encoder.vocabSize, requested: config.dtype)
    }
}
