// Loading and saving Llama weights as transformers does: model.safetensors with
// LlamaForCausalLM state-dict names (`model.layers.0.self_attn.q_proj.weight`,
// nn.Linear layout [out, in]) and config.json. A tied model's file may carry
// lm_head.weight too, accepted only when it equals the embedding; the rotary
// inv_freq buffers older files carry are skipped. Every mismatch names the tensor
// and the config field that sizes it.
// Leaves out: sharded checkpoints (model-0000x-of-0000y), PyTorch .bin pickles.

import Foundation
import StrataCore
import StrataTensor
import StrataCheckpoint

extension Llama {
    /// Load config.json and model.safetensors from a directory.
    public static func load(directory: URL) throws -> Llama {
        let config = try LlamaConfig.read(from: directory.appendingPathComponent("config.json"))
        let model = Llama(config, seed: 0)
        try model.loadWeights(from: directory.appendingPathComponent("model.safetensors"))
        return model
    }

    /// Copy weights from a safetensors file into this model's parameters.
    public func loadWeights(from url: URL) throws {
        let file = try SafeTensors.read(url)
        let op = "load \(url.path)"
        let params = namedParameters
        let what = "a Llama weight (config.json: model_type llama)"
        var seen = Set<String>()
        for name in file.names {
            if name.hasSuffix("rotary_emb.inv_freq") { continue }                      // recomputed from rope_theta
            if name == "lm_head.weight" && config.tieWordEmbeddings { continue }       // checked against the embedding below
            guard let p = params[name] else {
                let hint = name == "lm_head.weight" ? "config.json says tie_word_embeddings: true but the file has an lm_head.weight; set it to false"
                    : name.hasSuffix(".bias") ? "config.json's attention_bias / mlp_bias say this layer has no bias; set the flag to true"
                    : "is this a LlamaForCausalLM checkpoint (model_type llama)?"
                throw StrataError.format(op, "tensor '\(name)' is not a parameter of this Llama", fix: hint)
            }
            let info = file.info(name)!
            guard info.shape == p.shape else {
                throw StrataError.shape(op, "tensor '\(name)' has shape \(info.shape) but config.json implies \(p.shape)",
                                        fix: "check \(Llama.configField(for: name)) in config.json")
            }
            try file.requireFloatingPoint(name, for: what)
            try file.copyValues(of: name, into: UnsafeMutableBufferPointer(start: p.ptr, count: p.count))
            seen.insert(name)
        }
        if let missing = params.keys.sorted().first(where: { !seen.contains($0) }) {
            let fix = missing == "lm_head.weight" ? "the file has no lm_head.weight: if the head is tied, set tie_word_embeddings: true in config.json"
                : missing.hasSuffix(".bias") ? "the file has no biases: set attention_bias / mlp_bias to false in config.json" : nil
            throw StrataError.format(op, "tensor '\(missing)' is missing (\(params.count - seen.count) of \(params.count) parameters absent)", fix: fix)
        }
        if config.tieWordEmbeddings, file.names.contains("lm_head.weight") {
            try file.requireFloatingPoint("lm_head.weight", for: what)
            if try file.tensor("lm_head.weight", shape: embed.shape).values != embed.toArray() {
                throw StrataError.format(op, "lm_head.weight differs from model.embed_tokens.weight but config.json ties them",
                                         fix: "set tie_word_embeddings: false in config.json")
            }
        }
    }


    static func configField(for name: String) -> String {
        if name.hasSuffix("embed_tokens.weight") || name == "lm_head.weight" { return "vocab_size / hidden_size" }
        if name.contains("mlp.") { return "hidden_size / intermediate_size" }
        if name.contains("k_proj") || name.contains("v_proj") { return "hidden_size / num_key_value_heads / head_dim" }
        if name.contains("self_attn") { return "hidden_size / num_attention_heads / head_dim" }
        return "hidden_size"
    }
}
