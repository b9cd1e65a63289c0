// Demo: the README's main job. Generates the built-in synthetic world, writes a
// pretraining recipe for it, trains a tokenizer and a small GPT-2 for a few
// minutes, and shows the validation loss falling, samples, and the lineage of
// the final checkpoint. Later stages of the relay extend this.
// Leaves out: the post-training stages (their issues add them here).

import Foundation
import StrataCore
import StrataData
import StrataModel

public enum Demo {
    public struct Config: Sendable {
        /// Where the world, recipe and run go.
        public var directory = "runs/demo"
        /// Seed of the world and of training.
        public var seed: UInt64 = 0
        /// Approximate bytes of synthetic text.
        public var worldSize = 3_000_000
        /// Pretraining steps (16 × 128 tokens each).
        public var steps = 600
        public init() {}
    }

    public static func run(_ config: Config, interrupt: InterruptFlag? = nil, log: @escaping (String) -> Void = { Console.line($0) }) throws {
        let root = URL(fileURLWithPath: config.directory)
        let worldDir = root.appendingPathComponent("world")
        if !FileManager.default.fileExists(atPath: worldDir.appendingPathComponent("before_cutoff.jsonl").path) {
            log("== generating the synthetic world (seed \(config.seed), ~\(config.worldSize / 1_000_000) MB)")
            let world = try SyntheticWorld.generate(SyntheticWorld.Config(seed: config.seed, size: config.worldSize))
            _ = try world.write(to: worldDir)
            log("\(world.world.entities.count) entities, \(world.world.facts.count) facts; corpora in \(worldDir.path)")
        }
        let recipeURL = root.appendingPathComponent("pretrain.yaml")
        try recipeText(world: worldDir, runs: root.appendingPathComponent("runs"), steps: config.steps, seed: config.seed)
            .write(to: recipeURL, atomically: true, encoding: .utf8)
        let runDir = root.appendingPathComponent("runs/pretrain")
        var pc = Pretrain.Config(recipeFile: recipeURL.path)
        if FileManager.default.fileExists(atPath: runDir.appendingPathComponent("checkpoints/latest").path) {
            pc = Pretrain.Config(resume: runDir.path)
            log("== resuming the pretraining run in \(runDir.path)")
        } else {
            log("== pretraining (recipe: \(recipeURL.path))")
        }
        pc.log = log; pc.interrupt = interrupt
        let outcome = try Pretrain.run(pc)
        if outcome.interrupted { return }
        try showResults(runDir: runDir, log: log)
    }

    static func showResults(runDir: URL, log: (String) -> Void) throws {
        let metrics = try MetricsLog.read(runDir.appendingPathComponent("metrics.jsonl"))
        log("\n== validation loss during pretraining")
        for m in metrics where m.valLoss != nil {
            log(String(format: "  step %5d   val loss %.3f   perplexity %7.1f", m.step, m.valLoss!, Foundation.exp(m.valLoss!)))
        }
        let loaded = try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(runDir.path))
        log("\n== samples from \(loaded.checkpoint.url.path)")
        let stop = loaded.tokenizer.eosID.map { [Int32($0)] } ?? []
        for prompt in ["Local report:", "In the news today:", "The river"] {
            let ids = loaded.tokenizer.encode(prompt).map(Int32.init)
            let out = loaded.model.generate(prompts: [ids], sampling: SamplingConfig(maxNewTokens: 40, temperature: 0.7, topP: 0.9, stopTokens: stop, seed: 1))
            log("  " + prompt + loaded.tokenizer.decode(out[0].tokens.map(Int.init)).replacingOccurrences(of: "\n", with: " "))
        }
        log("\n== lineage (lineage.json)\n" + loaded.lineage.summary())
    }

    static func recipeText(world: URL, runs: URL, steps: Int, seed: UInt64) -> String {
        """
        # The demo's pretraining recipe (written by `strata demo`): a ~1M-parameter GPT-2
        # on the synthetic world's before-cutoff news and encyclopedia text plus its textbook.
        model: {n_layer: 4, n_head: 4, n_embd: 128, n_positions: 128, vocab_size: from_tokenizer}
        tokenizer: {train: {vocab_size: 1024}}
        data:
          sources:
            - {name: general, path: \(world.path)/before_cutoff.jsonl, weight: 0.9}
            - {name: textbook, path: \(world.path)/textbook.jsonl, weight: 0.1}
          validation: {fraction: 0.02}
        train: {batch_size: 16, context: 128, steps: \(steps), seed: \(seed), eval_interval: \(max(1, steps / 10)), eval_batches: 8,
                checkpoint_interval: \(max(1, steps / 4)), keep_last: 2, log_interval: 10}
        optim: {lr: 2.0e-3, min_lr: 2.0e-4, warmup_steps: \(max(1, steps / 20)), schedule: cosine, weight_decay: 0.1, grad_clip: 1.0}
        run: {dir: \(runs.path), name: pretrain}

        """
    }
}
