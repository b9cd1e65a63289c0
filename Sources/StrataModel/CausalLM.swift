// CausalLM: the decoder-only language model the stages train, evaluate and
// sample from, whatever its family (GPT-2, Llama). It gives the forward pass to
// hidden states, logits and a fused next-token loss, KV-cache decoding (so
// generation, sampling and rollouts are written once, in Generate.swift),
// named parameters, config.json and safetensors I/O, vocabulary growth and the
// FLOPs accounting. `ModelFamily` names the families and is the one place that
// maps a config.json's model_type to a type (`loadCausalLM`, `CausalLMSpec`).
// The RoBERTa encoder (family roberta) conforms too, so the training loop, checkpoints
// and evaluation take it as they are (Roberta+LanguageModel.swift): its loss is the
// masked-LM loss and it does not decode; `requireDecoder` is what sampling, chat and
// every stage after pretraining call to refuse it by name.
// Leaves out: encoder-decoder models.

import Foundation
import StrataCore
import StrataTensor
import StrataCheckpoint

/// The model families Strata builds; the raw value is config.json's model_type and a recipe's `model.family`.
public enum ModelFamily: String, Codable, CaseIterable, Sendable {
    case gpt2, llama, roberta

    /// The transformers class of the language model (config.json `architectures`; roberta: the masked-LM encoder).
    public var causalLMArchitecture: String {
        switch self {
        case .gpt2: return "GPT2LMHeadModel"
        case .llama: return "LlamaForCausalLM"
        case .roberta: return "RobertaForMaskedLM"
        }
    }
    /// The transformers class of a one-label reward model on this trunk (`score.weight` head).
    public var sequenceClassificationArchitecture: String {
        switch self {
        case .gpt2: return "GPT2ForSequenceClassification"
        case .llama: return "LlamaForSequenceClassification"
        case .roberta: return "RobertaForSequenceClassification"
        }
    }
    /// Whether the family is a bidirectional encoder trained by masked-LM (it neither decodes nor takes later stages).
    public var isEncoder: Bool { self == .roberta }

