// Reward-model checkpoints in transformers' GPT2ForSequenceClassification form:
// model.safetensors with the trunk's state-dict names plus `score.weight` [1, C]
// (no lm_head), and config.json = the GPT-2 config with architectures
// ["GPT2ForSequenceClassification"], id2label/label2id for one label (transformers
// derives num_labels from them and writes no num_labels key) and pad_token_id.
// Also starts a reward model from a language-model (GPT2LMHeadModel) checkpoint.
// Leaves out: sharded checkpoints, num_labels > 1, problem_type.

import Foundation
import StrataCore
import StrataTensor
import StrataCheckpoint

extension RewardModel {
    public static let architecture = "GPT2ForSequenceClassification"

    /// The extra config.json fields a sequence-classification checkpoint carries.
    struct HeadFields: Decodable {
        let pad_token_id: Int?
        let num_labels: Int?
        let id2label: [String: String]?
        let architectures: [String]?
    }

    /// Start from a GPT-2 language-model checkpoint: trunk weights loaded from `directory`, a new head.
    /// `padTokenId` defaults to the checkpoint's eos_token_id (TRL's usual choice for GPT-2).
    public static func fromLanguageModel(directory: URL, padTokenId: Int? = nil, head: HeadInit = .normal(seed: 0)) throws -> RewardModel {
        let trunk = try GPT2.load(directory: directory)
        guard let pad = padTokenId ?? trunk.config.eosTokenId else {
            throw StrataError.config("reward model from \(directory.path)", "no pad token: config.json has no eos_token_id",
                                     fix: "pass a pad token id")
        }
        return RewardModel(trunk: trunk, padTokenId: pad, head: head)
    }

    /// Load a checkpoint saved by `save` or by transformers' GPT2ForSequenceClassification (num_labels = 1).
    public static func load(directory: URL) throws -> RewardModel {
        let configURL = directory.appendingPathComponent("config.json")
        let config = try GPT2Config.read(from: configURL)
        let fields = try StrataJSON.read(HeadFields.self, at: configURL)
        let op = "load reward model \(configURL.path)"
        let labels = fields.num_labels ?? fields.id2label?.count ?? 2  // transformers' default is 2 labels
        guard labels == 1 else {
            throw StrataError.config(op, "field 'id2label'/'num_labels' gives \(labels) labels; a reward model has 1",
                                     fix: "save the classifier with num_labels=1")
        }
        guard let pad = fields.pad_token_id else {
            throw StrataError.config(op, "field 'pad_token_id' is missing", fix: "set pad_token_id (transformers needs it to pool batches)")
        }
        let model = RewardModel(trunk: GPT2(config, seed: 0), padTokenId: pad, head: .zero)
        try model.loadWeights(from: directory.appendingPathComponent("model.safetensors"))
        return model
    }

    /// Copy trunk weights and score.weight from a safetensors file; every mismatch names the tensor.
    public func loadWeights(from url: URL) throws {
        let file = try SafeTensors.read(url)
        let op = "load \(url.path)"
        var params = trunk.namedParameters
        params[RewardModel.scoreName] = score
        var seen = Set<String>()
        for stored in file.names {
            if stored.hasSuffix(".attn.bias") || stored.hasSuffix(".attn.masked_bias") { continue }  // causal-mask buffers
            let name = stored == RewardModel.scoreName || stored.hasPrefix("transformer.") ? stored : "transformer." + stored
            guard let p = params[name] else {
                throw StrataError.format(op, "tensor '\(stored)' is not a parameter of \(RewardModel.architecture)",
                                         fix: stored == "lm_head.weight" ? "this is a language model: use RewardModel.fromLanguageModel" : nil)
            }
            try file.require(stored, shape: p.shape)
            try file.requireFloatingPoint(stored, for: "a \(RewardModel.architecture) weight")
            try file.copyValues(of: stored, into: UnsafeMutableBufferPointer(start: p.ptr, count: p.count))
            seen.insert(name)
        }
        if let missing = params.keys.sorted().first(where: { !seen.contains($0) }) {
            throw StrataError.format(op, "tensor '\(missing)' is missing (\(params.count - seen.count) of \(params.count) parameters absent)",
                                     fix: missing == RewardModel.scoreName ? "start from a language model with RewardModel.fromLanguageModel" : nil)
        }
    }

    /// The weights as transformers names them: the trunk's state dict plus score.weight.
    public func weightSources() -> [TensorSource] {
        let head = TensorSource(name: RewardModel.scoreName, shape: score.shape) { [score] body in
            try body(UnsafeBufferPointer(start: score.ptr, count: score.count))
        }
        return trunk.weightSources() + [head]
    }

    /// Write model.safetensors and config.json into `directory` (created if needed).
    public func save(directory: URL, metadata: [String: String] = [:]) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let head = TensorSource(name: RewardModel.scoreName, shape: score.shape) { [score] body in
            try body(UnsafeBufferPointer(start: score.ptr, count: score.count))
        }
        try SafeTensors.write(sources: trunk.weightSources() + [head], metadata: ["format": "pt"].merging(metadata) { $1 },
                              to: directory.appendingPathComponent("model.safetensors"))
        try configJSON().write(to: directory.appendingPathComponent("config.json"), options: .atomic)
    }

    /// The GPT-2 config with the sequence-classification fields merged in, keys sorted.
    public func configJSON() throws -> Data {
        var cfg = config
        cfg.architectures = [RewardModel.architecture]
        let base = try JSONSerialization.jsonObject(with: StrataJSON.encode(cfg))
        guard var dict = base as? [String: Any] else {
            throw StrataError.format("save reward model", "GPT-2 config did not encode as a JSON object")
        }
        dict["id2label"] = ["0": "LABEL_0"]
        dict["label2id"] = ["LABEL_0": 0]
        dict["pad_token_id"] = padTokenId
        return try JSONSerialization.data(withJSONObject: dict, options: [.prettyPrinted, .sortedKeys])
    }
}
