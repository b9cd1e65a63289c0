// GPT-2: learned token and position embeddings, L pre-LayerNorm transformer
// blocks (fused causal self-attention, tanh-GELU MLP), a final LayerNorm and an
// LM head tied to the token embedding. Parameter names and layouts are exactly
// transformers' GPT2LMHeadModel, so its safetensors load as they are.
// Shapes: B batch, T time, C n_embd, V vocab, L layers, H heads, N = B·T.
// Leaves out: attention dropout inside the fused op (attn_pdrop is ignored),
// untied heads, cross-attention.

import StrataCore
import StrataTensor

public final class Block {
    public let ln1: LayerNorm, attn: Linear, attnProj: Linear
    public let ln2: LayerNorm, fc: Linear, fcProj: Linear
    let heads: Int
    var residDrop: Float

    init(_ cfg: GPT2Config, index i: Int, rng: inout StrataRNG) {
        let c = cfg.nEmbd, p = "transformer.h.\(i)."
        let std = cfg.initializerRange, projStd = std / (2 * Float(cfg.nLayer)).squareRoot()
        ln1 = LayerNorm(c, name: p + "ln_1", eps: cfg.layerNormEpsilon)
        attn = Linear(c, 3 * c, name: p + "attn.c_attn", std: std, rng: &rng)
        attnProj = Linear(c, c, name: p + "attn.c_proj", std: projStd, rng: &rng)
        ln2 = LayerNorm(c, name: p + "ln_2", eps: cfg.layerNormEpsilon)
        fc = Linear(c, cfg.innerSize, name: p + "mlp.c_fc", std: std, rng: &rng)
        fcProj = Linear(cfg.innerSize, c, name: p + "mlp.c_proj", std: projStd, rng: &rng)
        heads = cfg.nHead; residDrop = cfg.residPdrop
    }

    /// x: [B, T, C] → [B, T, C]
    ///   x = x + proj(attention(qkv(ln1(x))))
    ///   x = x + proj(gelu(fc(ln2(x))))
    func callAsFunction(_ x: Tensor, _ t: Tape, docStart: [Int32]?) -> Tensor {
        let a = attnProj(t.attention(attn(ln1(x, t), t), heads: heads, docStart: docStart), t)
        let x = t.add(x, t.dropout(a, p: residDrop))
        let m = fcProj(t.gelu(fc(ln2(x, t), t)), t)
        return t.add(x, t.dropout(m, p: residDrop))
    }

    var parameters: [Tensor] { ln1.parameters + attn.parameters + attnProj.parameters + ln2.parameters + fc.parameters + fcProj.parameters }
}

public final class GPT2 {
    public private(set) var config: GPT2Config
    public let wte: Tensor      // [V, C] token embedding, also the LM head
    public let wpe: Tensor      // [T_max, C] position embedding
    public let blocks: [Block]
    public let lnF: LayerNorm
    /// KV-cache decoding through batched products (prefill packed through the tiled kernel, one product per layer
    /// per step for all rows); off, every decode call attends per row and head (the reference path).
    public var batchedDecoding = true

    /// A randomly initialised model (GPT-2's scheme: N(0, 0.02), residual projections scaled by 1/√(2L)).
    public init(_ config: GPT2Config, seed: UInt64) {
        self.config = config
        var rng = StrataRNG(seed: seed)
        let c = config.nEmbd, std = config.initializerRange
        wte = Tensor((0..<(config.vocabSize * c)).map { _ in rng.normal() * std }, shape: [config.vocabSize, c], requiresGrad: true)
        wpe = Tensor((0..<(config.nPositions * c)).map { _ in rng.normal() * std }, shape: [config.nPositions, c], requiresGrad: true)
        wte.name = "transformer.wte.weight"; wpe.name = "transformer.wpe.weight"
        blocks = (0..<config.nLayer).map { Block(config, index: $0, rng: &rng) }
        lnF = LayerNorm(c, name: "transformer.ln_f", eps: config.layerNormEpsilon)
    }