    /// Reads `model_type` from config.json (GPT-2 when absent, as older GPT-2 configs omit it).
    public static func of(configAt url: URL) throws -> ModelFamily {
        struct Probe: Decodable { var model_type: String? }
        let probe = try StrataJSON.read(Probe.self, at: url)
        let type = probe.model_type ?? "gpt2"
        guard let family = ModelFamily(rawValue: type) else {
            throw StrataError.config("read \(url.path)", "field 'model_type' is '\(type)', which Strata cannot build",
                                     fix: "use a checkpoint whose model_type is one of: \(allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return family
    }
}

public protocol CausalLM: AnyObject {
    var family: ModelFamily { get }
    var vocabSize: Int { get }
    /// Longest sequence the model takes (n_positions / max_position_embeddings).
    var contextLength: Int { get }
    /// Width of the final hidden states (n_embd / hidden_size).
    var hiddenSize: Int { get }
    /// Every parameter, named as in transformers' state dict (a tied head listed once).
    var parameters: [Tensor] { get }
    /// KV-cache decoding through the batched paths (off: the per-row reference path).
    var batchedDecoding: Bool { get set }

    /// Final hidden states [B, T, C] of ids [B·T]; positions/docStart (B·T) for packed rows.
    func hidden(_ ids: [Int32], batch b: Int, time t: Int, tape: Tape, positions: [Int32]?, docStart: [Int32]?) -> Tensor
    /// Logits [N, V] of hidden states [..., C].
    func logits(_ hidden: Tensor, tape: Tape) -> Tensor
    /// Next-token cross-entropy of targets (-100 ignored), summed and divided by `normalizer` (default: the count).
    func loss(_ ids: [Int32], targets: [Int32], batch b: Int, time t: Int, tape: Tape, normalizer: Float?,
              positions: [Int32]?, docStart: [Int32]?) -> Tensor
    /// A KV cache sized for this model.
    func makeCache(batch: Int, capacity: Int?) -> KVCache
    /// Feeds new tokens to cache rows; logits of each row's last new token [rows.count, V].
    func decode(rows: [Int], tokens: [[Int32]], cache: KVCache) -> Tensor
    /// Residual (and, where the family has it, embedding) dropout from now on.
    func setDropout(_ p: Float)
    /// Forward matmul FLOPs per token at context `t` (training is 3×).
    func forwardFlopsPerToken(context t: Int) -> Double
    /// Bytes of KV cache one position of one row holds (keys and values of every layer, fp32).
    var kvBytesPerPosition: Double { get }

    func save(directory: URL, metadata: [String: String], writeConfig: Bool) throws
    func weightSources() -> [TensorSource]
    func loadWeights(from url: URL) throws
    /// config.json as this family writes it.
    func writeConfig(to url: URL) throws
    /// A copy with `newSize` vocabulary rows (new rows the mean of the old ones; everything else copied).
    func resizingVocabulary(to newSize: Int) throws -> any CausalLM
    /// A freshly initialised model of the same config (seeded).
    func freshCopy(seed: UInt64) -> any CausalLM
    /// Every projection a LoRA adapter may target, in parameter order.
    var linears: [Linear] { get }
    /// The parameters the final hidden states depend on: all but an untied LM head (a reward model's trunk).
    var trunkParameters: [Tensor] { get }
    /// config.json eos_token_id (the first one when it lists several).
    var eosTokenID: Int? { get }
    /// config.json bytes as this family writes them.
    func configData() throws -> Data
    /// config.json `architectures`.
    var architectures: [String] { get }
    /// The dropout rates the model trains with, by config.json name (GPT-2: resid_pdrop, embd_pdrop).
    var dropoutRates: [(name: String, rate: Float)] { get }
    /// One line for logs: layers, heads, width, vocabulary.
    var shapeSummary: String { get }
    /// The config.json fields that fix the parameter shapes, by name (a resumed run checks them against its recipe).
    var shapeFields: [(name: String, value: Int)] { get }
    /// Refuses training on `batch` × `context` micro-batches that cannot fit in memory (before allocating).
    func checkTrainingMemory(batch: Int, context: Int, source: String) throws
}

extension CausalLM {
    /// Write model.safetensors (and config.json unless `writeConfig` is false) into `directory`.
    public func save(directory: URL, metadata: [String: String] = [:], writeConfig: Bool = true) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try SafeTensors.write(sources: weightSources(), metadata: ["format": "pt"].merging(metadata) { $1 },
                              to: directory.appendingPathComponent("model.safetensors"))
        if writeConfig { try configData().write(to: directory.appendingPathComponent("config.json"), options: .atomic) }
    }

    /// The parameters as zero-copy sources for a safetensors writer.
    public func weightSources() -> [TensorSource] {
        parameters.map { p in
            TensorSource(name: p.name!, shape: p.shape) { body in try body(UnsafeBufferPointer(start: p.ptr, count: p.count)) }
        }
    }

    public var namedParameters: [String: Tensor] { Dictionary(uniqueKeysWithValues: parameters.map { ($0.name!, $0) }) }
    public func zeroGrad() { for p in parameters { p.zeroGrad() } }
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }

    public func hidden(_ ids: [Int32], batch b: Int, time t: Int, tape: Tape) -> Tensor {
        hidden(ids, batch: b, time: t, tape: tape, positions: nil, docStart: nil)
    }
    public func loss(_ ids: [Int32], targets: [Int32], batch b: Int, time t: Int, tape: Tape, normalizer: Float? = nil) -> Tensor {
        loss(ids, targets: targets, batch: b, time: t, tape: tape, normalizer: normalizer, positions: nil, docStart: nil)
    }
    public func makeCache(batch: Int) -> KVCache { makeCache(batch: batch, capacity: nil) }
    public func save(directory: URL) throws { try save(directory: directory, metadata: [:], writeConfig: true) }
}

/// A randomly initialised model of the family and config that config.json at `url` describes.
public func initCausalLM(configAt url: URL, seed: UInt64) throws -> any CausalLM {
    switch try ModelFamily.of(configAt: url) {
    case .gpt2: return GPT2(try GPT2Config.read(from: url), seed: seed)
    case .llama: return Llama(try LlamaConfig.read(from: url), seed: seed)
    case .roberta: return Roberta(try RobertaConfig.read(from: url), seed: seed)
    }
}

/// Loads a decoder checkpoint directory (config.json + model.safetensors) as the family its model_type names.
public func loadCausalLM(directory: URL) throws -> any CausalLM {
    switch try ModelFamily.of(configAt: directory.appendingPathComponent("config.json")) {
    case .gpt2: return try GPT2.load(directory: directory)
    case .llama: return try Llama.load(directory: directory)
    case .roberta: return try Roberta.load(directory: directory)
    }
}

