// Demo: the README's main job, the relay on the built-in synthetic world.
//   1. generate the world; 2. pretrain a small GPT-2 on before-cutoff text;
//   3. continue it on after-cutoff news twice — without and with replay of the
//      general corpus; 4. anneal the one that forgot less toward the textbook;
//   5. evaluate every checkpoint (loss per source, knowledge probes before and
//      after the cutoff, forgetting against the pretrained model);
//   6. SFT the annealed model on before-cutoff QA conversations and show
//      instruction accuracy before/after next to the probes (Demo+SFT.swift);
//   7. a reward model and DPO (plain, and with an SFT term) on the SFT model
//      (Demo+Preference.swift); then the tables, samples and lineage. Each stage
//      resumes if interrupted; finished stages are skipped when the demo runs again.
// Leaves out: PPO and GRPO (their issues extend this file).

import Foundation
import StrataCore
import StrataData
import StrataModel
import StrataEval

public enum Demo {
    public struct Config: Sendable {
        /// Where the world, recipes and runs go.
        public var directory = "runs/demo"
        /// Seed of the world and of training.
        public var seed: UInt64 = 0
        /// Approximate bytes of synthetic text (fewer entities → more epochs per fact in the same time).
        public var worldSize = 1_000_000
        /// Steps of each stage (16 × 128 = 2,048 tokens each).
        public var pretrainSteps = 600
        public var continueSteps = 200
        public var annealSteps = 100
        public var sftSteps = 300
        public var rewardSteps = 150
        public var dpoSteps = 150
        /// SFT training tasks per kind (fact questions limited to before-cutoff facts of the QA train split).
        public var sftTasksPerKind = 400
        /// Knowledge probes per evaluation (a seeded subset balanced over period and domain).
        public var probes = 400
        public init() {}
    }

