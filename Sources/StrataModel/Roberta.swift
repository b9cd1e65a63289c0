// RoBERTa masked-LM encoder, parameter for parameter transformers'
// RobertaForMaskedLM (no pooler): word + position (+ token type 0) embeddings
// and LayerNorm; L post-LayerNorm blocks of bidirectional self-attention with a
// padding mask and an erf-GELU MLP; the LM head dense → GELU → LayerNorm →
// decoder tied to the word embedding, plus lm_head.bias.
// Positions follow fairseq/transformers: a non-pad token at index i of its row
// (counting non-pad tokens only) sits at position pad_token_id + 1 + i; pads sit
// at pad_token_id. config.json I/O and safetensors load with HF names (saving is
// CausalLM's, written once for every family; the tied decoder is not stored).
// Shapes: B batch, T time, C hidden_size, F intermediate_size, V vocab, H heads, N = B·T.
// Leaves out: token types other than 0, relative position embeddings, dropout,
// the pooler and sequence-classification heads, the CausalLM protocol (an encoder
// has no next-token loss or KV cache: Roberta+LanguageModel.swift conforms it for
// training and evaluation only), the masking rule (MaskedLM.swift).

import Foundation
import StrataCore
import StrataTensor
import StrataCheckpoint

public struct RobertaConfig: Codable, Equatable, Sendable {
    public var vocabSize = 50265
    public var hiddenSize = 768
    public var numHiddenLayers = 12
    public var numAttentionHeads = 12
    public var intermediateSize = 3072
    public var hiddenAct = "gelu"
    public var maxPositionEmbeddings = 514
    public var typeVocabSize = 1
    public var layerNormEps: Float = 1e-5
    public var initializerRange: Float = 0.02
    public var padTokenId = 1
    public var bosTokenId: Int? = 0
    public var eosTokenId: Int? = 2
    public var positionEmbeddingType: String? = "absolute"
    public var tieWordEmbeddings: Bool? = true
    public var modelType = "roberta"
    public var architectures = ["RobertaForMaskedLM"]

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", hiddenSize = "hidden_size", numHiddenLayers = "num_hidden_layers"
        case numAttentionHeads = "num_attention_heads", intermediateSize = "intermediate_size", hiddenAct = "hidden_act"
        case maxPositionEmbeddings = "max_position_embeddings", typeVocabSize = "type_vocab_size", layerNormEps = "layer_norm_eps"
        case initializerRange = "initializer_range", padTokenId = "pad_token_id", bosTokenId = "bos_token_id", eosTokenId = "eos_token_id"
        case positionEmbeddingType = "position_embedding_type", tieWordEmbeddings = "tie_word_embeddings"
        case modelType = "model_type", architectures
    }

    public init(vocabSize: Int, hiddenSize: Int, layers: Int, heads: Int, intermediateSize: Int, maxPositions: Int) {
        self.vocabSize = vocabSize; self.hiddenSize = hiddenSize; numHiddenLayers = layers; numAttentionHeads = heads
        self.intermediateSize = intermediateSize; maxPositionEmbeddings = maxPositions
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func get<T: Decodable>(_ k: CodingKeys, _ d: T) throws -> T { try c.decodeIfPresent(T.self, forKey: k) ?? d }
        vocabSize = try get(.vocabSize, 50265); hiddenSize = try get(.hiddenSize, 768); numHiddenLayers = try get(.numHiddenLayers, 12)
        numAttentionHeads = try get(.numAttentionHeads, 12); intermediateSize = try get(.intermediateSize, 3072)
        hiddenAct = try get(.hiddenAct, "gelu"); maxPositionEmbeddings = try get(.maxPositionEmbeddings, 514)
        typeVocabSize = try get(.typeVocabSize, 1); layerNormEps = try get(.layerNormEps, 1e-5)
        initializerRange = try get(.initializerRange, 0.02); padTokenId = try get(.padTokenId, 1)
        bosTokenId = try c.decodeIfPresent(Int.self, forKey: .bosTokenId); eosTokenId = try c.decodeIfPresent(Int.self, forKey: .eosTokenId)
        positionEmbeddingType = try c.decodeIfPresent(String.self, forKey: .positionEmbeddingType)
        tieWordEmbeddings = try c.decodeIfPresent(Bool.self, forKey: .tieWordEmbeddings)
        modelType = try get(.modelType, "roberta"); architectures = try get(.architectures, ["RobertaForMaskedLM"])
    }

    /// Checks the fields make a model Strata builds as transformers does; errors name the field and the fix.
    public func validate(source: String = "config.json") throws {
        func bad(_ field: String, _ why: String) -> StrataError { .config("read \(source)", "field '\(field)' \(why)", fix: "edit \(field) in \(source)") }
        if modelType != "roberta" { throw bad("model_type", "'\(modelType)' is not supported by the RoBERTa encoder (only roberta)") }
        for (f, v) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("num_hidden_layers", numHiddenLayers),
                       ("num_attention_heads", numAttentionHeads), ("intermediate_size", intermediateSize)] where v <= 0 {
            throw bad(f, "must be positive, got \(v)")
        }
        if hiddenSize % numAttentionHeads != 0 { throw bad("hidden_size", "(\(hiddenSize)) must be a multiple of num_attention_heads (\(numAttentionHeads))") }
        if maxPositionEmbeddings <= padTokenId + 1 { throw bad("max_position_embeddings", "(\(maxPositionEmbeddings)) must exceed pad_token_id + 1 (positions start after the pad id)") }
        if !(0..<vocabSize).contains(padTokenId) { throw bad("pad_token_id", "(\(padTokenId)) must be a token id below vocab_size \(vocabSize)") }
        if hiddenAct != "gelu" { throw bad("hidden_act", "'\(hiddenAct)' is not supported (Strata's encoder uses the exact erf GELU: gelu)") }
        if let p = positionEmbeddingType, p != "absolute" { throw bad("position_embedding_type", "'\(p)' is not supported (only absolute)") }
        if tieWordEmbeddings == false { throw bad("tie_word_embeddings", "must be true (the MLM decoder is the word embedding)") }
        if typeVocabSize < 1 { throw bad("type_vocab_size", "must be at least 1, got \(typeVocabSize)") }
        if !(layerNormEps > 0) { throw bad("layer_norm_eps", "must be positive, got \(layerNormEps)") }
    }

    /// Longest row the encoder reads: positions pad+1 ... max_position_embeddings−1.
    public var maxTokens: Int { maxPositionEmbeddings - padTokenId - 1 }

    public static func read(from url: URL) throws -> RobertaConfig {
        let cfg = try StrataJSON.read(RobertaConfig.self, at: url)
        try cfg.validate(source: url.path)
        return cfg
    }
}