extension CausalLM {
    /// Refuses an encoder where a decoder is needed (sampling, chat, SFT, DPO, reward, RL), naming the family and the fix.
    public func requireDecoder(for what: String, source: String) throws {
        guard family.isEncoder else { return }
        throw StrataError.config(what, "\(source) is a \(family.rawValue) masked-LM encoder; \(what) needs a decoder (gpt2 or llama)",
                                 fix: "use the encoder with strata eval or strata fill-mask, or pass a gpt2/llama checkpoint")
    }
}

// MARK: - Conformances

extension GPT2: CausalLM {
    public var family: ModelFamily { .gpt2 }
    public var vocabSize: Int { config.vocabSize }
    public var contextLength: Int { config.nPositions }
    public var hiddenSize: Int { config.nEmbd }
    public var kvBytesPerPosition: Double { 4 * 2 * Double(config.nLayer * config.nEmbd) }
    public func makeCache(batch: Int, capacity: Int?) -> KVCache { KVCache(model: self, batch: batch, capacity: capacity) }
    public func writeConfig(to url: URL) throws { try config.write(to: url) }
    public func resizingVocabulary(to newSize: Int) throws -> any CausalLM { try growingVocabulary(to: newSize) }
    public func freshCopy(seed: UInt64) -> any CausalLM { GPT2(config, seed: seed) }
    public var linears: [Linear] { blocks.flatMap { [$0.attn, $0.attnProj, $0.fc, $0.fcProj] } }
    public var trunkParameters: [Tensor] { parameters }
    public var eosTokenID: Int? { config.eosTokenId }
    public func configData() throws -> Data { try StrataJSON.encode(config) }
    public var architectures: [String] { config.architectures }
    public var dropoutRates: [(name: String, rate: Float)] { [("resid_pdrop", config.residPdrop), ("embd_pdrop", config.embdPdrop)] }
    public var shapeFields: [(name: String, value: Int)] {
        [("n_layer", config.nLayer), ("n_head", config.nHead), ("n_embd", config.nEmbd), ("n_positions", config.nPositions),
         ("vocab_size", config.vocabSize)]
    }
    public var shapeSummary: String { "\(config.nLayer) layers, \(config.nHead) heads, d=\(config.nEmbd), vocab \(config.vocabSize)" }
    public func checkTrainingMemory(batch: Int, context: Int, source: String) throws {
        try config.checkTrainingMemory(batch: batch, context: context, source: source)
    }
}

extension Llama: CausalLM {
    public var family: ModelFamily { .llama }
    public var vocabSize: Int { config.vocabSize }
    public var contextLength: Int { config.maxPositionEmbeddings }
    public var hiddenSize: Int { config.hiddenSize }
    public var kvBytesPerPosition: Double { 4 * 2 * Double(config.numHiddenLayers * config.kvHeads * config.headSize) }
    public func writeConfig(to url: URL) throws { try config.write(to: url) }
    public func resizingVocabulary(to newSize: Int) throws -> any CausalLM { try growingVocabulary(to: newSize) }
    public func freshCopy(seed: UInt64) -> any CausalLM { Llama(config, seed: seed) }
    public var linears: [Linear] { blocks.flatMap { [$0.q, $0.k, $0.v, $0.o, $0.gate, $0.up, $0.down] } }
    public var trunkParameters: [Tensor] { [embed] + blocks.flatMap(\.parameters) + norm.parameters }
    public var eosTokenID: Int? { config.eosTokenId?.ids.first }
    public func configData() throws -> Data { try StrataJSON.encode(config) }
    public var architectures: [String] { config.architectures }
    public var dropoutRates: [(name: String, rate: Float)] { [("residual dropout", blocks.first?.residDrop ?? 0)] }
    public var shapeFields: [(name: String, value: Int)] {
        let c = config
        return [("num_hidden_layers", c.numHiddenLayers), ("num_attention_heads", c.numAttentionHeads), ("num_key_value_heads", c.kvHeads),
                ("hidden_size", c.hiddenSize), ("intermediate_size", c.intermediateSize), ("head_dim", c.headSize),
                ("max_position_embeddings", c.maxPositionEmbeddings), ("vocab_size", c.vocabSize)]
    }
    public var shapeSummary: String {
        let c = config
        return "llama, \(c.numHiddenLayers) layers, \(c.numAttentionHeads) heads (\(c.kvHeads) key/value), d=\(c.hiddenSize), "
            + "ffn \(c.intermediateSize), vocab \(c.vocabSize)"
    }
    public func checkTrainingMemory(batch: Int, context: Int, source: String) throws {
        try config.checkTrainingMemory(batch: batch, context: context, source: source)
    }
}
