// Rendering a conversation to token ids with a loss mask. Text between special
// tokens is encoded piecewise (header, content, the newline after a message) so
// the mask boundary falls exactly at the assistant content; with GPT-2-style
// pre-tokenisation this matches encoding the whole rendered text. Leaves out:
// truncation (long samples are dropped by the packer) and BOS insertion.

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

    public init(encode: @escaping @Sendable (String) throws -> [Int],
                specialID: @escaping @Sendable (String) -> Int?, endOfText: Int) {
        self.encode = encode
        self.specialID = specialID
        self.endOfText = endOfText
    }

    /// Wrap a `TokenEncoder` plus a table of special-token ids. Throws when it has no end-of-text id.
    public init(_ encoder: any TokenEncoder, specialIDs: [String: Int]) throws {
        guard let eos = encoder.eosID else {
            throw StrataError.config("SFT tokenizer", "tokenizer has no end-of-text token",
                                     fix: "use a tokenizer with an end-of-text token")
        }
        self.init(encode: { try encoder.encodeBatch([$0])[0] }, specialID: { specialIDs[$0] }, endOfText: eos)
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
    /// Conversational formats: assistant content and its closing marker are trained (in the
    /// completion only, for prompt–completion); headers, system and user tokens are not.
    /// Plain text: all tokens then end-of-text. Plain prompt–completion: prompt tokens (untrained),
    /// completion tokens and end-of-text (trained).
    public func tokens(_ conversation: Conversation, _ tok: ChatTokenizer) throws -> (tokens: [Int], trained: [Bool]) {
        var tokens: [Int] = []
        var trained: [Bool] = []
        func add(_ ids: [Int], _ t: Bool) {
            tokens += ids
            trained += Array(repeating: t, count: ids.count)
        }
        switch conversation.format {
        case .text, .promptCompletion:
            for (i, m) in conversation.messages.enumerated() {
                add(try tok.encode(m.content), conversation.isTrained(i))
            }
            add([tok.endOfText], true)
        case .conversational, .conversationalPromptCompletion:
            let start = try specialID(messageStart, tok), end = try specialID(messageEnd, tok)
            let newline = try tok.encode("\n")
            for (i, m) in conversation.messages.enumerated() {
                let t = conversation.isTrained(i)
                add([start] + (try tok.encode(header(m.role))), false)
                add(try tok.encode(m.content) + [end], t)
                add(newline, false)
            }
        }
        return (tokens, trained)
    }

    /// Inputs and next-token targets (-100 where not predicting a trained token).
    public func render(_ conversation: Conversation, _ tok: ChatTokenizer) throws -> RenderedSample {
        let (tokens, trained) = try tokens(conversation, tok)
        return RenderedSample(tokens: tokens, trained: trained)
    }

    /// Token ids of the prompt for generation: the messages followed by the generation prompt.
    public func promptTokens(_ messages: [ChatMessage], _ tok: ChatTokenizer) throws -> [Int] {
        let start = try specialID(messageStart, tok), end = try specialID(messageEnd, tok)
        let newline = try tok.encode("\n")
        var out: [Int] = []
        for m in messages { out += [start] + (try tok.encode(header(m.role))) + (try tok.encode(m.content)) + [end] + newline }
        return out + [start] + (try tok.encode(header(.assistant)))
    }

    private func specialID(_ token: String, _ tok: ChatTokenizer) throws -> Int {
        guard let id = tok.specialID(token) else {
            throw StrataError.config("render \(name) chat template", "tokenizer has no special token \(token)",
                                     fix: "add the template's special tokens \(specialTokens) to the tokenizer")
        }
        return id
    }
}