public final class RobertaLayer {
    public let query: Linear, key: Linear, value: Linear, attnOut: Linear, attnNorm: LayerNorm
    public let intermediate: Linear, output: Linear, outNorm: LayerNorm

    init(_ cfg: RobertaConfig, index i: Int, rng: inout StrataRNG) {
        let c = cfg.hiddenSize, f = cfg.intermediateSize, std = cfg.initializerRange, p = "roberta.encoder.layer.\(i)."
        query = Linear(nnLinear: c, c, name: p + "attention.self.query", bias: true, std: std, rng: &rng)
        key = Linear(nnLinear: c, c, name: p + "attention.self.key", bias: true, std: std, rng: &rng)
        value = Linear(nnLinear: c, c, name: p + "attention.self.value", bias: true, std: std, rng: &rng)
        attnOut = Linear(nnLinear: c, c, name: p + "attention.output.dense", bias: true, std: std, rng: &rng)
        attnNorm = LayerNorm(c, name: p + "attention.output.LayerNorm", eps: cfg.layerNormEps)
        intermediate = Linear(nnLinear: c, f, name: p + "intermediate.dense", bias: true, std: std, rng: &rng)
        output = Linear(nnLinear: f, c, name: p + "output.dense", bias: true, std: std, rng: &rng)
        outNorm = LayerNorm(c, name: p + "output.LayerNorm", eps: cfg.layerNormEps)
    }

    var parameters: [Tensor] {
        query.parameters + key.parameters + value.parameters + attnOut.parameters + attnNorm.parameters
            + intermediate.parameters + output.parameters + outNorm.parameters
    }

