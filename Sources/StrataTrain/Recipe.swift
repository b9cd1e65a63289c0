// Recipe: what a training run reads from its YAML file. Each section is a
// Codable struct whose property initial values are the defaults (written once)
// and whose CodingKeys give the YAML names and one line of help per key;
// Codable is synthesised. This file holds the top level plus the model and
// tokenizer sections; data is in Recipe+Data.swift, train/optim/guard/run in
// Recipe+Train.swift, the stage sections in Recipe+SFT.swift and
// Recipe+Preference.swift, loading in RecipeLoader.swift, rules in
// Recipe+Validation.swift. docs/recipes.md is generated from these types.
// The RL sections (grpo, ppo) are in Recipe+RL.swift. A new stage adds a
// RecipeSection struct, an optional property here, its CodingKeys case and its
// entry in stageSections. Leaves out: nothing else.

import Foundation
import StrataModel

/// A training recipe with every default filled in.
public struct Recipe: Codable, RecipeSection, Equatable, Sendable {
    public var model = ModelConfig()
    public var tokenizer = TokenizerConfig()
    public var data = DataConfig()
    public var train = TrainConfig()
    public var optim = OptimConfig()
    public var spikeGuard = GuardConfig()
    public var run = RunConfig()
    public var sft: SFTConfig?
    public var preference: PreferenceConfig?
    public var grpo: GRPOConfig?
    public var ppo: PPOConfig?

    public init() {}

    enum CodingKeys: String, RecipeKey {
        case model, tokenizer, data, train, optim, spikeGuard = "guard", run, sft, preference, grpo, ppo

        var help: String {
            switch self {
            case .model: return "The network's family and shape."
            case .tokenizer: return "Which tokenizer to use, or how to train one."
            case .data: return "Data sources, their mixture weights and the validation split."
            case .train: return "Batch, length and cadence of the run."
            case .optim: return "AdamW and the learning-rate schedule."
            case .spikeGuard: return "The loss-spike guard."
            case .run: return "Where the run's files go."
            case .sft: return "Supervised fine-tuning data and options (strata sft only)."
            case .preference: return "Preference pairs and loss settings (strata reward and strata dpo only)."
            case .grpo: return "GRPO prompts, group size, loss, rewards (strata grpo only)."
            case .ppo: return "PPO prompts, value model, KL, rewards (strata ppo only)."
            }
        }
    }

    /// The stage section each command reads; a command not listed reads none (pretrain, continue, anneal).
    static let stageSections: [Stage: CodingKeys] = [.sft: .sft, .reward: .preference, .dpo: .preference, .grpo: .grpo, .ppo: .ppo]
}

// MARK: - Model

/// The model a run builds: GPT-2 (learned positions, pre-LayerNorm blocks, tied embeddings) or Llama
/// (rotary positions, RMSNorm, SwiGLU, grouped-query attention, untied head).
public struct ModelConfig: Codable, RecipeSection, Equatable, Sendable {
    public var family: ModelFamily = .gpt2
    public var nLayer = 4
    public var nHead = 4
    public var nEmbd = 128
    public var nPositions = 256
    public var vocabSize: VocabSize = .fromTokenizer
    public var dropout = 0.0
    /// Llama only: key/value heads (grouped-query attention); nil = n_head.
    public var nKVHead: Int?
    /// MLP width; nil = 4·n_embd (GPT-2) or the Llama rule round256(8·n_embd/3).
    public var nInner: Int?
    /// Llama only: the rotary base.
    public var ropeTheta = 10000.0

    public init() {}

    enum CodingKeys: String, RecipeKey {
        case family, nLayer = "n_layer", nHead = "n_head", nEmbd = "n_embd", nPositions = "n_positions"
        case vocabSize = "vocab_size", dropout, nKVHead = "n_kv_head", nInner = "n_inner", ropeTheta = "rope_theta"

