// Demo: the README's main job, the relay on the built-in synthetic world.
//   1. generate the world; 2. pretrain a small GPT-2 on before-cutoff text;
//   3. continue it on after-cutoff news twice — without and with replay of the
//      general corpus; 4. anneal the one that forgot less toward the textbook;
//   5. evaluate every checkpoint (loss per source, knowledge probes before and
//      after the cutoff, forgetting against the pretrained model);
//   6. SFT the annealed model on before-cutoff QA conversations and show
//      instruction accuracy before/after next to the probes (Demo+SFT.swift);
//   7. a reward model and DPO (plain, and with an SFT term) on the SFT model
//      (Demo+Preference.swift); 8. safety of the chat checkpoints under attack
//      families and a brittleness probe (Demo+Safety.swift); 9. PPO with and without the KL penalty,
//      GRPO on addition and reversal (two loss aggregations), and an AI judge against the reward
//      model (Demo+RL.swift); then the tables, samples and lineage. Each stage
//      resumes if interrupted; finished stages are skipped when the demo runs again.
// Every run is a shipped recipe (recipes/*.yaml, found relative to the working
// directory or by --recipes) plus the overrides in DemoRun.swift; the recipes' relative
// paths (`world/...`) resolve against the demo's directory (runs/demo), where the world
// and the runs go. Results are kept by run name.
// Leaves out: model-driven red-teaming and RL on the judge's reward (too slow for the demo's budget).

import Foundation
import StrataCore
import StrataData
import StrataModel
import StrataEval
import StrataRL

public enum Demo {
    public struct Config: Sendable {
        /// Where the world and runs go; the recipes' relative paths resolve against it.
        public var directory = "runs/demo"
        /// The shipped recipes (relative to the working directory: the demo runs from the repository root).
        public var recipes = "recipes"
        /// Seed of the world and of training (train.seed of every run).
        public var seed: UInt64 = 0
        /// Approximate bytes of synthetic text (fewer entities → more epochs per fact in the same time).
        public var worldSize = 230_000
        /// Chances that a person joins a second organisation or moves city, and wins a prize, before the cutoff.
        /// Higher than `strata data synth`'s defaults (0.2, 0.3): SFT asks only before-cutoff questions, so these
        /// earlier events are its only lessons in answering the dated questions every after-cutoff fact is
        /// (docs/demo.md, round 11: seven seeds each, 230 KB at 0.8 / 0.8 against 250 KB at the defaults).
        public var earlierMoveChance = 0.8
        public var earlierAwardChance = 0.8
        /// A second earlier join or move for some of those people (`--second-move-chance`), meant to let SFT's
        /// before-cutoff questions teach answering by the asked year. Off: the demo's model does not learn that
        /// (docs/demo.md, round 15: 3 of 12 such questions right on seed 2, and fewer before-cutoff answers).
        public var secondMoveChance = 0.0
        /// People per organisation founded before the cutoff (`--persons-per-organisation`; docs/demo.md, round 15).
        public var personsPerOrganisation = SyntheticWorld.Config().personsPerOrganisation
        /// The world these settings describe.
        public var world: SyntheticWorld.Config {
            var w = SyntheticWorld.Config(seed: seed, size: worldSize)
            w.earlierMoveChance = earlierMoveChance; w.earlierAwardChance = earlierAwardChance
            w.secondMoveChance = secondMoveChance
            w.personsPerOrganisation = personsPerOrganisation
            return w
        }
        /// Steps of a run where given; the others take their recipe's train.steps.
        public var steps: [DemoRun: Int] = [:]
        /// SFT training tasks per kind (fact questions limited to before-cutoff facts of the QA train split).
        public var sftTasksPerKind = WorldChatData.defaultPerKind
        /// Knowledge probes per evaluation (a seeded subset balanced over period and domain).
        public var probes = 400
        public init() {}
    }

    /// Where the demo's pieces live and how it reports.
    struct Context {
        let recipes: DemoRecipes
        let world: URL
        let probes: Int
        let interrupt: InterruptFlag?
        let log: (String) -> Void
        var root: URL { recipes.root }
        var runs: URL { recipes.runs }
        func runDir(_ run: DemoRun) -> URL { runs.appendingPathComponent(run.name) }
    }

