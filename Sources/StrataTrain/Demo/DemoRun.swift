// The demo's runs and the recipes they run: each run is a shipped recipe
// (recipes/*.yaml, the files a user copies) plus the overrides the demo must set —
// run.dir and run.name (its runs go to <demo dir>/runs/<name>), train.seed, train.steps
// when the demo was given a step count, the variant's own keys (DPO's SFT term), and its
// data paths. Paths in the recipes are relative to the directory strata runs in
// (`world/...`); the demo resolves them against its own directory instead, as if strata
// ran there: `world/qa.jsonl` → `runs/demo/world/qa.jsonl`, by one `--set` per path key
// (every path a recipe can hold: tokenizer, data sources, validation shard, sft and
// preference files). Absolute paths are left as written.
// Leaves out: running the stages (Demo.swift) and the recipe machinery (RecipeLoader).

import Foundation
import StrataCore

/// One run of the demo relay; its raw value is the run's name (directory and table row).
public enum DemoRun: String, CaseIterable, Sendable {
    case pretrain, continueNoReplay = "continue-noreplay", continueReplay = "continue-replay", anneal, sft
    case sftBase = "sft-base", reward, dpo
    case dpoSFT = "dpo-sft"
    case ppo, ppoNoKL = "ppo-nokl", grpo, grpoSequence = "grpo-seqmean", judge
    case ppoJudge = "ppo-judge"

    public var name: String { rawValue }

    /// The shipped recipe file it runs, in the recipes directory.
    public var recipeFile: String {
        switch self {
        case .pretrain: return "pretrain-world.yaml"
        case .continueNoReplay: return "continue-world-noreplay.yaml"
        case .continueReplay: return "continue-world.yaml"
        case .anneal: return "anneal-world.yaml"
        case .sft, .sftBase: return "sft-world.yaml"
        case .reward: return "reward-world.yaml"
        case .dpo, .dpoSFT: return "dpo-world.yaml"
        case .ppo, .ppoNoKL, .ppoJudge: return "ppo-world.yaml"
        case .grpo, .grpoSequence: return "grpo-world.yaml"
        case .judge: return "judge-world.yaml"
        }
    }

    /// The stage that runs it.
    var stage: any TrainingStage.Type {
        switch self {
        case .pretrain: return Pretrain.self
        case .continueNoReplay, .continueReplay: return Continue.self
        case .anneal: return Anneal.self
        case .sft, .sftBase: return SFT.self
        case .reward: return Reward.self
        case .dpo, .dpoSFT: return DPO.self
        case .ppo, .ppoNoKL, .ppoJudge: return PPO.self
        case .grpo, .grpoSequence: return GRPO.self
        case .judge: return SFT.self
        }
    }

    /// What makes this run a variant of its recipe (beyond name, seed, steps and paths).
    var variantOverrides: [String] {
        switch self {
        case .dpoSFT: return ["preference.sft_weight=1.0"]
        // From the pretrained model, which never saw after-cutoff text: replay only what it was trained on.
        case .sftBase: return ["sft.replay.paths=[world/before_cutoff.jsonl]", "sft.replay.weights=null"]
        case .ppoNoKL: return ["ppo.kl_coef=0", "ppo.kl_target=null"]   // too little KL: nothing holds the policy near the SFT model
        case .grpoSequence: return ["grpo.loss_type=sequence_mean"]
        // RLAIF: the same PPO with the demo's AI judge (read by likelihood, its template's verdict) as the reward.
        case .ppoJudge: return ["ppo.rewards[0].type=judge", "ppo.rewards[0].judge_template=world/judge_template.json"]
        default: return []
        }
    }

    /// Checkpoints of other demo runs this run reads (the recipe names them by the recipe's own run names).
    func runLinks(_ runs: URL) -> [String] {
        switch self {
        case .ppo, .ppoNoKL: return ["ppo.rewards[0].checkpoint=\(DemoRecipes.quoted(runs.appendingPathComponent(DemoRun.reward.name).path))"]
        case .ppoJudge: return ["ppo.rewards[0].checkpoint=\(DemoRecipes.quoted(runs.appendingPathComponent(DemoRun.judge.name).path))"]
        default: return []
        }
    }
}

/// The shipped recipes as the demo runs them.
public struct DemoRecipes {
    /// The recipes directory (recipes/ of the repository by default).
    public let directory: URL
    /// The demo's directory: relative paths in the recipes are resolved against it.
    public let root: URL
    public let seed: UInt64
    /// Steps per run where the demo was told; other runs take their recipe's train.steps.
    public let steps: [DemoRun: Int]

