// Rendering a conversation to token ids with a loss mask, as transformers'
// `apply_chat_template` + the tokenizer do: the whole conversation is rendered to
// text, split at the template's special tokens, and each piece between them is
// encoded as one text (so content starting with spaces or newlines merges with the
// header's newline exactly as it does at inference). The mask follows transformers'
// `return_assistant_tokens_mask`: a token is trained when any of its bytes falls in
// a trained span (assistant content plus its closing marker), located by each
// token's byte length. Leaves out: truncation (long samples are dropped by the
// packer), BOS insertion, and splitting at special tokens other than the template's.

import Foundation
import StrataCore

/// What rendering needs from a tokenizer, without depending on the tokenizer target.
public struct ChatTokenizer: Sendable {
    /// Encode ordinary text (no special-token parsing) to ids.
    public var encode: @Sendable (String) throws -> [Int]
    /// The id of a special token such as "<|im_start|>", or nil when the tokenizer lacks it.
    public var specialID: @Sendable (String) -> Int?
    /// End-of-text id, appended after plain-text and plain prompt–completion samples.
    public var endOfText: Int
    /// The length in UTF-8 bytes of an ordinary token's text (byte-level BPE: its decoded bytes);
    /// locates the loss-mask boundary inside text encoded whole.
    public var tokenBytes: @Sendable (Int) -> Int

    public init(encode: @escaping @Sendable (String) throws -> [Int],
                specialID: @escaping @Sendable (String) -> Int?, endOfText: Int,
                tokenBytes: @escaping @Sendable (Int) -> Int) {
        self.encode = encode
        self.specialID = specialID
        self.endOfText = endOfText
        self.tokenBytes = tokenBytes
    }

    /// Wrap a `TokenEncoder` plus a table of special-token ids and token byte lengths. Throws when it has
    /// no end-of-text id.
    public init(_ encoder: any TokenEncoder, specialIDs: [String: Int], tokenBytes: @escaping @Sendable (Int) -> Int) throws {
        guard let eos = encoder.eosID else {
            throw StrataError.config("SFT tokenizer", "tokenizer has no end-of-text token",
                                     fix: "use a tokenizer with an end-of-text token")
        }
        self.init(encode: { try encoder.encodeBatch([$0])[0] }, specialID: { specialIDs[$0] }, endOfText: eos, tokenBytes: tokenBytes)
    }
}

/// A rendered sample: `ids[i]` is the input at position i and `targets[i]` the next token to
/// predict there, or -100 where no loss is taken. Both have the same length.
public struct RenderedSample: Codable, Sendable, Equatable {
    public static let ignoreIndex: Int32 = -100
    public var ids: [Int32]
    public var targets: [Int32]
    public init(ids: [Int32], targets: [Int32]) {
        self.ids = ids
        self.targets = targets
    }
    public var count: Int { ids.count }
    /// Positions that carry a loss.
    public var trainedCount: Int { targets.reduce(0) { $0 + ($1 == Self.ignoreIndex ? 0 : 1) } }

    /// Shift a full token sequence with per-token "trained" flags into inputs and targets.
    public init(tokens: [Int], trained: [Bool]) {
        precondition(tokens.count == trained.count, "one flag per token")
        let n = max(0, tokens.count - 1)
        ids = tokens.prefix(n).map { Int32($0) }
        targets = (0..<n).map { trained[$0 + 1] ? Int32(tokens[$0 + 1]) : Self.ignoreIndex }
    }
}

extension ChatTemplate {
    /// The full token sequence of `conversation` and, per token, whether it is trained.
    /// Conversational formats: the template's text of all messages, encoded whole (see the file header);
    /// assistant content and its closing marker are trained (in the completion only, for prompt–completion);
    /// headers, system and user turns are not. Plain text: all tokens then end-of-text. Plain
    /// prompt–completion: prompt tokens (untrained), completion tokens and end-of-text (trained).
    public func tokens(_ conversation: Conversation, _ tok: ChatTokenizer) throws -> (tokens: [Int], trained: [Bool]) {
        switch conversation.format {
        case .text, .promptCompletion:
            var tokens: [Int] = [], trained: [Bool] = []
            for (i, m) in conversation.messages.enumerated() {
                let ids = try tok.encode(m.content)
                tokens += ids
                trained += Array(repeating: conversation.isTrained(i), count: ids.count)
            }
            return (tokens + [tok.endOfText], trained + [true])
        case .conversational, .conversationalPromptCompletion:
            var text = "", spans: [Range<Int>] = []
            for (i, m) in conversation.messages.enumerated() {
                text += messageStart + header(m.role)
                let from = text.utf8.count
                text += m.content + messageEnd
                if conversation.isTrained(i) { spans.append(from..<text.utf8.count) }
                text += "\n"
            }
            let (ids, ends) = try encodeWhole(text, tok)
            var start = 0
            let trained = ends.map { end -> Bool in
                defer { start = end }
                return spans.contains { $0.overlaps(start..<end) }
            }
            return (ids, trained)
        }
    }

    /// Token ids of `text` as transformers tokenises it (split at the template's special tokens, each piece
    /// between them encoded as one text) and each token's end offset in UTF-8 bytes.
    public func encodeWhole(_ text: String, _ tok: ChatTokenizer) throws -> (ids: [Int], ends: [Int]) {
        let start = try specialID(messageStart, tok), end = try specialID(messageEnd, tok)
        var ids: [Int] = [], ends: [Int] = []
        var offset = 0
        func piece(_ s: Substring) throws {
            guard !s.isEmpty else { return }
            let encoded = try tok.encode(String(s))
            let expected = offset + s.utf8.count
            for id in encoded { offset += tok.tokenBytes(id); ids.append(id); ends.append(offset) }
            guard offset == expected else {
                throw StrataError.config("render \(name) chat text", "token byte lengths add up to \(offset - expected + s.utf8.count) "
                                        + "for a piece of \(s.utf8.count) bytes (\(s.prefix(30).debugDescription))",
                                        fix: "build the ChatTokenizer's tokenBytes from the same tokenizer as encode")
            }
        }
        var rest = Substring(text)
        while !rest.isEmpty {
            let hits = [(messageStart, start), (messageEnd, end)].compactMap { t, id in rest.range(of: t).map { ($0, id) } }
            guard let (range, id) = hits.min(by: { $0.0.lowerBound < $1.0.lowerBound }) else { try piece(rest); break }
            try piece(rest[..<range.lowerBound])
            offset += rest[range].utf8.count
            ids.append(id); ends.append(offset)
            rest = rest[range.upperBound...]
        }
        return (ids, ends)
    }

    /// Inputs and next-token targets (-100 where not predicting a trained token).
    public func render(_ conversation: Conversation, _ tok: ChatTokenizer) throws -> RenderedSample {
        let (tokens, trained) = try tokens(conversation, tok)
        return RenderedSample(tokens: tokens, trained: trained)
    }

    /// Token ids of the prompt for generation: the messages followed by the generation prompt.
    public func promptTokens(_ messages: [ChatMessage], _ tok: ChatTokenizer) throws -> [Int] {
        try encodeWhole(render(text: messages, addGenerationPrompt: true), tok).ids
    }

    func specialID(_ token: String, _ tok: ChatTokenizer) throws -> Int {
        guard let id = tok.specialID(token) else {
            throw StrataError.config("render \(name) chat template", "tokenizer has no special token \(token)",
                                     fix: "add the template's special tokens \(specialTokens) to the tokenizer")
        }
        return id
    }
}
