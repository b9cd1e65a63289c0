// Loading and saving GPT-2 weights as transformers does: model.safetensors with
// state-dict names (`transformer.h.0.attn.c_attn.weight`, Conv1D layout) and
// config.json. Reads checkpoints saved with or without the `transformer.`
// prefix (the original GPT-2 release has none), skips the attention-mask
// buffers older files carry, and accepts an lm_head.weight only when it equals
// the tied embedding. Every mismatch names the tensor and the config field.
// Leaves out: sharded checkpoints (model-0000x-of-0000y), PyTorch .bin pickles.

import Foundation
import StrataCore
import StrataTensor
import StrataCheckpoint

extension GPT2 {
    /// Load config.json and model.safetensors from a directory.
    public static func load(directory: URL) throws -> GPT2 {
        let config = try GPT2Config.read(from: directory.appendingPathComponent("config.json"))
        let model = GPT2(config, seed: 0)
        try model.loadWeights(from: directory.appendingPathComponent("model.safetensors"))
        return model
    }

    /// Copy weights from a safetensors file into this model's parameters.
    public func loadWeights(from url: URL) throws {
        let file = try SafeTensors.read(url)
        let op = "load \(url.path)"
        let params = namedParameters
        var seen = Set<String>()
        for stored in file.names {
            let name = stored.hasPrefix("transformer.") || stored.hasPrefix("lm_head.") ? stored : "transformer." + stored
            if name.hasSuffix(".attn.bias") || name.hasSuffix(".attn.masked_bias") { continue }  // causal-mask buffers
            if name == "lm_head.weight" { continue }  // checked against wte below
            guard let p = params[name] else {
                throw StrataError.format(op, "tensor '\(stored)' is not a GPT-2 parameter", fix: "is this a GPT-2 checkpoint (model_type gpt2)?")
            }
            let info = file.info(stored)!
            guard info.shape == p.shape else {
                throw StrataError.shape(op, "tensor '\(stored)' has shape \(info.shape) but config.json implies \(p.shape)",
                                        fix: "check \(GPT2.configField(for: name)) in config.json")
            }
            try file.requireFloatingPoint(stored, for: "a GPT-2 weight (config.json: model_type gpt2)")
            try file.copyValues(of: stored, into: UnsafeMutableBufferPointer(start: p.ptr, count: p.count))
            seen.insert(name)
        }
        if let missing = params.keys.sorted().first(where: { !seen.contains($0) }) {
            throw StrataError.format(op, "tensor '\(missing)' is missing (\(params.count - seen.count) of \(params.count) parameters absent)")
        }
        if let head = file.names.first(where: { $0 == "lm_head.weight" }) {
            try file.requireFloatingPoint(head, for: "a GPT-2 weight (config.json: model_type gpt2)")
            let t = try file.tensor(head, shape: wte.shape)
            if t.values != wte.toArray() {
                throw StrataError.format(op, "lm_head.weight differs from transformer.wte.weight", fix: "Strata ties the LM head to the embedding (tie_word_embeddings)")
            }
        }
    }


    static func configField(for name: String) -> String {
        if name.hasSuffix("wte.weight") { return "vocab_size / n_embd" }
        if name.hasSuffix("wpe.weight") { return "n_positions / n_embd" }
        if name.contains("mlp") { return "n_embd / n_inner" }
        return "n_embd"
    }
}
