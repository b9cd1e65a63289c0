// The parameterised layers the decoders are built from: Linear (Hugging Face
// Conv1D layout, weight [in, out], as GPT-2; or nn.Linear layout, weight [out, in]
// with an optional bias, as Llama) and LayerNorm. Each owns its tensors and names
// them as transformers does, so a model's parameter list is its state dict.
// A Linear may carry a LoRA adapter (LoRA.swift), whose low-rank update is
// added to its output. Leaves out: adapters on LayerNorm or the embeddings.

import StrataCore
import StrataTensor

public final class Linear {
    public let weight: Tensor   // [in, out] (Conv1D) or [out, in] (nn.Linear, `outFirst`)
    public let bias: Tensor?    // [out]
    /// nn.Linear layout: weight stored [out, in], y = x·Wᵀ + b.
    public let outFirst: Bool

    /// A Conv1D-layout layer with a bias (GPT-2).
    public init(_ inFeatures: Int, _ outFeatures: Int, name: String, std: Float, rng: inout StrataRNG) {
        weight = Tensor((0..<(inFeatures * outFeatures)).map { _ in rng.normal() * std }, shape: [inFeatures, outFeatures], requiresGrad: true)
        bias = Tensor(zeros: [outFeatures], requiresGrad: true)
        weight.name = name + ".weight"; bias?.name = name + ".bias"
        outFirst = false
    }

    /// An nn.Linear-layout layer (weight [out, in]), with or without a bias (Llama).
    public init(nnLinear inFeatures: Int, _ outFeatures: Int, name: String, bias hasBias: Bool, std: Float, rng: inout StrataRNG) {
        weight = Tensor((0..<(inFeatures * outFeatures)).map { _ in rng.normal() * std }, shape: [outFeatures, inFeatures], requiresGrad: true)
        bias = hasBias ? Tensor(zeros: [outFeatures], requiresGrad: true) : nil
        weight.name = name + ".weight"; bias?.name = name + ".bias"
        outFirst = true
    }

    public var inFeatures: Int { weight.shape[outFirst ? 1 : 0] }
    public var outFeatures: Int { weight.shape[outFirst ? 0 : 1] }

    /// weight += d for a Conv1D-oriented update d [in, out] (transposed into an nn.Linear weight).
    func addUpdate(_ delta: Tensor, into w: UnsafeMutablePointer<Float>) {
        let i = inFeatures, o = outFeatures
        withExtendedLifetime(delta) {
            let d = delta.ptr
            if !outFirst { for k in 0..<(i * o) { w[k] += d[k] }; return }
            for r in 0..<i { for c in 0..<o { w[c * i + r] += d[r * o + c] } }
        }
    }

    /// A LoRA adapter attached by `LoRA.attach`; nil for plain (full fine-tuning) layers.
    public internal(set) var adapter: LoRAAdapter?

    /// The module name as transformers spells it (`transformer.h.0.attn.c_attn`).
    public var moduleName: String { String((weight.name ?? "").dropLast(".weight".count)) }

    public func callAsFunction(_ x: Tensor, _ tape: Tape) -> Tensor {
        let y = outFirst ? bias.map { tape.add(tape.linearTransposed(x, weight), $0) } ?? tape.linearTransposed(x, weight)
            : tape.linear(x, weight, bias)
        guard let adapter else { return y }
        return adapter.apply(x, base: y, tape)
    }
    /// The base parameters (adapter weights are listed by `LoRA.parameters(of:)`, never here).
    public var parameters: [Tensor] { [weight] + (bias.map { [$0] } ?? []) }
}

public final class LayerNorm {
    public let weight: Tensor   // [C]
    public let bias: Tensor     // [C]
    public let eps: Float

    public init(_ c: Int, name: String, eps: Float) {
        weight = Tensor([Float](repeating: 1, count: c), shape: [c], requiresGrad: true)
        bias = Tensor(zeros: [c], requiresGrad: true)
        weight.name = name + ".weight"; bias.name = name + ".bias"
        self.eps = eps
    }

    public func callAsFunction(_ x: Tensor, _ tape: Tape) -> Tensor { tape.layerNorm(x, weight, bias, eps: eps) }
    public var parameters: [Tensor] { [weight, bias] }
}
