// The JSON file written next to each shard: where the tokens came from (files
// with SHA-256, document and token counts), which tokenizer produced them, and
// which split they are. Leaves out: timestamps and host names (so the same inputs
// give byte-identical sidecars).

import Foundation
import StrataCore

public struct ShardSidecar: Codable, Equatable, Sendable {
    public struct Source: Codable, Equatable, Sendable {
        public var path: String
        public var sha256: String
        public var format: String
        /// Documents and tokens (EOS included) from this source that landed in this split.
        public var documents: Int
        public var tokens: Int
        /// Whole-file counts (the same in every split's sidecar).
        public var emptyDocuments: Int
        public var badLines: Int
        public var emptyFile: Bool
    }

    public var formatVersion: Int = 1
    public var shard: String
    public var split: String
    public var dtype: ShardDType
    public var tokenCount: Int
    public var documentCount: Int
    public var tokensSHA256: String
    public var vocabSize: Int
    public var eosID: Int
    public var tokenizerHash: String
    public var textField: String
    public var valFraction: Double
    public var seed: UInt64
    public var sources: [Source]

    public static func read(at url: URL) throws -> ShardSidecar {
        try StrataJSON.read(ShardSidecar.self, at: url)
    }

    public func write(to url: URL) throws {
        do { try StrataJSON.encode(self).write(to: url) } catch {
            throw StrataError.file("write \(url.path)", path: url.path, error)
        }
    }
}