        var help: String {
            switch self {
            case .family: return "Model family: gpt2, llama (rotary positions, RMSNorm, SwiGLU, grouped-query attention, untied head) or roberta (bidirectional masked-LM encoder; pretrain only)."
            case .nKVHead: return "Llama: key/value heads shared by the query heads (grouped-query attention); must divide n_head. Default n_head."
            case .nInner: return "MLP width. Default 4·n_embd (gpt2) or 8·n_embd/3 rounded up to a multiple of 256 (llama)."
            case .ropeTheta: return "Llama: rotary embedding base (rope_theta)."
            case .nLayer: return "Transformer blocks."
            case .nHead: return "Attention heads per block; must divide n_embd."
            case .nEmbd: return "Width of the residual stream."
            case .nPositions: return "Longest context the model can see (gpt2: the learned position table size; llama: max_position_embeddings)."
            case .vocabSize: return "Vocabulary size, or from_tokenizer to take the tokenizer's."
            case .dropout: return "Dropout probability on embeddings, attention and residual paths (0 = off)."
            }
        }
    }

    /// Parameter count for a given vocabulary: the model's own count (GPT2Config.parameterCount, the one
    /// lineage and the benchmark use), for the model this section describes.
    public func parameterCount(vocab: Int) -> Int {
        switch family {
        case .gpt2:
            var cfg = GPT2Config(vocabSize: vocab, nPositions: nPositions, nEmbd: nEmbd, nLayer: nLayer, nHead: nHead)
            cfg.nInner = nInner
            return cfg.parameterCount
        case .llama: return Int(llamaConfig(vocab: vocab, bos: nil, eos: nil).parameterEstimate)
        case .roberta:   // embeddings (words, positions, one token type) + LayerNorm, blocks, LM head (dense, LayerNorm, bias)
            let c = nEmbd, f = nInner ?? 4 * nEmbd
            let block = 4 * (c * c + c) + 2 * c + (c * f + f) + (f * c + c) + 2 * c
            return (vocab + nPositions + 2 + 1) * c + 2 * c + nLayer * block + (c * c + c) + 2 * c + vocab
        }
    }

    /// The Llama configuration this section describes (untied head, no biases, unscaled rope).
    public func llamaConfig(vocab: Int, bos: Int?, eos: Int?) -> LlamaConfig {
        var cfg = LlamaConfig(vocabSize: vocab, hiddenSize: nEmbd, intermediateSize: nInner ?? (8 * nEmbd / 3 + 255) / 256 * 256,
                              layers: nLayer, heads: nHead, kvHeads: nKVHead ?? nHead, maxPositions: nPositions,
                              bosTokenId: bos, eosTokenId: eos)
        cfg.ropeTheta = ropeTheta; cfg.ropeParameters = RopeParameters(ropeTheta: ropeTheta)
        return cfg
    }
}

extension ModelFamily: RecipeChoice {}

/// A fixed vocabulary size, or "whatever the tokenizer has".
public enum VocabSize: Codable, Equatable, Sendable, RecipeLeaf {
    case fixed(Int)
    case fromTokenizer

    /// Spellings of from_tokenizer accepted in YAML; the first is the one written back.
    static let fromTokenizerWords = ["from_tokenizer", "from tokenizer", "from-tokenizer"]
    static var recipeShape: RecipeShape { .integerOr(fromTokenizerWords) }

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
        case .fromTokenizer: try c.encode(VocabSize.fromTokenizerWords[0])
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
public struct TokenizerConfig: Codable, RecipeSection, Equatable, Sendable {
    public var path: String?
    public var train: TokenizerTraining?

    public init() {}

    public init(path: String? = nil, train: TokenizerTraining? = nil) {
        self.path = path
        self.train = train
    }

    enum CodingKeys: String, RecipeKey {
        case path, train

        var help: String {
            switch self {
            case .path: return "A tokenizer.json, or a checkpoint directory holding one."
            case .train: return "Train a byte-level BPE tokenizer before the run (instead of path)."
            }
        }
    }
}

/// Settings for training a tokenizer.
public struct TokenizerTraining: Codable, RecipeSection, Equatable, Sendable {
    public var vocabSize = 4096
    public var files: [String] = []

    public init() {}

    public init(vocabSize: Int, files: [String] = []) {
        self.vocabSize = vocabSize
        self.files = files
    }

    enum CodingKeys: String, RecipeKey {
        case vocabSize = "vocab_size", files

        var help: String {
            switch self {
            case .vocabSize: return "Vocabulary size to learn (byte alphabet and special tokens included)."
            case .files: return "Text files to learn from; empty means the text files among data.sources."
            }
        }
    }
}