    /// Every parameter, named as in transformers' state dict (the tied lm_head.weight is wte).
    public var parameters: [Tensor] { [wte, wpe] + blocks.flatMap(\.parameters) + lnF.parameters }

    /// Final hidden states [B, T, C] for token ids [B·T]. `positions` (B·T, default 0..<T per row) and
    /// `docStart` (B·T, first attendable position) support packed sequences.
    public func hidden(_ ids: [Int32], batch b: Int, time t: Int, tape: Tape,
                       positions: [Int32]? = nil, docStart: [Int32]? = nil) -> Tensor {
        // Internal invariants: user input is checked before it gets here (GPT2.checkPrompt, SequenceBatch.validate,
        // shards validated on open), so these fire only on a bug in Strata itself.
        precondition(b >= 1 && t >= 1 && ids.count == b * t, "GPT2.hidden: \(ids.count) ids for B=\(b), T=\(t)")
        precondition(t <= config.nPositions, "GPT2.hidden: T=\(t) exceeds n_positions=\(config.nPositions)")
        let tok = tape.embedding(wte, ids)                                        // [N, C]
        let pos = positions.map { tape.embedding(wpe, $0) }                        // [N, C]
            ?? tape.embedding(wpe, (0..<Int32(t)).map { $0 })                     // [T, C], repeats over B
        var x = tape.reshape(tape.dropout(tape.add(tok, pos), p: config.embdPdrop), [b, t, config.nEmbd])
        for block in blocks { x = block(x, tape, docStart: docStart) }
        return lnF(x, tape)                                                        // [B, T, C]
    }

    /// Logits [N, V] = hidden · wteᵀ (the tied LM head).
    public func logits(_ hidden: Tensor, tape: Tape) -> Tensor {
        tape.linearTransposed(tape.reshape(hidden, [hidden.count / config.nEmbd, config.nEmbd]), wte)
    }

    /// Next-token cross-entropy of `targets` (B·T; -100 ignored) given `ids`, summed over scored positions and
    /// divided by `normalizer` (default: their count). `positions`/`docStart` as in `hidden` (packed rows).
    /// The LM head and cross-entropy run fused in row chunks (no [N, V] logits) unless the tape turns that off.
    public func loss(_ ids: [Int32], targets: [Int32], batch b: Int, time t: Int, tape: Tape, normalizer: Float? = nil,
                     positions: [Int32]? = nil, docStart: [Int32]? = nil) -> Tensor {
        let h = hidden(ids, batch: b, time: t, tape: tape, positions: positions, docStart: docStart)
        guard tape.chunkedLMHeadLoss else { return tape.crossEntropy(logits(h, tape: tape), targets, normalizer: normalizer) }
        return tape.lmHeadCrossEntropy(tape.reshape(h, [h.count / config.nEmbd, config.nEmbd]), wte, targets, normalizer: normalizer)
    }

    /// Train with residual and embedding dropout `p` from now on (attention dropout stays off: the fused op has none);
    /// config.json records the rates. A stage's recipe decides them, whatever the checkpoint's config said.
    public func setDropout(_ p: Float) {
        config.residPdrop = p; config.embdPdrop = p; config.attnPdrop = 0
        for b in blocks { b.residDrop = p }
    }

    /// Parameters by name, for checkpoint I/O.
    public var namedParameters: [String: Tensor] {
        Dictionary(uniqueKeysWithValues: parameters.map { ($0.name!, $0) })
    }

    public func zeroGrad() { for p in parameters { p.zeroGrad() } }

    /// Forward FLOPs per token (matmuls only, as in the PaLM/Chinchilla accounting): 2·(non-embedding params + V·C)
    /// plus attention's 2·2·L·T·C. Training is 3× this.
    public func forwardFlopsPerToken(context t: Int) -> Double {
        let c = Double(config.nEmbd), l = Double(config.nLayer), f = Double(config.innerSize)
        let matmulParams = l * (c * 3 * c + c * c + 2 * c * f) + Double(config.vocabSize) * c
        return 2 * matmulParams + 4 * l * Double(t) * c
    }
}