    public static func run(_ config: Config, interrupt: InterruptFlag? = nil, log: @escaping (String) -> Void = { Console.line($0) }) throws {
        let root = URL(fileURLWithPath: config.directory)
        let recipes = try DemoRecipes(directory: config.recipes, root: root, seed: config.seed, steps: config.steps)
        for run in DemoRun.allCases { _ = try recipes.load(run) }   // every recipe loads and validates before any training
        let cx = Context(recipes: recipes, world: root.appendingPathComponent("world"), probes: config.probes, interrupt: interrupt, log: log)
        try generateWorld(config, into: cx.world, log: log)
        try ensureAttacks(config, world: cx.world)
        guard let reports = try relay(cx) else { return }
        try showResults(cx, reports: reports)
    }

    /// The world's corpora, probes and SFT conversations, unless already there.
    static func generateWorld(_ config: Config, into world: URL, log: (String) -> Void) throws {
        if !FileManager.default.fileExists(atPath: world.appendingPathComponent("probes.jsonl").path) {
            var options = ""
            if config.secondMoveChance > 0 { options += ", second moves \(config.secondMoveChance)" }
            if config.personsPerOrganisation != Config().personsPerOrganisation {
                options += ", an organisation per \(config.personsPerOrganisation) people"
            }
            log("== generating the synthetic world (seed \(config.seed), ~\(config.worldSize / 1000) KB, earlier moves "
                + "\(config.earlierMoveChance), prizes \(config.earlierAwardChance)\(options))")
            let out = try SyntheticWorld.generate(config.world)
            _ = try out.write(to: world)
            log("\(out.world.entities.count) entities, \(out.world.facts.count) facts; corpora in \(world.path)")
        }
        let qa = try ChatStage.readQA(world.appendingPathComponent("qa.jsonl"))
        if !FileManager.default.fileExists(atPath: world.appendingPathComponent(WorldChatData.fileName).path) {
            try WorldChatData.write(qa: qa, seed: config.seed, perKind: config.sftTasksPerKind, to: world)
        }
        if !FileManager.default.fileExists(atPath: world.appendingPathComponent(InstructionPrompts.trainFile).path) {
            try InstructionPrompts.write(qa: qa, to: world, config: InstructionPrompts.Config(trainSeed: config.seed))
        }
        if !FileManager.default.fileExists(atPath: world.appendingPathComponent(WorldJudgeData.fileName).path) {
            try WorldJudgeData.write(qa: qa, seed: config.seed, to: world)
        }
    }

    /// Trains and evaluates every run; nil when a stage was interrupted.
    static func relay(_ cx: Context) throws -> [DemoRun: EvalReport]? {
        var reports: [DemoRun: EvalReport] = [:]
        guard try stage(.pretrain, from: nil, cx),
              try stage(.continueNoReplay, from: .pretrain, cx), try stage(.continueReplay, from: .pretrain, cx) else { return nil }
        cx.log("\n== evaluating checkpoints")
        try evaluate([.pretrain, .continueNoReplay, .continueReplay], cx, into: &reports)
        // Anneal the continued model that forgot less (lower loss on the general corpus).
        func generalLoss(_ run: DemoRun) -> Double { reports[run]?.validation.first { $0.name == "general" }?.loss ?? .infinity }
        let better: DemoRun = generalLoss(.continueNoReplay) < generalLoss(.continueReplay) ? .continueNoReplay : .continueReplay
        cx.log("\n== annealing \(better.name) (it forgot less of the general corpus)")
        guard try stage(.anneal, from: better, cx) else { return nil }
        try evaluate([.anneal], cx, into: &reports)
        guard try stage(.sft, from: .anneal, cx), try stage(.sftBase, from: .pretrain, cx) else { return nil }
        try evaluate([.sft, .sftBase], cx, into: &reports)
        guard try stage(.reward, from: .sft, cx), try stage(.dpo, from: .sft, cx), try stage(.dpoSFT, from: .sft, cx) else { return nil }
        try evaluate([.dpo, .dpoSFT], cx, into: &reports)
        guard try rlRelay(cx) else { return nil }
        return reports
    }