    /// The runs' directory, `<root>/runs`.
    public var runs: URL { root.appendingPathComponent("runs") }

    /// Checks that `directory` holds every recipe the demo runs; the error names what is missing and the fix.
    public init(directory: String, root: URL, seed: UInt64, steps: [DemoRun: Int] = [:]) throws {
        let dir = URL(fileURLWithPath: directory)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
            throw StrataError.io("find the demo's recipes", "\(dir.path) is not a directory (the working directory is "
                                 + "\(FileManager.default.currentDirectoryPath))",
                                 fix: "run strata demo from the repository root (scripts/demo.sh does), or pass --recipes DIR "
                                 + "naming the repository's recipes/ directory")
        }
        let missing = Set(DemoRun.allCases.map(\.recipeFile)).sorted()
            .filter { !FileManager.default.fileExists(atPath: dir.appendingPathComponent($0).path) }
        guard missing.isEmpty else {
            throw StrataError.io("find the demo's recipes", "\(dir.path) lacks \(missing.joined(separator: ", "))",
                                 fix: "restore them from the repository's recipes/ (git checkout recipes/), or pass --recipes DIR holding them")
        }
        self.directory = dir; self.root = root; self.seed = seed; self.steps = steps
    }

    public func recipeURL(_ run: DemoRun) -> URL { directory.appendingPathComponent(run.recipeFile) }

    /// The `--set` overrides the demo passes with the run's recipe, paths resolved against `root`.
    public func overrides(_ run: DemoRun) throws -> [String] {
        var sets = ["run.dir=\(Self.quoted(runs.path))", "run.name=\(run.name)", "train.seed=\(seed)"] + run.variantOverrides
            + run.runLinks(runs)
        if let n = steps[run] { sets.append("train.steps=\(n)") }
        let recipe = try RecipeLoader.load(file: recipeURL(run), overrides: sets + run.stage.fixedOverrides, stage: run.stage.kind)
        return sets + Self.pathKeys(recipe).filter { !$0.path.hasPrefix("/") }
            .map { "\($0.key)=\(Self.quoted(root.appendingPathComponent($0.path).path))" }
    }

    /// The run's recipe as its stage will load it (overrides, the stage's fixed overrides, its section check).
    public func load(_ run: DemoRun) throws -> Recipe {
        try RecipeLoader.load(file: recipeURL(run), overrides: try overrides(run) + run.stage.fixedOverrides, stage: run.stage.kind)
    }

    /// Every path key a recipe holds, with its value (written as `--set` addresses them).
    static func pathKeys(_ r: Recipe) -> [(key: String, path: String)] {
        var out: [(key: String, path: String)] = []
        func add(_ key: String, _ path: String?) { if let path, !path.isEmpty { out.append((key, path)) } }
        add("tokenizer.path", r.tokenizer.path)
        for (i, f) in (r.tokenizer.train?.files ?? []).enumerated() { add("tokenizer.train.files[\(i)]", f) }
        for (i, s) in r.data.sources.enumerated() { add("data.sources[\(i)].path", s.path) }
        add("data.validation.shard", r.data.validation.shard)
        if let s = r.sft {
            add("sft.train", s.train); add("sft.validation", s.validation); add("sft.eval.qa", s.eval?.qa)
            for (i, p) in (s.replay?.paths ?? []).enumerated() { add("sft.replay.paths[\(i)]", p) }
        }
        if let p = r.preference {
            add("preference.train", p.train); add("preference.validation", p.validation); add("preference.reference", p.reference)
            add("preference.eval.qa", p.eval?.qa); add("preference.eval.behaviour", p.eval?.behaviour)
        }
        for (section, prompts, eval) in [("ppo", r.ppo?.prompts, r.ppo?.eval), ("grpo", r.grpo?.prompts, r.grpo?.eval)] {
            add("\(section).prompts", prompts); add("\(section).eval.qa", eval?.qa); add("\(section).eval.behaviour", eval?.behaviour)
        }
        for (section, entries) in [("ppo", r.ppo?.rewards ?? []), ("grpo", r.grpo?.rewards ?? [])] {
            for (i, e) in entries.enumerated() { add("\(section).rewards[\(i)].judge_template", e.judgeTemplate) }
        }
        return out
    }

    /// A path as a YAML double-quoted scalar, so `--set` reads it as text whatever it holds.
    static func quoted(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