    /// x [N, C] → [N, C] (post-LayerNorm):
    ///   a = LN(x + dense(attention(q(x), k(x), v(x))));  y = LN(a + out(gelu(inter(a))))
    func callAsFunction(_ x: Tensor, _ t: Tape, heads: Int, time: Int, keyMask: [Bool]) -> Tensor {
        let ctx = t.bidirectionalAttention(query(x, t), key(x, t), value(x, t), heads: heads, time: time, keyMask: keyMask)
        let a = attnNorm(t.add(x, attnOut(ctx, t)), t)
        return outNorm(t.add(a, output(t.geluErf(intermediate(a, t)), t)), t)
    }
}

public final class Roberta {
    public let config: RobertaConfig
    public let wordEmbeddings: Tensor, positionEmbeddings: Tensor, tokenTypeEmbeddings: Tensor   // [V, C], [P, C], [types, C]
    public let embedNorm: LayerNorm
    public let layers: [RobertaLayer]
    public let headDense: Linear, headNorm: LayerNorm
    public let headBias: Tensor   // [V] lm_head.bias

    /// A randomly initialised encoder (N(0, initializer_range) matrices, zero biases, unit LayerNorms).
    public init(_ config: RobertaConfig, seed: UInt64) {
        self.config = config
        var rng = StrataRNG(seed: seed)
        let c = config.hiddenSize, std = config.initializerRange
        func table(_ rows: Int, _ name: String) -> Tensor {
            let t = Tensor((0..<(rows * c)).map { _ in rng.normal() * std }, shape: [rows, c], requiresGrad: true)
            t.name = name; return t
        }
        wordEmbeddings = table(config.vocabSize, "roberta.embeddings.word_embeddings.weight")
        positionEmbeddings = table(config.maxPositionEmbeddings, "roberta.embeddings.position_embeddings.weight")
        tokenTypeEmbeddings = table(config.typeVocabSize, "roberta.embeddings.token_type_embeddings.weight")
        embedNorm = LayerNorm(c, name: "roberta.embeddings.LayerNorm", eps: config.layerNormEps)
        layers = (0..<config.numHiddenLayers).map { RobertaLayer(config, index: $0, rng: &rng) }
        headDense = Linear(nnLinear: c, c, name: "lm_head.dense", bias: true, std: std, rng: &rng)
        headNorm = LayerNorm(c, name: "lm_head.layer_norm", eps: config.layerNormEps)
        headBias = Tensor(zeros: [config.vocabSize], requiresGrad: true)
        headBias.name = "lm_head.bias"
    }

    /// Every parameter under its transformers name (the decoder weight is the word embedding, listed once).
    public var parameters: [Tensor] {
        [wordEmbeddings, positionEmbeddings, tokenTypeEmbeddings] + embedNorm.parameters + layers.flatMap(\.parameters)
            + headDense.parameters + headNorm.parameters + [headBias]
    }
    public var namedParameters: [String: Tensor] { Dictionary(uniqueKeysWithValues: parameters.map { ($0.name!, $0) }) }
    public func zeroGrad() { for p in parameters { p.zeroGrad() } }

    /// transformers' position ids: pad + cumulative count of non-pad tokens in the row, pad for pad tokens.
    public func positionIDs(_ ids: [Int32], time t: Int) -> [Int32] {
        let pad = Int32(config.padTokenId)
        var out = [Int32](repeating: pad, count: ids.count)
        for r in 0..<(ids.count / t) {
            var seen: Int32 = 0
            for i in 0..<t where ids[r * t + i] != pad { seen += 1; out[r * t + i] = pad + seen }
        }
        return out
    }

    /// Checks rows a user supplies: ids in the vocabulary, rows short enough for the position table.
    public func checkInput(_ ids: [Int32], batch b: Int, time t: Int, op: String = "roberta forward") throws {
        guard b >= 1, t >= 1, ids.count == b * t else { throw StrataError.shape(op, "\(ids.count) ids for B=\(b), T=\(t)", fix: "give B·T ids") }
        guard t <= config.maxTokens else {
            throw StrataError.shape(op, "rows of \(t) tokens exceed the \(config.maxTokens) positions of max_position_embeddings \(config.maxPositionEmbeddings)",
                                    fix: "truncate rows to \(config.maxTokens) tokens")
        }
        if let i = ids.firstIndex(where: { $0 < 0 || Int($0) >= config.vocabSize }) {
            throw StrataError.data(op, "row \(i / t) position \(i % t): id \(ids[i]) outside the vocabulary of \(config.vocabSize)",
                                   fix: "tokenise with the model's tokenizer")
        }
    }

