// GPT2Config: the model hyper-parameters, field for field as Hugging Face
// transformers' GPT2Config writes config.json, so either side reads the other's.
// Leaves out: cross-attention, attention-weight scaling options other than the default.

import Foundation
import StrataCore

public struct GPT2Config: Codable, Equatable, Sendable {
    public var vocabSize: Int = 50257
    /// Maximum context length (learned position embeddings).
    public var nPositions: Int = 1024
    public var nEmbd: Int = 768
    public var nLayer: Int = 12
    public var nHead: Int = 12
    /// MLP width; nil means 4·n_embd.
    public var nInner: Int? = nil
    public var activationFunction: String = "gelu_new"
    public var residPdrop: Float = 0
    public var embdPdrop: Float = 0
    public var attnPdrop: Float = 0
    public var layerNormEpsilon: Float = 1e-5
    public var initializerRange: Float = 0.02
    public var bosTokenId: Int? = nil
    public var eosTokenId: Int? = nil
    public var tieWordEmbeddings: Bool = true
    public var modelType: String = "gpt2"
    public var architectures: [String] = ["GPT2LMHeadModel"]

    public init(vocabSize: Int = 50257, nPositions: Int = 1024, nEmbd: Int = 768, nLayer: Int = 12, nHead: Int = 12,
                bosTokenId: Int? = nil, eosTokenId: Int? = nil) {
        self.vocabSize = vocabSize; self.nPositions = nPositions; self.nEmbd = nEmbd
        self.nLayer = nLayer; self.nHead = nHead; self.bosTokenId = bosTokenId; self.eosTokenId = eosTokenId
    }

    public var innerSize: Int { nInner ?? 4 * nEmbd }
    public var headSize: Int { nEmbd / nHead }

    /// Number of parameters (tied embeddings counted once); saturates at Int.max instead of trapping
    /// for absurd configs (computed in Double: exact below 2^53, far beyond any model that fits).
    public var parameterCount: Int {
        let n = parameterEstimate
        return n < 9.2e18 ? Int(n) : Int.max
    }

