// LlamaConfig: a Llama-family decoder's hyper-parameters, field for field as
// transformers' LlamaConfig writes config.json (both the older top-level
// `rope_theta` / `rope_scaling` and transformers 5's `rope_parameters` block are
// read; `rope_parameters` is written). `validate` refuses, by field name, what
// Strata does not implement: rope scaling types other than "default", sliding
// windows, activations other than SiLU, model types other than llama.
// Leaves out: rope scaling (linear, dynamic, yarn, longrope, llama3), tensor-parallel
// pretraining_tp splits (numerically the same model), attention dropout.

import Foundation
import StrataCore

/// One token id or several (transformers writes eos_token_id either way).
public struct TokenIDs: Codable, Equatable, Sendable {
    public var ids: [Int]
    public init(_ ids: [Int]) { self.ids = ids }
    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let one = try? c.decode(Int.self) { ids = [one] } else { ids = try c.decode([Int].self) }
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        if ids.count == 1 { try c.encode(ids[0]) } else { try c.encode(ids) }
    }
}

/// transformers 5's `rope_parameters` (also read from the older `rope_scaling`, whose type key is `type`
/// or `rope_type`). Keys other than these two make a scaled rope, which `validate` refuses by type.
public struct RopeParameters: Codable, Equatable, Sendable {
    public var ropeType: String = "default"
    public var ropeTheta: Double? = nil
    enum CodingKeys: String, CodingKey { case ropeType = "rope_type", type, ropeTheta = "rope_theta" }
    public init(ropeType: String = "default", ropeTheta: Double? = nil) { self.ropeType = ropeType; self.ropeTheta = ropeTheta }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        ropeType = try c.decodeIfPresent(String.self, forKey: .ropeType) ?? c.decodeIfPresent(String.self, forKey: .type) ?? "default"
        ropeTheta = try c.decodeIfPresent(Double.self, forKey: .ropeTheta)
    }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ropeType, forKey: .ropeType); try c.encodeIfPresent(ropeTheta, forKey: .ropeTheta)
    }
}

public struct LlamaConfig: Codable, Equatable, Sendable {
    public var vocabSize = 32000
    public var hiddenSize = 4096
    public var intermediateSize = 11008
    public var numHiddenLayers = 32
    public var numAttentionHeads = 32
    /// Key/value heads (grouped-query attention); nil means one per query head.
    public var numKeyValueHeads: Int? = nil
    /// Per-head size; nil means hidden_size / num_attention_heads.
    public var headDim: Int? = nil
    public var hiddenAct = "silu"
    public var maxPositionEmbeddings = 2048
    public var initializerRange: Float = 0.02
    public var rmsNormEps: Float = 1e-6
    public var ropeTheta: Double = 10000
    public var ropeParameters: RopeParameters? = nil
    public var ropeScaling: RopeParameters? = nil
    public var slidingWindow: Int? = nil
    public var attentionBias = false
    public var attentionDropout: Float = 0
    public var mlpBias = false
    public var tieWordEmbeddings = false
    public var bosTokenId: Int? = nil
    public var eosTokenId: TokenIDs? = nil
    public var padTokenId: Int? = nil
    public var modelType = "llama"
    public var architectures = ["LlamaForCausalLM"]

    public init(vocabSize: Int, hiddenSize: Int, intermediateSize: Int, layers: Int, heads: Int, kvHeads: Int? = nil,
                maxPositions: Int, tieWordEmbeddings: Bool = false, bosTokenId: Int? = nil, eosTokenId: Int? = nil) {
        self.vocabSize = vocabSize; self.hiddenSize = hiddenSize; self.intermediateSize = intermediateSize
        numHiddenLayers = layers; numAttentionHeads = heads; numKeyValueHeads = kvHeads ?? heads
        maxPositionEmbeddings = maxPositions; self.tieWordEmbeddings = tieWordEmbeddings
        self.bosTokenId = bosTokenId; self.eosTokenId = eosTokenId.map { TokenIDs([$0]) }
        ropeParameters = RopeParameters(ropeTheta: ropeTheta)
    }

