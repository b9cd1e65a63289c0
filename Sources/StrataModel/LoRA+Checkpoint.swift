// LoRA inside a training checkpoint: model.safetensors holds the merged weights
// W + (alpha/r)·A·B (computed while writing, the model itself stays unmerged) so
// every checkpoint loads in transformers and later stages as a plain GPT-2; the
// adapter is saved beside it in PEFT's format under checkpoint names (lora_adapter_*:
// transformers would apply a file named adapter_config.json found next to the
// merged weights a second time); and the unmerged base weights of the
// adapted modules go to lora_base.safetensors, so a resumed run continues bit-exactly.
// Leaves out: quantised bases (QLoRA).

import Foundation
import StrataCore
import StrataTensor
import StrataCheckpoint

extension LoRA {
    /// File holding the unmerged base weights of the adapted modules (for resuming).
    public static let baseFile = "lora_base.safetensors"
    /// The adapter's files inside a training checkpoint (PEFT's adapter_model.safetensors / adapter_config.json,
    /// renamed so transformers does not stack the adapter on the merged weights; copy them under PEFT's names to use PEFT).
    public static let checkpointWeightsFile = "lora_adapter_model.safetensors"
    public static let checkpointConfigFile = "lora_adapter_config.json"

    /// The model's weights with every adapter folded in, as `LoRA.merge` would leave them.
    public static func mergedWeightSources(_ model: any CausalLM) -> [TensorSource] {
        let adaptedByWeight = Dictionary(uniqueKeysWithValues: adapted(model).map { ($0.weight.name!, $0) })
        return model.parameters.map { p in
            guard let linear = adaptedByWeight[p.name!] else {
                return TensorSource(name: p.name!, shape: p.shape) { body in try body(UnsafeBufferPointer(start: p.ptr, count: p.count)) }
            }
            return TensorSource(name: p.name!, shape: p.shape) { body in
                var merged = linear.weight.toArray()
                merged.withUnsafeMutableBufferPointer { linear.addUpdate(linear.adapter!.delta(), into: $0.baseAddress!) }
                try merged.withUnsafeBufferPointer { try body($0) }
            }
        }
    }

    /// PEFT's adapter tensors (transposed to its [r, in] / [out, r] layout) and adapter_config.json bytes.
    public static func adapterFiles(_ model: any CausalLM, baseModel: String? = nil) throws -> (sources: [TensorSource], config: Data) {
        guard let config = config(of: model) else {
            throw StrataError(.state, "save LoRA adapters", "the model carries no LoRA adapters", fix: "attach adapters (LoRA.attach) first")
        }
        var sources: [TensorSource] = []
        for linear in adapted(model) {
            let ad = linear.adapter!, names = peftNames(linear.moduleName)
            sources.append(transposedSource(names.a, ad.a))
            sources.append(transposedSource(names.b, ad.b))
        }
        var peft = PEFTAdapterConfig(config, baseModel: baseModel)
        peft.fanInFanOut = !(adapted(model).first?.outFirst ?? false)   // PEFT: true for Conv1D targets, false for nn.Linear
        return (sources, try StrataJSON.encode(peft))
    }

    /// The unmerged base weights of the adapted modules, under their transformers names.
    public static func baseSources(_ model: any CausalLM) -> [TensorSource] {
        adapted(model).map { l in
            TensorSource(name: l.weight.name!, shape: l.weight.shape) { body in
                try body(UnsafeBufferPointer(start: l.weight.ptr, count: l.weight.count))
            }
        }
    }

    /// Overwrite the adapted modules' base weights from a `lora_base.safetensors` file.
    public static func restoreBase(_ model: any CausalLM, from url: URL) throws {
        let file = try SafeTensors.read(url)
        for l in adapted(model) {
            _ = try file.require(l.weight.name!, shape: l.weight.shape)
            try file.requireFloatingPoint(l.weight.name!, for: "a LoRA base weight")
            try file.copyValues(of: l.weight.name!, into: UnsafeMutableBufferPointer(start: l.weight.ptr, count: l.weight.count))
        }
    }
}

extension LoRA {
    /// Re-attach a checkpoint's adapter to `model` (loaded from that checkpoint's merged weights) and put the
    /// unmerged base weights back, leaving the model exactly as it was in training. Returns the adapter tensors.
    @discardableResult
    public static func restoreBaseAndAttach(_ model: any CausalLM, checkpoint dir: URL) throws -> [Tensor] {
        let params = try load(into: model, from: dir, files: (checkpointWeightsFile, checkpointConfigFile))
        try restoreBase(model, from: dir.appendingPathComponent(baseFile))
        return params
    }
}