    /// Checks the fields make a buildable model whose weights fit in this machine's memory
    /// (`available`, default physical memory); errors name the field, the value and the fix.
    public func validate(source: String = "config.json", available: Double = MemoryBudget.physicalBytes) throws {
        func bad(_ field: String, _ why: String) -> StrataError {
            .config("read \(source)", "field '\(field)' \(why)", fix: "edit \(field) in \(source)")
        }
        if vocabSize <= 0 { throw bad("vocab_size", "must be positive, got \(vocabSize)") }
        if vocabSize > Int(Int32.max) { throw bad("vocab_size", "(\(vocabSize)) must be below 2^31 (token ids are Int32)") }
        if nPositions <= 0 { throw bad("n_positions", "must be positive, got \(nPositions)") }
        if nPositions > Int(Int32.max) { throw bad("n_positions", "(\(nPositions)) must be below 2^31 (positions are Int32)") }
        if nLayer <= 0 { throw bad("n_layer", "must be positive, got \(nLayer)") }
        if nHead <= 0 || nEmbd <= 0 || nEmbd % nHead != 0 { throw bad("n_embd", "(\(nEmbd)) must be a positive multiple of n_head (\(nHead))") }
        if let f = nInner, f <= 0 { throw bad("n_inner", "must be positive (or absent for 4·n_embd), got \(f)") }
        if !(layerNormEpsilon > 0 && layerNormEpsilon.isFinite) {
            throw bad("layer_norm_epsilon", "must be a small positive number (GPT-2: 1e-5), got \(layerNormEpsilon)")
        }
        if !(initializerRange >= 0 && initializerRange.isFinite) { throw bad("initializer_range", "must be ≥ 0 and finite, got \(initializerRange)") }
        for (field, p) in [("resid_pdrop", residPdrop), ("embd_pdrop", embdPdrop), ("attn_pdrop", attnPdrop)] where !(p >= 0 && p < 1) {
            throw bad(field, "must be in [0, 1), got \(p)")
        }
        // bos/eos ids are not checked against vocab_size: transformers does not either, and tiny test
        // models (vocab 32, bos 50256) are common; Strata takes its special ids from tokenizer.json.
        if !["gelu_new", "gelu_pytorch_tanh", "gelu_fast"].contains(activationFunction) {
            throw bad("activation_function", "'\(activationFunction)' is not supported (Strata implements the tanh GELU: gelu_new)")
        }
        if modelType != "gpt2" { throw bad("model_type", "'\(modelType)' is not supported (only gpt2)") }
        if !tieWordEmbeddings { throw bad("tie_word_embeddings", "must be true (Strata ties input and output embeddings)") }
        try MemoryBudget.check(weightBytes, for: "a GPT-2 of \(Self.count(parameterEstimate)) parameters (\(nLayer) layers, n_embd \(nEmbd), "
                               + "vocab \(vocabSize), n_positions \(nPositions))", op: "read \(source)",
                               fix: "use smaller n_embd / n_layer / vocab_size / n_positions in \(source)", available: available)
    }

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", nPositions = "n_positions", nEmbd = "n_embd", nLayer = "n_layer", nHead = "n_head"
        case nInner = "n_inner", activationFunction = "activation_function", residPdrop = "resid_pdrop"
        case embdPdrop = "embd_pdrop", attnPdrop = "attn_pdrop", layerNormEpsilon = "layer_norm_epsilon"
        case initializerRange = "initializer_range", bosTokenId = "bos_token_id", eosTokenId = "eos_token_id"
        case tieWordEmbeddings = "tie_word_embeddings", modelType = "model_type", architectures
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func get<T: Decodable>(_ k: CodingKeys, _ d: T) throws -> T { try c.decodeIfPresent(T.self, forKey: k) ?? d }
        vocabSize = try get(.vocabSize, 50257); nPositions = try get(.nPositions, 1024); nEmbd = try get(.nEmbd, 768)
        nLayer = try get(.nLayer, 12); nHead = try get(.nHead, 12); nInner = try c.decodeIfPresent(Int.self, forKey: .nInner)
        activationFunction = try get(.activationFunction, "gelu_new"); residPdrop = try get(.residPdrop, 0.1)
        embdPdrop = try get(.embdPdrop, 0.1); attnPdrop = try get(.attnPdrop, 0.1)
        layerNormEpsilon = try get(.layerNormEpsilon, 1e-5); initializerRange = try get(.initializerRange, 0.02)
        bosTokenId = try c.decodeIfPresent(Int.self, forKey: .bosTokenId); eosTokenId = try c.decodeIfPresent(Int.self, forKey: .eosTokenId)
        tieWordEmbeddings = try get(.tieWordEmbeddings, true); modelType = try get(.modelType, "gpt2")
        architectures = try get(.architectures, ["GPT2LMHeadModel"])
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(vocabSize, forKey: .vocabSize); try c.encode(nPositions, forKey: .nPositions)
        try c.encode(nEmbd, forKey: .nEmbd); try c.encode(nLayer, forKey: .nLayer); try c.encode(nHead, forKey: .nHead)
        try c.encode(nInner, forKey: .nInner); try c.encode(activationFunction, forKey: .activationFunction)
        try c.encode(residPdrop, forKey: .residPdrop); try c.encode(embdPdrop, forKey: .embdPdrop)
        try c.encode(attnPdrop, forKey: .attnPdrop); try c.encode(layerNormEpsilon, forKey: .layerNormEpsilon)
        try c.encode(initializerRange, forKey: .initializerRange); try c.encode(bosTokenId, forKey: .bosTokenId)
        try c.encode(eosTokenId, forKey: .eosTokenId); try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
        try c.encode(modelType, forKey: .modelType); try c.encode(architectures, forKey: .architectures)
    }

    public static func read(from url: URL) throws -> GPT2Config {
        let cfg = try StrataJSON.read(GPT2Config.self, at: url)
        try cfg.validate(source: url.path)
        return cfg
    }

    public func write(to url: URL) throws {
        try StrataJSON.encode(self).write(to: url, options: .atomic)
    }
}