    public var kvHeads: Int { numKeyValueHeads ?? numAttentionHeads }
    public var headSize: Int { headDim ?? hiddenSize / max(numAttentionHeads, 1) }
    /// Query width H·D (equals hidden_size unless head_dim says otherwise).
    public var queryWidth: Int { numAttentionHeads * headSize }
    /// The rotary base: rope_parameters.rope_theta when present, else the top-level rope_theta.
    public var rotaryBase: Double { ropeParameters?.ropeTheta ?? ropeTheta }

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", intermediateSize = "intermediate_size"
        case numHiddenLayers = "num_hidden_layers", numAttentionHeads = "num_attention_heads"
        case numKeyValueHeads = "num_key_value_heads", headDim = "head_dim", hiddenAct = "hidden_act"
        case maxPositionEmbeddings = "max_position_embeddings", initializerRange = "initializer_range"
        case rmsNormEps = "rms_norm_eps", ropeTheta = "rope_theta", ropeParameters = "rope_parameters"
        case ropeScaling = "rope_scaling", slidingWindow = "sliding_window", attentionBias = "attention_bias"
        case attentionDropout = "attention_dropout", mlpBias = "mlp_bias", tieWordEmbeddings = "tie_word_embeddings"
        case bosTokenId = "bos_token_id", eosTokenId = "eos_token_id", padTokenId = "pad_token_id"
        case modelType = "model_type", architectures
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func get<T: Decodable>(_ k: CodingKeys, _ d: T) throws -> T { try c.decodeIfPresent(T.self, forKey: k) ?? d }
        vocabSize = try get(.vocabSize, 32000); hiddenSize = try get(.hiddenSize, 4096)
        intermediateSize = try get(.intermediateSize, 11008); numHiddenLayers = try get(.numHiddenLayers, 32)
        numAttentionHeads = try get(.numAttentionHeads, 32)
        numKeyValueHeads = try c.decodeIfPresent(Int.self, forKey: .numKeyValueHeads)
        headDim = try c.decodeIfPresent(Int.self, forKey: .headDim); hiddenAct = try get(.hiddenAct, "silu")
        maxPositionEmbeddings = try get(.maxPositionEmbeddings, 2048); initializerRange = try get(.initializerRange, 0.02)
        rmsNormEps = try get(.rmsNormEps, 1e-6); ropeTheta = try get(.ropeTheta, 10000)
        ropeParameters = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeParameters)
        ropeScaling = try c.decodeIfPresent(RopeParameters.self, forKey: .ropeScaling)
        slidingWindow = try c.decodeIfPresent(Int.self, forKey: .slidingWindow)
        attentionBias = try get(.attentionBias, false); attentionDropout = try get(.attentionDropout, 0)
        mlpBias = try get(.mlpBias, false); tieWordEmbeddings = try get(.tieWordEmbeddings, false)
        bosTokenId = try c.decodeIfPresent(Int.self, forKey: .bosTokenId)
        eosTokenId = try c.decodeIfPresent(TokenIDs.self, forKey: .eosTokenId)
        padTokenId = try c.decodeIfPresent(Int.self, forKey: .padTokenId)
        modelType = try get(.modelType, "llama"); architectures = try get(.architectures, ["LlamaForCausalLM"])
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(vocabSize, forKey: .vocabSize); try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(intermediateSize, forKey: .intermediateSize); try c.encode(numHiddenLayers, forKey: .numHiddenLayers)
        try c.encode(numAttentionHeads, forKey: .numAttentionHeads); try c.encode(kvHeads, forKey: .numKeyValueHeads)
        try c.encode(headSize, forKey: .headDim); try c.encode(hiddenAct, forKey: .hiddenAct)
        try c.encode(maxPositionEmbeddings, forKey: .maxPositionEmbeddings); try c.encode(initializerRange, forKey: .initializerRange)
        try c.encode(rmsNormEps, forKey: .rmsNormEps)
        try c.encode(RopeParameters(ropeType: "default", ropeTheta: rotaryBase), forKey: .ropeParameters)
        try c.encode(attentionBias, forKey: .attentionBias); try c.encode(attentionDropout, forKey: .attentionDropout)
        try c.encode(mlpBias, forKey: .mlpBias); try c.encode(tieWordEmbeddings, forKey: .tieWordEmbeddings)
        try c.encode(bosTokenId, forKey: .bosTokenId); try c.encode(eosTokenId, forKey: .eosTokenId)
        try c.encode(padTokenId, forKey: .padTokenId)
        try c.encode(modelType, forKey: .modelType); try c.encode(architectures, forKey: .architectures)
    }
}

