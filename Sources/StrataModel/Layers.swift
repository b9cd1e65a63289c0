// The parameterised layers GPT-2 is built from: Linear (Hugging Face Conv1D
// layout, weight [in, out]) and LayerNorm. Each owns its tensors and names them
// as transformers does, so a model's parameter list is its state dict.
// A Linear may carry a LoRA adapter (LoRA.swift), whose low-rank update is
// added to its output. Leaves out: adapters on LayerNorm or the embeddings.

import StrataCore
import StrataTensor

public final class Linear {
    public let weight: Tensor   // [in, out]
    public let bias: Tensor     // [out]

    public init(_ inFeatures: Int, _ outFeatures: Int, name: String, std: Float, rng: inout StrataRNG) {
        weight = Tensor((0..<(inFeatures * outFeatures)).map { _ in rng.normal() * std }, shape: [inFeatures, outFeatures], requiresGrad: true)
        bias = Tensor(zeros: [outFeatures], requiresGrad: true)
        weight.name = name + ".weight"; bias.name = name + ".bias"
    }

    /// A LoRA adapter attached by `LoRA.attach`; nil for plain (full fine-tuning) layers.
    public internal(set) var adapter: LoRAAdapter?

    /// The module name as transformers spells it (`transformer.h.0.attn.c_attn`).
    public var moduleName: String { String((weight.name ?? "").dropLast(".weight".count)) }

    public func callAsFunction(_ x: Tensor, _ tape: Tape) -> Tensor {
        let y = tape.linear(x, weight, bias)
        guard let adapter else { return y }
        return adapter.apply(x, base: y, tape)
    }
    /// The base parameters (adapter weights are listed by `LoRA.parameters(of:)`, never here).
    public var parameters: [Tensor] { [weight, bias] }
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
