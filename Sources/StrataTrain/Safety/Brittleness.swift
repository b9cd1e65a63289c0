// The brittleness probe: fine-tune a copy of a checkpoint for a few steps on benign
// instruction data only — ordinary SFT, nothing about refusals — and measure the
// refusal of plain harmful requests again. Safety that is a property of the model
// survives; a performed pattern is erased by a handful of unrelated updates. The
// probe runs the real SFT stage (`SFT.run`) into a temporary run directory, from the
// checkpoint as --from (never written to), with a recipe of its own (full fine-tuning
// at a constant LR by default, or the user's SFT recipe — LoRA if it says so — with
// the steps, data and run directory overridden), then deletes the directory. The
// recipe it ran is kept in the result.
// Leaves out: probing with harmful data (the point is that benign data suffices).

import Foundation
import StrataCore
import StrataEval
import StrataData

public struct BrittlenessResult: Codable, Equatable, Sendable {
    public var steps: Int
    public var data: String
    public var dataSHA256: String
    /// The resolved recipe the probe trained with (YAML).
    public var recipe: String
    public var refusalBefore: Double
    public var refusalAfter: Double
    public var harmfulCount: Int
}

public enum Brittleness {
    public struct Config: Sendable {
        public var steps: Int
        /// Benign chat JSONL (TRL messages), e.g. the world's sft_before_cutoff.jsonl.
        public var data: String
        public var lr = 1e-3
        public var batchSize = 8
        public var seed = 0
        /// Tokens per row of the default recipe (the checkpoint's n_positions).
        public var context = 128
        /// An SFT recipe to use instead of the default (its steps, data and run directory are overridden).
        public var recipe: String?
        public init(steps: Int, data: String) { self.steps = steps; self.data = data }
    }

    /// Fine-tunes a copy of `checkpoint` on `config.data` and measures plain-harmful refusal before (given) and after.
    public static func probe(checkpoint: String, plainHarmful: [BehaviourPrompt], refusalBefore: Double, config c: Config,
                             eval: BehaviourEval.Config, log: (String) -> Void) throws -> BrittlenessResult {
        guard c.steps >= 1 else { throw StrataError.config("brittleness probe", "--brittleness \(c.steps): give at least 1 step") }
        guard !plainHarmful.isEmpty else {
            throw StrataError.data("brittleness probe", "the attack set has no plain harmful requests to measure",
                                   fix: "use an attack set with \"family\": \"plain\" harmful prompts (strata data synth writes one)")
        }
        let dataURL = URL(fileURLWithPath: c.data)
        let sha = try SHA256.hex(fileAt: dataURL)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("strata-brittleness-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        var options = RunOptions(from: checkpoint, recipeFile: try recipeFile(c, in: dir).path,
                                 overrides: ["train.steps=\(c.steps)", "run.dir=\(dir.path)", "run.name=probe", "sft.train=\(dataURL.path)"])
        options.showProgress = false
        options.log = { _ in }
        log("brittleness probe: \(c.steps) steps of SFT on \(c.data) from a copy of \(checkpoint)")
        let outcome = try SFT.run(options)
        guard let last = outcome.lastCheckpoint else { throw StrataError.config("brittleness probe", "the probe's SFT run wrote no checkpoint") }
        let tuned = try TrainingCheckpoint.load(last)
        let after = try BehaviourEval.evaluate(model: tuned.model, tokenizer: tuned.tokenizer, prompts: plainHarmful, config: eval)
        let resolved = (try? String(contentsOf: dir.appendingPathComponent("probe/recipe.yaml"), encoding: .utf8)) ?? ""
        return BrittlenessResult(steps: c.steps, data: c.data, dataSHA256: sha, recipe: resolved, refusalBefore: refusalBefore,
                                 refusalAfter: after.refusalRate, harmfulCount: plainHarmful.count)
    }

    /// The probe's recipe: the user's, or full fine-tuning at a constant LR with no warmup.
    static func recipeFile(_ c: Config, in dir: URL) throws -> URL {
        if let r = c.recipe { return URL(fileURLWithPath: r) }
        let yaml = """
        # The brittleness probe's default: plain full-parameter SFT on benign chats, constant LR.
        train: {batch_size: \(c.batchSize), context: \(c.context), steps: \(c.steps), seed: \(c.seed), eval_interval: \(c.steps), eval_batches: 1,
                checkpoint_interval: \(c.steps), keep_last: 2, log_interval: \(c.steps)}
        optim: {lr: \(c.lr), min_lr: \(c.lr), warmup_steps: 0, schedule: constant}
        run: {dir: \(dir.path), name: probe}
        sft: {train: \(c.data), validation_fraction: 0.05, template: chatml, packing: pack}

        """
        let url = dir.appendingPathComponent("probe-recipe.yaml")
        try yaml.write(to: url, atomically: true, encoding: .utf8)
        return url
    }
}