extension LlamaConfig {
    /// Checks the fields make a model Strata builds as transformers does; errors name the field, the value and the fix.
    public func validate(source: String = "config.json", available: Double = MemoryBudget.physicalBytes) throws {
        func bad(_ field: String, _ why: String, fix: String? = nil) -> StrataError {
            .config("read \(source)", "field '\(field)' \(why)", fix: fix ?? "edit \(field) in \(source)")
        }
        if modelType != "llama" { throw bad("model_type", "'\(modelType)' is not supported by the Llama family (only llama)") }
        for (field, v) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
                           ("num_hidden_layers", numHiddenLayers), ("num_attention_heads", numAttentionHeads),
                           ("max_position_embeddings", maxPositionEmbeddings)] where v <= 0 || v > Int(Int32.max) {
            throw bad(field, "must be positive and below 2^31, got \(v)")
        }
        if kvHeads <= 0 || numAttentionHeads % kvHeads != 0 {
            throw bad("num_key_value_heads", "(\(kvHeads)) must be positive and divide num_attention_heads (\(numAttentionHeads))")
        }
        if headSize <= 0 || headSize % 2 != 0 {
            throw bad(headDim == nil ? "hidden_size" : "head_dim", "gives a head size of \(headSize); rotary embeddings need a positive even head size")
        }
        if headDim == nil && hiddenSize % numAttentionHeads != 0 {
            throw bad("hidden_size", "(\(hiddenSize)) must be a multiple of num_attention_heads (\(numAttentionHeads)) when head_dim is absent")
        }
        if !(rmsNormEps > 0 && rmsNormEps.isFinite) { throw bad("rms_norm_eps", "must be a small positive number (Llama: 1e-6), got \(rmsNormEps)") }
        if !(rotaryBase > 0 && rotaryBase.isFinite) { throw bad("rope_theta", "must be positive, got \(rotaryBase)") }
        if !(initializerRange >= 0 && initializerRange.isFinite) { throw bad("initializer_range", "must be ≥ 0 and finite, got \(initializerRange)") }
        if hiddenAct != "silu" { throw bad("hidden_act", "'\(hiddenAct)' is not supported (Strata's Llama MLP is SwiGLU: silu)") }
        for (field, rope) in [("rope_parameters", ropeParameters), ("rope_scaling", ropeScaling)] {
            if let rope, rope.ropeType != "default" {
                throw bad("\(field).rope_type", "'\(rope.ropeType)' is not implemented (Strata implements only the unscaled rotary embedding, "
                          + "rope_type 'default')", fix: "remove \(field) scaling from \(source) (or set rope_type to 'default') and fine-tune at the base context")
            }
        }
        if let w = slidingWindow { throw bad("sliding_window", "(\(w)) is not supported (Strata's attention is full causal)", fix: "set sliding_window to null in \(source)") }
        if attentionDropout != 0 { throw bad("attention_dropout", "must be 0 (the fused attention op has no dropout), got \(attentionDropout)") }
        try MemoryBudget.check(4 * parameterEstimate, for: "a Llama of \(GPT2Config.count(parameterEstimate)) parameters", op: "read \(source)",
                               fix: "use smaller hidden_size / num_hidden_layers / vocab_size in \(source)", available: available)
    }

    /// Parameters (a tied head counted once), in Double.
    public var parameterEstimate: Double {
        let c = Double(hiddenSize), f = Double(intermediateSize), q = Double(queryWidth), kv = Double(kvHeads * headSize)
        let attn = c * q * 2 + c * kv * 2 + (attentionBias ? q + 2 * kv + c : 0)
        let mlp = 3 * c * f + (mlpBias ? 2 * f + c : 0)
        let head = tieWordEmbeddings ? 0 : Double(vocabSize) * c
        return Double(vocabSize) * c + head + Double(numHiddenLayers) * (attn + mlp + 2 * c) + c
    }

    /// Weights, gradients and AdamW moments (16 bytes a parameter) plus the activations the tape keeps:
    /// per layer and token ~10·C for the residual stream, norms and projections, 4·F for the SwiGLU MLP,
    /// 2·H·T for attention probabilities; plus logits and their gradient (2·V per token).
    public func trainingBytes(batch: Int, context: Int) -> Double {
        let c = Double(hiddenSize), f = Double(intermediateSize), t = Double(context)
        let perToken = Double(numHiddenLayers) * (10 * c + 4 * f + 2 * Double(numAttentionHeads) * t) + 2 * Double(vocabSize) + 4 * c
        return 16 * parameterEstimate + 4 * Double(batch) * t * perToken
    }

    /// Refuses training this model on `batch` × `context` micro-batches when the estimate exceeds `available`.
    public func checkTrainingMemory(batch: Int, context: Int, source: String = "recipe",
                                    available: Double = MemoryBudget.physicalBytes) throws {
        let op = "check memory for training (\(source))"
        guard batch > 0, context > 0 else { throw StrataError.config(op, "batch \(batch) and context \(context) must be positive") }
        try MemoryBudget.check(trainingBytes(batch: batch, context: context),
                               for: "training a Llama of \(GPT2Config.count(parameterEstimate)) parameters on batches of \(batch) × \(context) tokens",
                               op: op, fix: "lower train.batch_size (train.grad_accum keeps the effective batch), train.context, "
                                + "or the model size in \(source)", available: available)
    }

    public static func read(from url: URL) throws -> LlamaConfig {
        let cfg = try StrataJSON.read(LlamaConfig.self, at: url)
        try cfg.validate(source: url.path)
        return cfg
    }

    public func write(to url: URL) throws { try StrataJSON.encode(self).write(to: url, options: .atomic) }
}
