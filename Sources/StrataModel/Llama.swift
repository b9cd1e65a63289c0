// Llama-family decoder: token embedding, L pre-RMSNorm blocks (grouped-query
// causal self-attention with rotary positions, SwiGLU MLP), a final RMSNorm and an
// untied (or, with tie_word_embeddings, tied) LM head. Parameter names and layouts
// are exactly transformers' LlamaForCausalLM (nn.Linear weights [out, in]), so its
// safetensors load as they are (Llama+Checkpoint.swift).
// Shapes: B batch, T time, C hidden_size, F intermediate_size, V vocab, L layers,
// H query heads, Hkv key/value heads, D head size, N = B·T.
// Leaves out: rope scaling, sliding windows, attention dropout (the config refuses them).

import StrataCore
import StrataTensor

/// RMSNorm with a learned gain (transformers' LlamaRMSNorm).
public final class RMSNorm {
    public let weight: Tensor   // [C]
    public let eps: Float
    public init(_ c: Int, name: String, eps: Float) {
        weight = Tensor([Float](repeating: 1, count: c), shape: [c], requiresGrad: true)
        weight.name = name + ".weight"; self.eps = eps
    }
    public func callAsFunction(_ x: Tensor, _ tape: Tape) -> Tensor { tape.rmsNorm(x, weight, eps: eps) }
    public var parameters: [Tensor] { [weight] }
}

public final class LlamaBlock {
    public let inputNorm: RMSNorm, q: Linear, k: Linear, v: Linear, o: Linear
    public let postNorm: RMSNorm, gate: Linear, up: Linear, down: Linear
    var residDrop: Float = 0

    init(_ cfg: LlamaConfig, index i: Int, rng: inout StrataRNG) {
        let c = cfg.hiddenSize, p = "model.layers.\(i).", std = cfg.initializerRange, kv = cfg.kvHeads * cfg.headSize
        inputNorm = RMSNorm(c, name: p + "input_layernorm", eps: cfg.rmsNormEps)
        q = Linear(nnLinear: c, cfg.queryWidth, name: p + "self_attn.q_proj", bias: cfg.attentionBias, std: std, rng: &rng)
        k = Linear(nnLinear: c, kv, name: p + "self_attn.k_proj", bias: cfg.attentionBias, std: std, rng: &rng)
        v = Linear(nnLinear: c, kv, name: p + "self_attn.v_proj", bias: cfg.attentionBias, std: std, rng: &rng)
        o = Linear(nnLinear: cfg.queryWidth, c, name: p + "self_attn.o_proj", bias: cfg.attentionBias, std: std, rng: &rng)
        postNorm = RMSNorm(c, name: p + "post_attention_layernorm", eps: cfg.rmsNormEps)
        gate = Linear(nnLinear: c, cfg.intermediateSize, name: p + "mlp.gate_proj", bias: cfg.mlpBias, std: std, rng: &rng)
        up = Linear(nnLinear: c, cfg.intermediateSize, name: p + "mlp.up_proj", bias: cfg.mlpBias, std: std, rng: &rng)
        down = Linear(nnLinear: cfg.intermediateSize, c, name: p + "mlp.down_proj", bias: cfg.mlpBias, std: std, rng: &rng)
    }

    var parameters: [Tensor] {
        inputNorm.parameters + q.parameters + k.parameters + v.parameters + o.parameters
            + postNorm.parameters + gate.parameters + up.parameters + down.parameters
    }

    /// Rotated queries and keys plus values of normed input h [N, C]: q [N, H·D], k and v [N, Hkv·D].
    func projections(_ h: Tensor, _ t: Tape, cfg: LlamaConfig, positions: [Int32], rope: RotaryTable) -> (Tensor, Tensor, Tensor) {
        let qr = t.rope(q(h, t), heads: cfg.numAttentionHeads, positions: positions, table: rope)
        let kr = t.rope(k(h, t), heads: cfg.kvHeads, positions: positions, table: rope)
        return (qr, kr, v(h, t))
    }

    /// x + down(silu(gate(norm(x))) ⊙ up(norm(x))), x: [N, C].
    func mlp(_ x: Tensor, _ t: Tape) -> Tensor {
        let h = postNorm(x, t)
        return t.add(x, t.dropout(down(t.swiglu(gate(h, t), up(h, t)), t), p: residDrop))
    }

    /// x: [N, C] for B rows of T tokens → [N, C]:
    ///   x = x + o(attention(groupedQKV(rope(q(n)), rope(k(n)), v(n)))),  n = inputNorm(x)
    ///   x = x + down(silu(gate(m)) ⊙ up(m)),                              m = postNorm(x)
    func callAsFunction(_ x: Tensor, _ t: Tape, cfg: LlamaConfig, batch b: Int, time tt: Int,
                        positions: [Int32], rope: RotaryTable, docStart: [Int32]?) -> Tensor {
        let (qr, kr, vv) = projections(inputNorm(x, t), t, cfg: cfg, positions: positions, rope: rope)
        let qkv = t.reshape(t.groupedQKV(qr, kr, vv, heads: cfg.numAttentionHeads, kvHeads: cfg.kvHeads), [b, tt, 3 * cfg.queryWidth])
        let att = t.reshape(t.attention(qkv, heads: cfg.numAttentionHeads, docStart: docStart), [b * tt, cfg.queryWidth])
        return mlp(t.add(x, t.dropout(o(att, t), p: residDrop)), t)
    }
}