    public static func run(_ config: Config, interrupt: InterruptFlag? = nil, log: @escaping (String) -> Void = { Console.line($0) }) throws {
        let root = URL(fileURLWithPath: config.directory)
        let world = root.appendingPathComponent("world"), runs = root.appendingPathComponent("runs")
        if !FileManager.default.fileExists(atPath: world.appendingPathComponent("probes.jsonl").path) {
            log("== generating the synthetic world (seed \(config.seed), ~\(config.worldSize / 1000) KB)")
            let out = try SyntheticWorld.generate(SyntheticWorld.Config(seed: config.seed, size: config.worldSize))
            _ = try out.write(to: world)
            log("\(out.world.entities.count) entities, \(out.world.facts.count) facts; corpora in \(world.path)")
        }
        let recipes = DemoRecipes(world: world, runs: runs, seed: config.seed)
        func stage<S: TrainingStage>(_ name: String, _ text: String, from parent: String?, _ kind: S.Type) throws -> Bool {
            let file = root.appendingPathComponent("\(name).yaml")
            try text.write(to: file, atomically: true, encoding: .utf8)
            return try runStage(S.self, name: name, recipe: file, from: parent, runs: runs, interrupt: interrupt, log: log)
        }
        guard try stage("pretrain", recipes.pretrain(steps: config.pretrainSteps), from: nil, Pretrain.self) else { return }
        let base = runs.appendingPathComponent("pretrain").path
        guard try stage("continue-noreplay", recipes.continued(steps: config.continueSteps, replay: false), from: base, Continue.self),
              try stage("continue-replay", recipes.continued(steps: config.continueSteps, replay: true), from: base, Continue.self) else { return }
        log("\n== evaluating checkpoints")
        var reports = try evaluate(["pretrain", "continue-noreplay", "continue-replay"], runs: runs, world: world, probes: config.probes, log: log)
        // Anneal the continued model that forgot less (lower loss on the general corpus).
        let better = reports[1].validation.first { $0.name == "general" }.map(\.loss) ?? .infinity
            < reports[2].validation.first { $0.name == "general" }.map(\.loss) ?? .infinity ? "continue-noreplay" : "continue-replay"
        log("\n== annealing \(better) (it forgot less of the general corpus)")
        guard try stage("anneal", recipes.anneal(steps: config.annealSteps), from: runs.appendingPathComponent(better).path,
                        Anneal.self) else { return }
        reports += try evaluate(["anneal"], runs: runs, world: world, probes: config.probes, log: log)
        let sftData = try sftData(world: world, perKind: config.sftTasksPerKind, seed: config.seed)
        guard try stage("sft", recipes.sft(steps: config.sftSteps, data: sftData), from: runs.appendingPathComponent("anneal").path,
                        SFT.self) else { return }
        reports += try evaluate(["sft"], runs: runs, world: world, probes: config.probes, log: log)
        guard try preferenceLeg(config, recipes: recipes, runs: runs, root: root, interrupt: interrupt, log: log) else { return }
        reports += try evaluate(["dpo", "dpo-sft"], runs: runs, world: world, probes: config.probes, log: log)
        let table = [reports[0]] + reports.dropFirst().map { $0.comparing(to: reports[0]) }
        try showSamplesAndLineage(runDir: runs.appendingPathComponent("anneal"), lineage: false, log: log)
        try showChatSamples(sftRun: runs.appendingPathComponent("sft"), world: world, log: log)
        log("\n== lineage of the final checkpoint (lineage.json)\n"
            + (try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(runs.appendingPathComponent("dpo-sft").path)).lineage.summary()))
        log("\n== what each stage did (forgetting and gain against the pretrained checkpoint)\n" + EvalTable.render(table))
        log("\n== instruction following on held-out tasks (SFT saw before-cutoff facts only)\n"
            + (try instructionTable(sftRun: runs.appendingPathComponent("sft"))))
        log("\n== preference tuning on the SFT checkpoint (held-out prompts and pairs)\n" + (try preferenceTable(runs: runs)))
        let names = ["pretrain", "continue-noreplay", "continue-replay", "anneal", "sft", "reward", "dpo", "dpo-sft"]
        let report = try RunReport.write(runDirectories: names.map { runs.appendingPathComponent($0) },
                                         to: root.appendingPathComponent("report.html"), title: "Strata demo relay")
        for w in report.warnings { log("report: \(w)") }
        log("\n== run report (curves, evaluations, lineage graph): \(root.appendingPathComponent("report.html").path)")
    }

    /// Start, resume or skip one stage; false when it was interrupted.
    static func runStage<S: TrainingStage>(_ stage: S.Type, name: String, recipe: URL, from parent: String?, runs: URL,
                                           interrupt: InterruptFlag?, log: @escaping (String) -> Void) throws -> Bool {
        let runDir = runs.appendingPathComponent(name)
        var options = RunOptions(from: parent, recipeFile: recipe.path)
        if let ckpt = try? TrainingCheckpoint.resolve(runDir.path), let state = try TrainingCheckpoint.load(ckpt).state {
            if state.step >= state.totalSteps { log("== \(name): already finished (\(ckpt.url.path))"); return true }
            options = RunOptions(resume: runDir.path)
            log("== \(name): resuming at step \(state.step)")
        } else {
            log("\n== \(name)" + (parent.map { " from \($0)" } ?? ""))
        }
        options.log = log; options.interrupt = interrupt
        return !(try StageRunner.run(S.self, options)).interrupted
    }

    /// Evaluate each run's final checkpoint on the same probes and validation shards; records the results.
    static func evaluate(_ names: [String], runs: URL, world: URL, probes count: Int, log: (String) -> Void) throws -> [EvalReport] {
        let probes = ProbeSet.subset(try ProbeSet.read(world.appendingPathComponent("probes.jsonl")), limit: count, seed: 0)
        var shards: [(name: String, shard: Shard)] = []
        for (source, run) in [("general", "pretrain"), ("after", "continue-noreplay"), ("textbook", "pretrain")] {
            let url = runs.appendingPathComponent("\(run)/data/\(source).val.bin")
            if let shard = try? Shard(contentsOf: url), shard.count > 128 { shards.append((source, shard)) }
        }
        return try names.map { name in
            let ckpt = try TrainingCheckpoint.resolve(runs.appendingPathComponent(name).path)
            let loaded = try TrainingCheckpoint.load(ckpt)
            let report = try Evaluation.evaluate(model: loaded.model, codec: loaded.tokenizer, label: name, checkpoint: ckpt.url.path,
                                                 probes: probes, sources: shards)
            try TrainingCheckpoint.recordEvaluation(ckpt.url, name: "demo_eval", metrics: report.metricsDictionary())
            log("evaluated \(name)")
            return report
        }
    }

    static func showSamplesAndLineage(runDir: URL, lineage: Bool = true, log: (String) -> Void) throws {
        let loaded = try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(runDir.path))
        log("\n== samples from \(loaded.checkpoint.url.path)")
        let stop = loaded.tokenizer.eosID.map { [Int32($0)] } ?? []
        for prompt in ["Local report:", "Breaking news:", "The river"] {
            let ids = loaded.tokenizer.encode(prompt).map(Int32.init)
            let out = loaded.model.generate(prompts: [ids], sampling: SamplingConfig(maxNewTokens: 40, temperature: 0.7, topP: 0.9, stopTokens: stop, seed: 1))
            log("  " + prompt + loaded.tokenizer.decode(out[0].tokens.map(Int.init)).replacingOccurrences(of: "\n", with: " "))
        }
        if lineage { log("\n== lineage of the final checkpoint (lineage.json)\n" + loaded.lineage.summary()) }
    }
}
