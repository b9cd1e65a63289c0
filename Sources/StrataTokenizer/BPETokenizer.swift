// BPETokenizer: a byte-level BPE tokenizer as GPT-2 and its successors define it
// (byte-to-unicode alphabet, regex-style pre-tokenisation, merges by rank, added
// special tokens). This file holds the stored model, its validation and lookups;
// encoding, tokenizer.json I/O and training live in the files beside it.
// Leaves out: other model types (WordPiece, Unigram), normalizers, offsets.

import StrataCore

public final class BPETokenizer: Sendable {
    /// Settings that change how text is split or stored, beyond vocab and merges.
    public struct Options: Sendable, Equatable {
        /// Pre-tokenisation pattern (default GPT-2's).
        public var pattern: PreTokenizerPattern = .gpt2
        /// Prepend a space to text not starting with one (HF ByteLevel add_prefix_space).
        public var addPrefixSpace = false
        /// Kept for tokenizer.json round trips; only affects offsets, which Strata does not produce.
        public var trimOffsets = true
        /// Emit a piece that is itself a vocab token as one id without merging (Llama 3 style).
        public var ignoreMerges = false
        /// Token for bytes missing from the vocab (nil: such bytes are dropped, as in HF).
        public var unkToken: String? = nil
        /// Fuse consecutive unknown bytes into one unk token.
        public var fuseUnk = false
        /// Write a ByteLevel post_processor (GPT-2's published layout); it never changes ids.
        public var byteLevelPostProcessor = false
        /// A RobertaProcessing post_processor (<s> … </s> in `encodeFramed`; PostProcessor.swift); nil: none.
        public var roberta: RobertaProcessing? = nil

        public init() {}
    }

    /// A token outside the BPE vocab (or marking a vocab entry) that is matched whole in text.
    public struct AddedToken: Sendable, Equatable {
        public let id: Int
        public let content: String
        public let special: Bool
        public init(id: Int, content: String, special: Bool) {
            self.id = id; self.content = content; self.special = special
        }
    }

    /// A merge rule: the ids of the left and right tokens; its rank is its index.
    public struct Merge: Sendable, Equatable, Hashable {
        public let left: Int
        public let right: Int
        public init(_ left: Int, _ right: Int) { self.left = left; self.right = right }
    }

    /// The BPE vocabulary by id, in byte-level form (ids 0..<vocab.count).
    public let vocab: [String]
    /// Merge rules in rank order.
    public let merges: [Merge]
    /// Added tokens, sorted by id.
    public let addedTokens: [AddedToken]
    public let options: Options
    /// SHA-256 of the canonical form (vocab, merges, added tokens, splitting options):
    /// equal hashes mean equal ids for every input.
    public let tokenizerHash: String
    let core: EncoderCore
    let tokenIndex: [String: Int]

    /// Builds and validates a tokenizer from its parts; `source` names it in errors.
    public init(vocab: [String], merges: [Merge], addedTokens: [AddedToken], options: Options = Options(),
                source: String = "tokenizer") throws {
        let op = "load tokenizer \(source)"
        guard !vocab.isEmpty else { throw StrataError.format(op, "the vocab is empty", fix: "use a trained tokenizer") }
        var index = [String: Int](minimumCapacity: vocab.count)
        for (i, t) in vocab.enumerated() {
            if let j = index.updateValue(i, forKey: t) {
                throw StrataError.format(op, "vocab token \(quoted(t)) appears twice (ids \(j) and \(i))", fix: "remove the duplicate")
            }
        }
        let ranks = try BPETokenizer.mergeTable(merges, vocab: vocab, index: index, op: op)
        let added = try BPETokenizer.validateAdded(addedTokens, vocab: vocab, op: op)
        var unk: Int32 = -1
        if let u = options.unkToken {
            guard let id = index[u] else {
                throw StrataError.format(op, "unk_token \(quoted(u)) is not in the vocab", fix: "add it to the vocab or set unk_token to null")
            }
            unk = Int32(id)
        }
        self.vocab = vocab
        self.tokenIndex = index
        self.merges = merges
        self.addedTokens = added
        self.options = options
        self.core = BPETokenizer.makeCore(vocab: vocab, index: index, ranks: ranks, added: added, options: options, unk: unk)
        self.tokenizerHash = SHA256.hex(BPETokenizer.canonicalForm(vocab: vocab, merges: merges, added: added, options: options))
    }

    /// Same as `tokenizerHash`.
    public var hash: String { tokenizerHash }

    /// Number of ids (vocab plus added tokens beyond it).
    public var vocabSize: Int { core.decodeOffsets.count - 1 }

    /// Id of an added token (special or not) with this exact content.
    public func id(forSpecial content: String) -> Int? {
        addedTokens.first { $0.content == content }?.id
    }

    /// Id of a vocab token given in byte-level form, or of an added token.
    public func id(forToken token: String) -> Int? {
        if let a = id(forSpecial: token) { return a }
        return tokenIndex[token]
    }

    /// The byte-level vocab string or added-token content of an id.
    public func token(forID id: Int) -> String? {
        if let a = addedTokens.first(where: { $0.id == id }) { return a.content }
        return id >= 0 && id < vocab.count ? vocab[id] : nil
    }

    /// The end-of-sequence token: the first of <|endoftext|>, <|end_of_text|>, </s>, <eos> present.
    public var eosID: Int? {
        for name in ["<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>"] {
            if let id = id(forSpecial: name) { return id }
        }
        return nil
    }

    /// Whether an id is a special added token.
    public func isSpecial(_ id: Int) -> Bool { id >= 0 && id < core.isSpecial.count && core.isSpecial[id] }

    /// The tokenizer as it was before tokens with ids ≥ `size` were added (nil when that would drop a
    /// vocabulary entry). Lets a checkpoint whose chat tokens were appended read data prepared before.
    public func truncatingAddedTokens(toSize size: Int) -> BPETokenizer? {
        guard size >= vocab.count, size < vocabSize else { return size == vocabSize ? self : nil }
        return try? BPETokenizer(vocab: vocab, merges: merges, addedTokens: addedTokens.filter { $0.id < size }, options: options,
                                 source: "without added tokens ≥ \(size)")
    }

    /// A tokenizer with these special tokens added (ids after the current ones) and
    /// the id of each; a token already present keeps its id (and becomes special).
    public func addingSpecialTokens(_ tokens: [String]) throws -> (BPETokenizer, [Int]) {
        var added = addedTokens
        var next = vocabSize
        var ids = [Int]()
        for t in tokens {
            guard !t.isEmpty else { throw StrataError.config("add special tokens", "a special token is empty", fix: "give non-empty token text") }
            if let k = added.firstIndex(where: { $0.content == t }) {
                added[k] = AddedToken(id: added[k].id, content: t, special: true)
                ids.append(added[k].id)
            } else if let v = tokenIndex[t] {
                added.append(AddedToken(id: v, content: t, special: true))
                ids.append(v)
            } else {
                added.append(AddedToken(id: next, content: t, special: true))
                ids.append(next)
                next += 1
            }
        }
        let grown = try BPETokenizer(vocab: vocab, merges: merges, addedTokens: added, options: options, source: "with added tokens")
        return (grown, ids)
    }
}

func quoted(_ s: String) -> String { "\"" + JSONText.escape(s) + "\"" }
