// The tokenizer as the data pipeline sees it: a batch encoder with an
// end-of-text id, a vocabulary size (which picks the shard dtype) and a content
// hash recorded in shard sidecars. StrataData does not depend on the tokenizer
// target; the CLI makes the real tokenizer conform. Leaves out: decoding.

public protocol TokenEncoder: Sendable {
    /// Token ids for each text, in order. A non-throwing method satisfies this requirement.
    func encodeBatch(_ texts: [String]) throws -> [[Int]]
    /// The end-of-text token appended after every document; nil when the tokenizer has none
    /// (data preparation then refuses to run).
    var eosID: Int? { get }
    /// Number of token ids; every id is in 0..<vocabSize.
    var vocabSize: Int { get }
    /// A stable hash of the tokenizer's contents, recorded in shard sidecars.
    var hash: String { get }
}

/// A tokenizer-free encoder: ids 0...255 are UTF-8 bytes and 256 is end-of-text.
/// Useful for smoke tests and character-level experiments (`--tokenizer bytes`).
public struct ByteTokenEncoder: TokenEncoder, Sendable {
    public init() {}
    public func encodeBatch(_ texts: [String]) -> [[Int]] { texts.map { $0.utf8.map { Int($0) } } }
    public var eosID: Int? { 256 }
    public var vocabSize: Int { 257 }
    public var hash: String { "byte-level-v1" }
}
