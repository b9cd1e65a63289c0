// Writing and reading training checkpoints: each is a directory in the run's
// checkpoint trail holding model.safetensors + config.json + tokenizer.json
// (loadable by transformers as they are), optimizer.safetensors (AdamW moments),
// trainer_state.json, lineage.json, and the store's manifest of sha256 checksums.
// Leaves out: sharded weights, optimizer state for data-parallel ranks.

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataCheckpoint
import StrataTokenizer

public enum TrainingCheckpoint {
    public static func name(step: Int) -> String { String(format: "step-%07d", step) }

    /// The files of one checkpoint: the stage's model files, then the shared ones.
    static func files(content: CheckpointContent, optimizer: AdamW, tokenizer: BPETokenizer, state: TrainerState,
                      lineage: Lineage) throws -> [CheckpointFile] {
        let optSources = zip(optimizer.parameters, zip(optimizer.expAvg, optimizer.expAvgSq)).flatMap { p, mv -> [TensorSource] in
            let (m, v) = mv
            return [TensorSource(name: "exp_avg." + p.name!, shape: m.shape) { body in try body(UnsafeBufferPointer(start: m.ptr, count: m.count)) },
                    TensorSource(name: "exp_avg_sq." + p.name!, shape: v.shape) { body in try body(UnsafeBufferPointer(start: v.ptr, count: v.count)) }]
        }
        return try content.files() + [
            .data("tokenizer.json", Data(tokenizer.jsonString().utf8)),
            .safetensors("optimizer.safetensors", sources: optSources, metadata: ["step": String(optimizer.step)]),
            .data(TrainerState.fileName, try StrataJSON.encode(state)),
            .data(Lineage.fileName, try StrataJSON.encode(lineage)),
        ]
    }

    /// Verify a checkpoint directory against its manifest (refusing incomplete or corrupt ones).
    public static func verify(_ dir: URL) throws -> Checkpoint {
        let dir = dir.standardizedFileURL
        let store = try CheckpointStore(root: dir.deletingLastPathComponent())
        return try store.verify(dir.lastPathComponent)
    }

    /// A checkpoint directory from a path that may be a run directory (uses its latest valid checkpoint),
    /// a checkpoints/ directory, or a checkpoint itself.
    public static func resolve(_ path: String) throws -> Checkpoint {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let fm = FileManager.default
        if fm.fileExists(atPath: url.appendingPathComponent("manifest.json").path) { return try verify(url) }
        // A Hugging Face directory (save_pretrained + tokenizer.json) without Strata's manifest.
        let hf = ["model.safetensors", "config.json", "tokenizer.json"]
        if hf.allSatisfy({ fm.fileExists(atPath: url.appendingPathComponent($0).path) }) {
            return try Checkpoint.unmanaged(url, files: hf)
        }
        for root in [url.appendingPathComponent("checkpoints"), url] where fm.fileExists(atPath: root.path) {
            let store = try CheckpointStore(root: root)
            let warn = { (name: String, err: Error) in
                FileHandle.standardError.write(Data("warning: skipping checkpoint \(name) in \(root.path): \(err)\n".utf8))
            }
            if let latest = store.latestValid(onSkip: warn) { return latest }
        }
        throw StrataError.io("open checkpoint \(path)", "no valid checkpoint found there",
                             fix: "pass a checkpoint directory (with manifest.json) or a run directory that has checkpoints/")
    }

    /// Load model weights, tokenizer, lineage and (optionally) optimizer + trainer state.
    public struct Loaded {
        public var checkpoint: Checkpoint
        public var model: any CausalLM
        public var tokenizer: BPETokenizer
        public var lineage: Lineage
        public var state: TrainerState?
        /// The reward model, when the checkpoint is one (config.json architectures GPT2/LlamaForSequenceClassification);
        /// `model` is then its trunk.
        public var reward: RewardModel?
        /// sha256 of model.safetensors, from the manifest (the checkpoint's content hash).
        public var contentHash: String { checkpoint.manifest.files["model.safetensors"]?.sha256 ?? "" }
        public var id: String { lineage.head?.checkpointID ?? checkpoint.url.path }
    }

    public static func load(_ ckpt: Checkpoint) throws -> Loaded {
        let reward = try RewardModel.isRewardCheckpoint(configAt: ckpt.url(for: "config.json")) ? RewardModel.load(directory: ckpt.url) : nil
        let model: any CausalLM = try reward?.trunk ?? loadCausalLM(directory: ckpt.url)
        let tokenizer = try BPETokenizer(contentsOf: ckpt.url(for: "tokenizer.json"))
        let lineage = try lineageWithEvaluations(ckpt.url)
        let stateURL = ckpt.url(for: TrainerState.fileName)
        let state = FileManager.default.fileExists(atPath: stateURL.path) ? try StrataJSON.read(TrainerState.self, at: stateURL) : nil
        return Loaded(checkpoint: ckpt, model: model, tokenizer: tokenizer, lineage: lineage, state: state, reward: reward)
    }

    /// Copy saved AdamW moments into `optimizer` (same parameter names and shapes).
    public static func restoreOptimizer(_ optimizer: AdamW, from ckpt: Checkpoint) throws {
        let url = ckpt.url(for: "optimizer.safetensors")
        let file = try SafeTensors.read(url)
        for (i, p) in optimizer.parameters.enumerated() {
            for (prefix, t) in [("exp_avg.", optimizer.expAvg[i]), ("exp_avg_sq.", optimizer.expAvgSq[i])] {
                _ = try file.require(prefix + p.name!, shape: t.shape)
                try file.copyValues(of: prefix + p.name!, into: UnsafeMutableBufferPointer(start: t.ptr, count: t.count))
            }
        }
        guard let s = file.metadata["step"], let step = Int(s) else {
            throw StrataError.format("read \(url.path)", "metadata field 'step' is missing or not an integer")
        }
        optimizer.step = step
    }

    /// Copy weights from one model into another of the same configuration.
    public static func copyWeights(from src: any CausalLM, to dst: any CausalLM) {
        for (a, b) in zip(src.parameters, dst.parameters) { b.copy(from: a) }
    }
}

/// What a stage's checkpoints hold besides the shared files (tokenizer, optimizer moments, trainer state,
/// lineage), and how its weights come back from a checkpoint on rollback.
public struct CheckpointContent {
    /// The model's files (model.safetensors, config.json) and the stage's own (tokenizer_config.json, adapters...).
    public var files: () throws -> [CheckpointFile]
    /// Copy the weights saved in a checkpoint back into the live model.
    public var restore: (Checkpoint) throws -> Void

    public init(files: @escaping () throws -> [CheckpointFile], restore: @escaping (Checkpoint) throws -> Void) {
        self.files = files; self.restore = restore
    }

    /// A GPT-2 language model; with LoRA adapters attached, model.safetensors holds the merged weights so every
    /// checkpoint loads as a plain GPT-2. `extra` adds the stage's own files.
    public static func languageModel(_ model: any CausalLM, extra: @escaping () throws -> [CheckpointFile] = { [] }) -> CheckpointContent {
        CheckpointContent(files: {
            [.safetensors("model.safetensors", sources: LoRA.isAttached(model) ? LoRA.mergedWeightSources(model) : model.weightSources(),
                          metadata: ["format": "pt"]),
             .data("config.json", try model.configData())] + (try extra())
        }, restore: { ckpt in
            TrainingCheckpoint.copyWeights(from: try TrainingCheckpoint.load(ckpt).model, to: model)
        })
    }
}
