// The parameterised layers GPT-2 is built from: Linear (Hugging Face Conv1D
// layout, weight [in, out]) and LayerNorm. Each owns its tensors and names them
// as transformers does, so a model's parameter list is its state dict.
// Leaves out: LoRA adapters (they attach to Linear in the SFT stage).

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

    public func callAsFunction(_ x: Tensor, _ tape: Tape) -> Tensor { tape.linear(x, weight, bias) }
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
