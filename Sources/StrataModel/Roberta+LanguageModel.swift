// The RoBERTa encoder as a model the shared training loop, checkpoint trail and
// evaluations take: Roberta conforms to CausalLM (family roberta) so pretraining,
// validation, checkpoints, lineage, cards and reports are written once for every
// family. What "loss" means differs: for the encoder, `targets` are masked-LM labels at
// the same positions as the inputs (the original token where the masking rule selected
// a position, -100 elsewhere), not next tokens. FLOPs, memory estimate and shape fields
// follow the GPT-2 accounting.
// Shapes: B batch, T time, C hidden_size, F intermediate_size, V vocab, L layers, H heads.
// Leaves out: decoding. An encoder has no KV cache: sampling, chat and every stage after
// pretraining refuse it first (`requireDecoder`), so `makeCache`/`decode` are never
// reached from a command and stop with a programmer-error message if called directly.
// Dropout (the encoder trains without it), vocabulary growth (refused with an error).

import Foundation
import StrataCore
import StrataTensor
import StrataCheckpoint

extension Roberta: CausalLM {
    public var family: ModelFamily { .roberta }
    public var vocabSize: Int { config.vocabSize }
    /// Longest row the encoder reads (max_position_embeddings − pad_token_id − 1).
    public var contextLength: Int { config.maxTokens }
    public var hiddenSize: Int { config.hiddenSize }
    public var batchedDecoding: Bool { get { false } set {} }
    public var kvBytesPerPosition: Double { 0 }

    /// Final hidden states [N, C]; an encoder row attends both ways, so packed rows (docStart) are not supported.
    public func hidden(_ ids: [Int32], batch b: Int, time t: Int, tape: Tape, positions: [Int32]?, docStart: [Int32]?) -> Tensor {
        precondition(docStart == nil && positions == nil, "Roberta.hidden: packed rows are not supported by the encoder")
        return hidden(ids, batch: b, time: t, tape: tape)
    }

    /// Masked-LM cross-entropy: Σ over labelled positions of −log softmax(logits)[label], divided by `normalizer`
    /// (default: the count of labelled positions). `targets` are labels aligned with `ids`, not shifted.
    public func loss(_ ids: [Int32], targets: [Int32], batch b: Int, time t: Int, tape: Tape, normalizer: Float?,
                     positions: [Int32]?, docStart: [Int32]?) -> Tensor {
        tape.crossEntropy(logits(hidden(ids, batch: b, time: t, tape: tape, positions: positions, docStart: docStart), tape: tape),
                          targets, normalizer: normalizer)
    }

    public func makeCache(batch: Int, capacity: Int?) -> KVCache {
        preconditionFailure("Roberta has no KV cache: call requireDecoder before decoding")
    }

    public func decode(rows: [Int], tokens: [[Int32]], cache: KVCache) -> Tensor {
        preconditionFailure("Roberta does not decode: call requireDecoder before decoding")
    }

    /// The encoder trains without dropout; a rate of 0 is the only one it takes (the recipe refuses others first).
    public func setDropout(_ p: Float) {
        precondition(p == 0, "Roberta trains without dropout (the recipe's model.dropout must be 0)")
    }

    /// 2·(matmul parameters + V·C) per token plus attention's 2·2·L·T·C (training is 3×), as for GPT-2.
    public func forwardFlopsPerToken(context t: Int) -> Double {
        let c = Double(config.hiddenSize), f = Double(config.intermediateSize), l = Double(config.numHiddenLayers)
        let matmulParams = l * (4 * c * c + 2 * c * f) + c * c + Double(config.vocabSize) * c
        return 2 * matmulParams + 4 * l * Double(t) * c
    }

    public func writeConfig(to url: URL) throws { try configData().write(to: url, options: .atomic) }

    public func resizingVocabulary(to newSize: Int) throws -> any CausalLM {
        throw StrataError.config("grow vocabulary", "the roberta encoder's vocabulary (\(config.vocabSize)) cannot be grown to \(newSize)",
                                 fix: "pretrain the encoder with the tokenizer it will use (special tokens included)")
    }

    public func freshCopy(seed: UInt64) -> any CausalLM { Roberta(config, seed: seed) }
    public var linears: [Linear] { layers.flatMap { [$0.query, $0.key, $0.value, $0.attnOut, $0.intermediate, $0.output] } }
    public var trunkParameters: [Tensor] { parameters }
    public var eosTokenID: Int? { config.eosTokenId }
    public var architectures: [String] { config.architectures }
    public var dropoutRates: [(name: String, rate: Float)] { [] }

    public var shapeFields: [(name: String, value: Int)] {
        let c = config
        return [("num_hidden_layers", c.numHiddenLayers), ("num_attention_heads", c.numAttentionHeads), ("hidden_size", c.hiddenSize),
                ("intermediate_size", c.intermediateSize), ("max_position_embeddings", c.maxPositionEmbeddings), ("vocab_size", c.vocabSize)]
    }

    public var shapeSummary: String {
        let c = config
        return "roberta encoder, \(c.numHiddenLayers) layers, \(c.numAttentionHeads) heads, d=\(c.hiddenSize), ffn \(c.intermediateSize), "
            + "vocab \(c.vocabSize)"
    }

    /// Weights, gradients and AdamW moments (16 bytes a parameter) plus the activations the tape keeps for one micro-batch
    /// (per layer and token ~12·C + 2·F + 2·H·T, plus logits and their gradient); refuses what cannot fit.
    public func checkTrainingMemory(batch: Int, context: Int, source: String) throws {
        let op = "check memory for training (\(source))"
        guard batch > 0, context > 0 else { throw StrataError.config(op, "batch \(batch) and context \(context) must be positive") }
        let c = Double(config.hiddenSize), f = Double(config.intermediateSize), t = Double(context)
        let params = Double(parameters.reduce(0) { $0 + $1.count })
        let perToken = Double(config.numHiddenLayers) * (12 * c + 2 * f + 2 * Double(config.numAttentionHeads) * t)
            + 2 * Double(config.vocabSize) + 4 * c
        let activations = 4 * Double(batch) * t * perToken
        try MemoryBudget.check(16 * params + activations,
                               for: "training a roberta encoder on batches of \(batch) × \(context) tokens", op: op,
                               fix: "lower train.batch_size (train.grad_accum keeps the effective batch), train.context, or the model size in \(source)",
                               available: MemoryBudget.physicalBytes)
    }
}