    /// Final hidden states [N, C] of ids [B·T] (pad_token_id tokens are padding: never attended to).
    public func hidden(_ ids: [Int32], batch b: Int, time t: Int, tape: Tape) -> Tensor {
        precondition(ids.count == b * t && t <= config.maxTokens, "Roberta.hidden: \(ids.count) ids for B=\(b), T=\(t)")  // checkInput first
        let pos = positionIDs(ids, time: t), keyMask = ids.map { $0 != Int32(config.padTokenId) }
        let e = tape.add(tape.add(tape.embedding(wordEmbeddings, ids), tape.embedding(positionEmbeddings, pos)),
                         tape.embedding(tokenTypeEmbeddings, [0]))                                    // [N, C]
        var x = embedNorm(e, tape)
        for layer in layers { x = layer(x, tape, heads: config.numAttentionHeads, time: t, keyMask: keyMask) }
        return x
    }

    /// MLM logits [N, V] = decoder(LN(gelu(dense(h)))) + lm_head.bias, decoder = word embeddingᵀ.
    public func logits(_ hidden: Tensor, tape: Tape) -> Tensor {
        let h = headNorm(tape.geluErf(headDense(hidden, tape)), tape)
        return tape.add(tape.linearTransposed(h, wordEmbeddings), headBias)
    }

    /// Mean cross-entropy over the positions whose label is not -100 (the masked ones).
    public func maskedLMLoss(_ ids: [Int32], labels: [Int32], batch b: Int, time t: Int, tape: Tape) -> Tensor {
        tape.crossEntropy(logits(hidden(ids, batch: b, time: t, tape: tape), tape: tape), labels)
    }
}

extension Roberta {
    public static func load(directory: URL) throws -> Roberta {
        let model = Roberta(try RobertaConfig.read(from: directory.appendingPathComponent("config.json")), seed: 0)
        try model.loadWeights(from: directory.appendingPathComponent("model.safetensors"))
        return model
    }

    /// Copy weights from a safetensors file; a tied lm_head.decoder.weight / decoder.bias must equal what it is tied to.
    public func loadWeights(from url: URL) throws {
        let file = try SafeTensors.read(url), op = "load \(url.path)", params = namedParameters
        var seen = Set<String>()
        let tied = ["lm_head.decoder.weight": wordEmbeddings.name!, "lm_head.decoder.bias": headBias.name!]
        for name in file.names where tied[name] == nil && !name.hasSuffix("position_ids") {
            guard let p = params[name] else {
                throw StrataError.format(op, "tensor '\(name)' is not a parameter of RobertaForMaskedLM",
                                         fix: name.hasPrefix("roberta.pooler") ? "this checkpoint has a pooler: Strata reads the masked-LM model only" : nil)
            }
            _ = try file.require(name, shape: p.shape)
            try file.requireFloatingPoint(name, for: "a RoBERTa weight")
            try file.copyValues(of: name, into: UnsafeMutableBufferPointer(start: p.ptr, count: p.count))
            seen.insert(name)
        }
        if let missing = params.keys.sorted().first(where: { !seen.contains($0) }) {
            throw StrataError.format(op, "tensor '\(missing)' is missing (\(params.count - seen.count) of \(params.count) parameters absent)")
        }
        for (name, target) in tied where file.names.contains(name) {
            if try file.tensor(name, shape: params[target]!.shape).values != params[target]!.toArray() {
                throw StrataError.format(op, "\(name) differs from \(target), which it is tied to", fix: "Strata ties the MLM decoder to the word embedding")
            }
        }
    }

    /// config.json bytes as transformers writes a RobertaForMaskedLM's.
    public func configData() throws -> Data { try StrataJSON.encode(config) }
}
