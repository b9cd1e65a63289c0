// TextCodec: the little a probe evaluation needs from a tokenizer (text → ids,
// ids → text, the end-of-text id), so evaluation runs with the BPE tokenizer or
// with any stand-in (a character codec in tests). Leaves out: special-token handling
// beyond the end-of-text id (probe text is encoded as plain text).

import StrataTokenizer

public protocol TextCodec: Sendable {
    /// Token ids of `text`, encoded as plain text (special-token strings are not matched).
    func textTokens(_ text: String) -> [Int32]
    /// The text of `tokens` (invalid UTF-8 from a partial sequence becomes replacement characters).
    func tokensText(_ tokens: [Int32]) -> String
    /// Generation stops at this token, if the codec has one.
    var endOfTextToken: Int32? { get }
}

extension BPETokenizer: TextCodec {
    public func textTokens(_ text: String) -> [Int32] { encode(text).map(Int32.init) }
    public func tokensText(_ tokens: [Int32]) -> String { decode(tokens.map(Int.init)) }
    public var endOfTextToken: Int32? { eosID.map(Int32.init) }
}