public final class Llama {
    public private(set) var config: LlamaConfig
    public let embed: Tensor          // [V, C] model.embed_tokens.weight
    public let blocks: [LlamaBlock]
    public let norm: RMSNorm
    /// [V, C] lm_head.weight; the embedding itself when tie_word_embeddings.
    public let head: Tensor
    let rope: RotaryTable
    /// KV-cache decoding prefills packed prompts through the fused attention op; off, every call takes the per-row path.
    public var batchedDecoding = true

    /// A randomly initialised model (transformers' scheme: every matrix N(0, initializer_range), norms at 1).
    public init(_ config: LlamaConfig, seed: UInt64) {
        self.config = config
        var rng = StrataRNG(seed: seed)
        let c = config.hiddenSize, std = config.initializerRange
        embed = Tensor((0..<(config.vocabSize * c)).map { _ in rng.normal() * std }, shape: [config.vocabSize, c], requiresGrad: true)
        embed.name = "model.embed_tokens.weight"
        blocks = (0..<config.numHiddenLayers).map { LlamaBlock(config, index: $0, rng: &rng) }
        norm = RMSNorm(c, name: "model.norm", eps: config.rmsNormEps)
        if config.tieWordEmbeddings { head = embed } else {
            head = Tensor((0..<(config.vocabSize * c)).map { _ in rng.normal() * std }, shape: [config.vocabSize, c], requiresGrad: true)
            head.name = "lm_head.weight"
        }
        rope = RotaryTable(headDim: config.headSize, base: config.rotaryBase, maxPositions: config.maxPositionEmbeddings)
    }

    /// Every parameter, named as in transformers' state dict (a tied head is listed once, as the embedding).
    public var parameters: [Tensor] {
        [embed] + blocks.flatMap(\.parameters) + norm.parameters + (config.tieWordEmbeddings ? [] : [head])
    }

    /// Final hidden states [B, T, C] for token ids [B·T]; `positions` (B·T, default 0..<T per row) and
    /// `docStart` (B·T, first attendable position) support packed sequences.
    public func hidden(_ ids: [Int32], batch b: Int, time t: Int, tape: Tape,
                       positions: [Int32]? = nil, docStart: [Int32]? = nil) -> Tensor {
        // Internal invariants: user input is checked before it gets here (checkPrompt, batch validation).
        precondition(b >= 1 && t >= 1 && ids.count == b * t, "Llama.hidden: \(ids.count) ids for B=\(b), T=\(t)")
        precondition(t <= config.maxPositionEmbeddings, "Llama.hidden: T=\(t) exceeds max_position_embeddings=\(config.maxPositionEmbeddings)")
        let pos = positions ?? (0..<b).flatMap { _ in (0..<Int32(t)).map { $0 } }
        var x = tape.embedding(embed, ids)                                                  // [N, C]
        for block in blocks {
            x = block(x, tape, cfg: config, batch: b, time: t, positions: pos, rope: rope, docStart: docStart)
        }
        return tape.reshape(norm(x, tape), [b, t, config.hiddenSize])                        // [B, T, C]
    }

    /// Logits [N, V] = hidden · headᵀ.
    public func logits(_ hidden: Tensor, tape: Tape) -> Tensor {
        tape.linearTransposed(tape.reshape(hidden, [hidden.count / config.hiddenSize, config.hiddenSize]), head)
    }

    /// Next-token cross-entropy of `targets` (B·T; -100 ignored), summed over scored positions and divided by
    /// `normalizer` (default: their count); the LM head and the loss run fused in row chunks unless the tape turns that off.
    public func loss(_ ids: [Int32], targets: [Int32], batch b: Int, time t: Int, tape: Tape, normalizer: Float? = nil,
                     positions: [Int32]? = nil, docStart: [Int32]? = nil) -> Tensor {
        let h = hidden(ids, batch: b, time: t, tape: tape, positions: positions, docStart: docStart)
        guard tape.chunkedLMHeadLoss else { return tape.crossEntropy(logits(h, tape: tape), targets, normalizer: normalizer) }
        return tape.lmHeadCrossEntropy(tape.reshape(h, [h.count / config.hiddenSize, config.hiddenSize]), head, targets, normalizer: normalizer)
    }

    /// Residual and embedding dropout `p` from now on (attention dropout stays off: the fused op has none).
    public func setDropout(_ p: Float) { for b in blocks { b.residDrop = p } }

    public var namedParameters: [String: Tensor] { Dictionary(uniqueKeysWithValues: parameters.map { ($0.name!, $0) }) }

    public func zeroGrad() { for p in parameters { p.zeroGrad() } }

    /// Forward FLOPs per token (matmuls only): 2·(projection params + V·C) plus attention's 2·2·L·T·(H·D).
    public func forwardFlopsPerToken(context t: Int) -> Double {
        let c = Double(config.hiddenSize), f = Double(config.intermediateSize), l = Double(config.numHiddenLayers)
        let q = Double(config.queryWidth), kv = Double(config.kvHeads * config.headSize)
        let matmulParams = l * (2 * c * q + 2 * c * kv + 3 * c * f) + Double(config.vocabSize) * c
        return 2 * matmulParams + 4 * l * Double(t) * q
    }
}
