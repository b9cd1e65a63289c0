// Reward-model checkpoints in transformers' GPT2ForSequenceClassification (or
// LlamaForSequenceClassification) form: model.safetensors with the trunk's
// state-dict names plus `score.weight` [1, C] (no lm_head), and config.json = the
// trunk's config with architectures [that class], id2label/label2id for one label
// (transformers derives num_labels from them and writes no num_labels key) and
// pad_token_id. Also starts a reward model from a language-model checkpoint.
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

    /// Whether config.json at `url` describes a reward model (a sequence-classification architecture).
    public static func isRewardCheckpoint(configAt url: URL) throws -> Bool {
        let family = try ModelFamily.of(configAt: url)
        return try StrataJSON.read(HeadFields.self, at: url).architectures?.contains(family.sequenceClassificationArchitecture) ?? false
    }

    /// Start from a language-model checkpoint (GPT-2 or Llama): trunk weights loaded from `directory`, a new head.
    /// `padTokenId` defaults to the checkpoint's eos_token_id (TRL's usual choice for GPT-2).
    public static func fromLanguageModel(directory: URL, padTokenId: Int? = nil, head: HeadInit = .normal(seed: 0)) throws -> RewardModel {
        let trunk = try loadCausalLM(directory: directory)
        guard let pad = padTokenId ?? trunk.eosTokenID else {
            throw StrataError.config("reward model from \(directory.path)", "no pad token: config.json has no eos_token_id",
                                     fix: "pass a pad token id")
        }
        return RewardModel(trunk: trunk, padTokenId: pad, head: head)
    }

    /// Load a checkpoint saved by `save` or by transformers' GPT2/LlamaForSequenceClassification (num_labels = 1).
    public static func load(directory: URL) throws -> RewardModel {
        let configURL = directory.appendingPathComponent("config.json")
        let trunk = try initCausalLM(configAt: configURL, seed: 0)
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
        let model = RewardModel(trunk: trunk, padTokenId: pad, head: .zero)
        try model.loadWeights(from: directory.appendingPathComponent("model.safetensors"))
        return model
    }

    /// Copy trunk weights and score.weight from a safetensors file; every mismatch names the tensor.
    public func loadWeights(from url: URL) throws {
        let file = try SafeTensors.read(url)
        let op = "load \(url.path)"
        var params = Dictionary(uniqueKeysWithValues: trunk.trunkParameters.map { ($0.name!, $0) })
        params[RewardModel.scoreName] = score
        let gpt2 = trunk.family == .gpt2
        var seen = Set<String>()
        for stored in file.names {
            if gpt2 && (stored.hasSuffix(".attn.bias") || stored.hasSuffix(".attn.masked_bias")) { continue }  // causal-mask buffers
            if stored.hasSuffix("rotary_emb.inv_freq") { continue }                                             // recomputed
            let name = !gpt2 || stored == RewardModel.scoreName || stored.hasPrefix("transformer.") ? stored : "transformer." + stored
            guard let p = params[name] else {
                throw StrataError.format(op, "tensor '\(stored)' is not a parameter of \(architectureName)",
                                         fix: stored == "lm_head.weight" ? "this is a language model: use RewardModel.fromLanguageModel" : nil)
            }
            try file.require(stored, shape: p.shape)
            try file.requireFloatingPoint(stored, for: "a \(architectureName) weight")
            try file.copyValues(of: stored, into: UnsafeMutableBufferPointer(start: p.ptr, count: p.count))
            seen.insert(name)
        }
        if let missing = params.keys.sorted().first(where: { !seen.contains($0) }) {
            throw StrataError.format(op, "tensor '\(missing)' is missing (\(params.count - seen.count) of \(params.count) parameters absent)",
                                     fix: missing == RewardModel.scoreName ? "start from a language model with RewardModel.fromLanguageModel" : nil)
        }
    }

    /// The weights as transformers names them: the trunk's state dict (no LM head) plus score.weight.
    public func weightSources() -> [TensorSource] {
        let head = TensorSource(name: RewardModel.scoreName, shape: score.shape) { [score] body in
            try body(UnsafeBufferPointer(start: score.ptr, count: score.count))
        }
        let names = Set(trunk.trunkParameters.map { $0.name! })
        return trunk.weightSources().filter { names.contains($0.name) } + [head]
    }

    /// Write model.safetensors and config.json into `directory` (created if needed).
    public func save(directory: URL, metadata: [String: String] = [:]) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try SafeTensors.write(sources: weightSources(), metadata: ["format": "pt"].merging(metadata) { $1 },
                              to: directory.appendingPathComponent("model.safetensors"))
        try configJSON().write(to: directory.appendingPathComponent("config.json"), options: .atomic)
    }

    /// The trunk's config with the sequence-classification fields merged in, keys sorted.
    public func configJSON() throws -> Data {
        let base = try JSONSerialization.jsonObject(with: trunk.configData())
        guard var dict = base as? [String: Any] else {
            throw StrataError.format("save reward model", "the trunk's config did not encode as a JSON object")
        }
        dict["architectures"] = [architectureName]
        dict["id2label"] = ["0": "LABEL_0"]
        dict["label2id"] = ["LABEL_0": 0]
        dict["pad_token_id"] = padTokenId
        return try JSONSerialization.data(withJSONObject: dict, options: [.prettyPrinted, .sortedKeys])
    }
}
