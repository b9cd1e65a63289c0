// Recipe: what a training run reads from its YAML file. Every field has a
// documented default; YAML keys are the snake_case names in each CodingKeys.
// This file holds the top level plus the model and tokenizer sections; the data
// section lives in Recipe+Data.swift, train/optim/guard/run in Recipe+Train.swift,
// loading in RecipeLoader.swift, validation in Recipe+Validation.swift.
// Stage sections: `sft` in Recipe+SFT.swift, `preference` (reward, DPO) in Recipe+Preference.swift.
// Leaves out: PPO/GRPO sections.

import Foundation

/// A training recipe with every default filled in.
public struct Recipe: Codable, Equatable, Sendable {
    /// The network's shape (GPT-2 family).
    public var model = ModelConfig()
    /// Which tokenizer to use or how to train one.
    public var tokenizer = TokenizerConfig()
    /// Data sources, their mixture weights and the validation split.
    public var data = DataConfig()
    /// Batch, length and cadence of the run.
    public var train = TrainConfig()
    /// AdamW and the learning-rate schedule.
    public var optim = OptimConfig()
    /// The loss-spike guard (YAML key `guard`).
    public var spikeGuard = GuardConfig()
    /// Where the run's files go.
    public var run = RunConfig()
    /// Supervised fine-tuning data and options (SFT recipes only).
    public var sft: SFTConfig?
    /// Preference pairs and loss settings (reward-model and DPO recipes only).
    public var preference: PreferenceConfig?

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model, tokenizer, data, train, optim, spikeGuard = "guard", run, sft, preference
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.fill(&model, .model)
        try c.fill(&tokenizer, .tokenizer)
        try c.fill(&data, .data)
        try c.fill(&train, .train)
        try c.fill(&optim, .optim)
        try c.fill(&spikeGuard, .spikeGuard)
        try c.fill(&run, .run)
        try c.fill(&sft, .sft)
        try c.fill(&preference, .preference)
    }
}

// MARK: - Model

/// A GPT-2 shaped model (learned positions, pre-LayerNorm blocks, tied embeddings).
public struct ModelConfig: Codable, Equatable, Sendable {
    /// Transformer blocks. Default 4.
    public var nLayer = 4
    /// Attention heads per block; must divide `n_embd`. Default 4.
    public var nHead = 4
    /// Width of the residual stream. Default 128.
    public var nEmbd = 128
    /// Longest context the model can see (learned position table size). Default 256.
    public var nPositions = 256
    /// Vocabulary size, or `from_tokenizer` to take the tokenizer's. Default `from_tokenizer`.
    public var vocabSize: VocabSize = .fromTokenizer
    /// Dropout probability on embeddings, attention and residual paths. Default 0.0 (off).
    public var dropout = 0.0

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case nLayer = "n_layer", nHead = "n_head", nEmbd = "n_embd", nPositions = "n_positions"
        case vocabSize = "vocab_size", dropout
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.fill(&nLayer, .nLayer)
        try c.fill(&nHead, .nHead)
        try c.fill(&nEmbd, .nEmbd)
        try c.fill(&nPositions, .nPositions)
        try c.fill(&vocabSize, .vocabSize)
        try c.fill(&dropout, .dropout)
    }

    /// Parameter count for a given vocabulary (tied output head, biases included).
    public func parameterCount(vocab: Int) -> Int {
        ComputeEstimate.gpt2Parameters(nLayer: nLayer, nEmbd: nEmbd, vocab: vocab, positions: nPositions)
    }
}

/// A fixed vocabulary size, or "whatever the tokenizer has".
public enum VocabSize: Codable, Equatable, Sendable {
    case fixed(Int)
    case fromTokenizer

    static let fromTokenizerWords: Set<String> = ["from_tokenizer", "from tokenizer", "from-tokenizer"]

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Int.self) {
            self = .fixed(n)
        } else if let s = try? c.decode(String.self), VocabSize.fromTokenizerWords.contains(s) {
            self = .fromTokenizer
        } else {
            let seen = (try? c.decode(String.self)).map { "\"\($0)\"" } ?? "something else"
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected an integer or from_tokenizer, got \(seen)")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case let .fixed(n): try c.encode(n)
        case .fromTokenizer: try c.encode("from_tokenizer")
        }
    }

    /// The size to build with, given the tokenizer's size.
    public func resolved(tokenizerSize: Int) -> Int {
        if case let .fixed(n) = self { return n }
        return tokenizerSize
    }
}

// MARK: - Tokenizer

/// Use an existing tokenizer (`path`) or train one (`train`). With neither, the
/// tokenizer comes with the starting checkpoint (continue, anneal, SFT...);
/// pretraining from scratch needs one of them.
public struct TokenizerConfig: Codable, Equatable, Sendable {
    /// Path to a tokenizer.json (or a checkpoint directory holding one). Default: none.
    public var path: String?
    /// Train a byte-level BPE tokenizer before the run. Default: none.
    public var train: TokenizerTraining?

    public init(path: String? = nil, train: TokenizerTraining? = nil) {
        self.path = path
        self.train = train
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case path, train }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.fill(&path, .path)
        try c.fill(&train, .train)
    }
}

/// Settings for training a tokenizer.
public struct TokenizerTraining: Codable, Equatable, Sendable {
    /// Vocabulary size to learn (byte alphabet and special tokens included). Default 4096.
    public var vocabSize = 4096
    /// Text files to learn from. Default: empty, meaning the text files among `data.sources`.
    public var files: [String] = []

    public init(vocabSize: Int = 4096, files: [String] = []) {
        self.vocabSize = vocabSize
        self.files = files
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case vocabSize = "vocab_size", files }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.fill(&vocabSize, .vocabSize)
        try c.fill(&files, .files)
    }
}

// MARK: - Decoding helpers

/// A closed set of words in a recipe (schedule names, interpolation...).
public protocol RecipeChoice: RawRepresentable, CaseIterable, Codable, Sendable where RawValue == String {}

extension RecipeChoice {
    /// Decodes one of the cases, or fails listing them all.
    static func decodeChoice(from decoder: Decoder) throws -> Self {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        if let v = Self(rawValue: s) { return v }
        let options = allCases.map(\.rawValue).joined(separator: ", ")
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected one of \(options), got \"\(s)\"")
    }
}

extension KeyedDecodingContainer {
    /// Overwrites `value` with the key's value when the key is present and not null.
    func fill<T: Decodable>(_ value: inout T, _ key: Key) throws {
        if let v = try decodeIfPresent(T.self, forKey: key) { value = v }
    }

    /// Overwrites an optional with the key's value when the key is present and not null.
    func fill<T: Decodable>(_ value: inout T?, _ key: Key) throws {
        if let v = try decodeIfPresent(T.self, forKey: key) { value = v }
    }
}
