// The tokenizer as the data pipeline sees it: a batch encoder with an
// end-of-text id, a vocabulary size (which picks the shard dtype) and a content
// hash recorded in shard sidecars. StrataData does not depend on the tokenizer
// target; the CLI makes the real tokenizer conform. Leaves out: decoding.

public protocol TokenEncoder {
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