    /// The tables, samples, lineage and the HTML run report.
    static func showResults(_ cx: Context, reports: [DemoRun: EvalReport]) throws {
        let rows: [DemoRun] = [.pretrain, .continueNoReplay, .continueReplay, .anneal, .sft, .sftBase, .dpo, .dpoSFT]
        let table = try rows.map { run -> EvalReport in
            guard let report = reports[run], let base = reports[.pretrain] else {
                throw StrataError(.state, "demo table", "no evaluation of \(run.name)", fix: "run strata demo again (finished stages are skipped)")
            }
            return run == .pretrain ? report : report.comparing(to: base)
        }
        try showSamplesAndLineage(runDir: cx.runDir(.anneal), lineage: false, log: cx.log)
        try showChatSamples(sftRun: cx.runDir(.sft), world: cx.world, log: cx.log)
        cx.log("\n== lineage of the final checkpoint (lineage.json)\n"
            + (try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(cx.runDir(.dpoSFT).path)).lineage.summary()))
        cx.log("\n== what each stage did (forgetting and gain against the pretrained checkpoint)\n" + EvalTable.render(table))
        cx.log("\n== instruction following on held-out tasks (SFT saw before-cutoff facts only)\n"
            + (try instructionTable(sftRun: cx.runDir(.sft), baseRun: cx.runDir(.sftBase))))
        cx.log("\n== preference tuning on the SFT checkpoint (held-out prompts and pairs)\n" + (try preferenceTable(cx)))
        cx.log("\n== safety: refusals under attack, and after a few benign fine-tuning steps\n" + (try safetyTable(cx)))
        cx.log("\n== RLHF with PPO on fact questions: the reward model (with and without the KL penalty) and the AI judge as reward\n" + (try ppoTable(cx)))
        cx.log("\n== GRPO with verifiable rewards (addition, list reversal), token-mean vs per-sequence loss\n" + (try grpoTable(cx)))
        cx.log("\n== RL from AI feedback: does the scorer prefer the right answer? (judge vs reward model)\n" + (try judgeTable(cx)))
        let file = cx.root.appendingPathComponent("report.html")
        let report = try RunReport.write(runDirectories: DemoRun.allCases.map(cx.runDir), to: file, title: "Strata demo relay")
        for w in report.warnings { cx.log("report: \(w)") }
        cx.log("\n== run report (curves, evaluations, lineage graph): \(file.path)")
    }

    /// Start, resume or skip one run of the relay; false when it was interrupted.
    static func stage(_ run: DemoRun, from parent: DemoRun?, _ cx: Context) throws -> Bool {
        let options = RunOptions(from: parent.map { cx.runDir($0).path }, recipeFile: cx.recipes.recipeURL(run).path,
                                 overrides: try cx.recipes.overrides(run))
        return try runStage(run.stage, name: run.name, fresh: options, runs: cx.runs, interrupt: cx.interrupt, log: cx.log)
    }

    /// Start (with `fresh`), resume or skip one stage; false when it was interrupted.
    static func runStage<S: TrainingStage>(_ stage: S.Type, name: String, fresh: RunOptions, runs: URL,
                                           interrupt: InterruptFlag?, log: @escaping (String) -> Void) throws -> Bool {
        let runDir = runs.appendingPathComponent(name)
        var options = fresh
        if let ckpt = try? TrainingCheckpoint.resolve(runDir.path), let state = try TrainingCheckpoint.load(ckpt).state {
            if state.step >= state.totalSteps { log("== \(name): already finished (\(ckpt.url.path))"); return true }
            options = RunOptions(resume: runDir.path)
            log("== \(name): resuming at step \(state.step)")
        } else {
            log("\n== \(name)" + (fresh.from.map { " from \($0)" } ?? ""))
        }
        options.log = log; options.interrupt = interrupt
        return !(try StageRunner.run(S.self, options)).interrupted
    }

    /// Evaluate each run's final checkpoint on the same probes and validation shards; records the results.
    static func evaluate(_ names: [DemoRun], _ cx: Context, into reports: inout [DemoRun: EvalReport]) throws {
        // Probes of the general domain: the relay never trains on the medical domain corpus.
        let general = try ProbeSet.read(cx.world.appendingPathComponent("probes.jsonl")).filter { $0.domain == "general" }
        let probes = ProbeSet.subset(general, limit: cx.probes, seed: 0)
        var shards: [(name: String, shard: Shard)] = []
        let held: [(source: String, run: DemoRun)] = [("general", .pretrain), ("after", .continueNoReplay), ("textbook", .pretrain)]
        for (source, run) in held {
            let url = cx.runDir(run).appendingPathComponent("data/\(source).val.bin")
            if let shard = try? Shard(contentsOf: url), shard.count > 128 { shards.append((source, shard)) }
        }
        for run in names {
            let ckpt = try TrainingCheckpoint.resolve(cx.runDir(run).path)
            let loaded = try TrainingCheckpoint.load(ckpt)
            let report = try Evaluation.evaluate(model: loaded.model, codec: loaded.tokenizer, label: run.name, checkpoint: ckpt.url.path,
                                                 probes: probes, sources: shards)
            try TrainingCheckpoint.recordEvaluation(ckpt.url, name: "demo_eval", metrics: report.metricsDictionary())
            cx.log("evaluated \(run.name)")
            reports[run] = report
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
