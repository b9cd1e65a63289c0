// What the RL stages (GRPO, PPO) share, under shared names: the prompt file
// and chat checks at start; the reward sources built from the recipe's reward
// list (rules, a reward-model or judge checkpoint, an HTTP endpoint), refused at
// start naming the key (`grpo.rewards[1].type`...) and recorded in lineage by
// identity; a frozen reference model kept in the run directory so a resumed
// run loads the same one; LoRA attached fresh or restored on resume; the
// rollout buffer file saved in every checkpoint (JSON: Float and UInt64 round-
// trip exactly, so a resumed run is bit-exact); per-token values laid on a
// ResponseBatch's grid; and the per-step monitors under TRL's/verl's names,
// plus refusal rate, hedging rate and a gold score where prompts carry answers.
// Leaves out: each stage's objective, advantages and losses (GRPO.swift, PPO.swift).

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataCheckpoint
import StrataTokenizer
import StrataEval
import StrataRL

enum RLStage {
    /// The prompt file of a recipe section, every record checked against the engine (file:line errors).
    /// With a filter (recipe key `<section>.prompt_filter`), only the prompts it keeps.
    static func prompts(_ path: String, key: String, skipBadLines: Bool, filter: PromptFilterSection? = nil,
                        engine: RolloutEngine) throws -> PromptDataset {
        guard !path.isEmpty else {
            throw StrataError.config(key, "no prompt file", fix: "give \(key): prompts_train.jsonl (written by strata data synth)")
        }
        var data = try PromptDataset.load(URL(fileURLWithPath: path), skipBadLines: skipBadLines)
        if let f = filter {
            let section = key.split(separator: ".").first.map(String.init) ?? key
            data = try data.keeping(column: f.column, values: f.values, key: "\(section).prompt_filter")
        }
        try engine.checkPrompts(data)
        return data
    }

    // MARK: Reward sources

    /// The reward sources of `entries` (recipe key `key`, e.g. "grpo.rewards"), checked against the prompts;
    /// also the reward model, when one is listed (PPO's value model may start from it).
    static func rewards(_ entries: [RewardEntrySection], key: String, prompts: PromptDataset,
                        policyTokenizer: BPETokenizer) throws -> (WeightedRewards, RewardModel?) {
        guard !entries.isEmpty else {
            throw StrataError.config(key, "is empty", fix: "list at least one reward, e.g. \(key): [{type: instruction, weight: 1}]")
        }
        var out: [WeightedRewards.Entry] = [], rewardModel: RewardModel?
        for (i, e) in entries.enumerated() {
            let at = "\(key)[\(i)]"
            do {
                let (source, rm) = try source(e, at: at, prompts: prompts, policyTokenizer: policyTokenizer)
                out.append(WeightedRewards.Entry(source, weight: e.weight))
                rewardModel = rewardModel ?? rm
            } catch let err as StrataError where !err.operation.hasPrefix(at) {
                throw StrataError(err.kind, "\(at): \(err.operation)", err.message, fix: err.fix)
            }
        }
        do { return (try WeightedRewards(out), rewardModel) } catch let err as StrataError {
            throw StrataError(err.kind, "\(key): \(err.operation)", err.message, fix: err.fix)
        }
    }

    /// Every `type` a reward entry may have.
    static var rewardTypes: [String] { RewardRuleConfig.RuleType.allCases.map(\.rawValue) + ["reward_model", "judge", "http"] }

    private static func source(_ e: RewardEntrySection, at: String, prompts: PromptDataset,
                               policyTokenizer: BPETokenizer) throws -> (any RewardSource, RewardModel?) {
        guard e.weight.isFinite else { throw StrataError.config(at, "weight is \(e.weight)", fix: "give a finite weight") }
        switch e.type {
        case "reward_model", "judge":
            if e.type == "reward_model", e.judgeTemplate != nil {
                throw StrataError.config(at, "field 'judge_template' does not apply to type reward_model", fix: "remove it, or use type: judge")
            }
            guard let path = e.checkpoint else {
                throw StrataError.config(at, "type \(e.type) has no checkpoint", fix: "add checkpoint: runs/NAME (a \(e.type == "judge" ? "chat" : "reward model") checkpoint)")
            }
            let loaded = try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(path))
            if e.type == "reward_model" {
                guard let rm = loaded.reward else {
                    throw StrataError.config(at, "checkpoint \(path) is not a reward model", fix: "point it at a strata reward run, or use type: judge")
                }
                return (try RewardModelSource(model: rm, tokenizer: loaded.tokenizer, checkpoint: loaded.id, sha256: loaded.contentHash,
                                              name: e.name ?? "reward_model"), rm)
            }
            let template = try e.judgeTemplate.map { try StrataJSON.read(JudgeTemplate.self, at: URL(fileURLWithPath: $0)) } ?? .standard
            return (try JudgeSource(model: loaded.model, tokenizer: loaded.tokenizer, template: template, checkpoint: loaded.id,
                                    sha256: loaded.contentHash, name: e.name ?? "judge"), nil)
        case "http":
            guard let url = e.url else { throw StrataError.config(at, "type http has no url", fix: "add url: http://127.0.0.1:8000/score") }
            var c = HTTPRewardSource.Config(url: url, name: e.name ?? "http")
            if let t = e.timeoutSeconds { c.timeoutSeconds = t }
            if let r = e.retries { c.retries = r }
            return (try HTTPRewardSource(c), nil)
        default:
            let rule = try RuleRewardSource(try ruleConfig(e, at: at))
            try rule.check(prompts)
            return (rule, nil)
        }
    }

    private static func ruleConfig(_ e: RewardEntrySection, at: String) throws -> RewardRuleConfig {
        guard let type = RewardRuleConfig.RuleType(rawValue: e.type) else {
            let near = RecipeKeyCheck.suggestion(for: e.type, among: Set(rewardTypes))
            throw StrataError.config(at, "type is \"\(e.type)\"",
                                     fix: (near.map { "did you mean \"\($0)\"? " } ?? "") + "types: \(rewardTypes.joined(separator: ", "))")
        }
        for (field, set) in [("checkpoint", e.checkpoint != nil), ("judge_template", e.judgeTemplate != nil), ("url", e.url != nil), ("timeout_seconds", e.timeoutSeconds != nil),
                             ("retries", e.retries != nil)] where set {
            throw StrataError.config(at, "field '\(field)' does not apply to rule \(e.type)", fix: "remove it, or use type reward_model, judge or http")
        }
        var c = RewardRuleConfig(type: type, weight: e.weight, name: e.name)
        if let k = e.kind {
            guard let kind = InstructionKind(rawValue: k) else {
                let names = InstructionKind.allCases.map(\.rawValue)
                let near = RecipeKeyCheck.suggestion(for: k, among: Set(names))
                throw StrataError.config(at, "kind is \"\(k)\"", fix: (near.map { "did you mean \"\($0)\"? " } ?? "") + "kinds: \(names.joined(separator: ", "))")
            }
            c.kind = kind
        }
        c.column = e.column; c.kindColumn = e.kindColumn; c.pattern = e.pattern; c.fullMatch = e.fullMatch; c.key = e.key
        c.maxTokens = e.maxTokens; c.perToken = e.perToken; c.penalty = e.penalty
        return c
    }

    // MARK: Models

    /// The frozen reference: on a new run the starting checkpoint (or `path`), saved under the run directory;
    /// on resume read back from there, so it is the same model whatever happened to the original.
    static func reference(_ start: StageStart, origin: TrainingCheckpoint.Loaded, path: String?,
                          key: String) throws -> (any CausalLM, ParentRef?) {
        let dir = start.runDir.appendingPathComponent("reference")
        if start.isResume { return (try loadCausalLM(directory: dir), nil) }
        var ref = origin
        if let path {
            ref = try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(path))
            guard ref.tokenizer.hash == origin.tokenizer.hash else {
                throw StrataError.config(key, "\(path) has a different tokenizer than the policy",
                                         fix: "use a reference from the same lineage (usually the SFT checkpoint the policy starts from)")
            }
        }
        if !start.readOnly {   // the other ranks of a data-parallel world read what rank 0 wrote
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try SafeTensors.write(sources: ref.model.weightSources(), metadata: ["format": "pt"], to: dir.appendingPathComponent("model.safetensors"))
            try ref.model.configData().write(to: dir.appendingPathComponent("config.json"))
        }
        let copy = try loadCausalLM(directory: dir)   // a separate copy: the policy trains in place
        return (copy, .checkpoint(id: ref.id, sha256: ref.contentHash))
    }

    /// What the optimizer trains: every parameter, or LoRA adapters (fresh, or restored from the checkpoint resumed).
    static func trainable(_ lora: LoRASection?, model: any CausalLM, start: StageStart, origin: TrainingCheckpoint.Loaded) throws -> [Tensor] {
        guard let l = lora else { return model.parameters }
        if start.isResume { return try LoRA.restoreBaseAndAttach(model, checkpoint: origin.checkpoint.url) }
        let cfg = LoRAConfig(r: l.r, alpha: Float(l.alpha), dropout: Float(l.dropout), targets: l.targets)
        return try LoRA.attach(to: model, config: cfg, seed: UInt64(start.recipe.train.seed))
    }

    /// tokenizer_config.json, the LoRA files when adapters are attached, and the stage's own files.
    static func checkpointFiles(_ model: any CausalLM, chatFiles: [CheckpointFile], extra: [CheckpointFile]) throws -> [CheckpointFile] {
        chatFiles + (try ChatStage.loraFiles(model)) + extra
    }

    // MARK: Buffer files

    static let bufferFile = "rollout_buffer.json"

    /// A stage's rollout buffer saved in a checkpoint, or nil when the checkpoint has none (e.g. the start).
    static func readBuffer<B: Decodable>(_ type: B.Type, from ckpt: Checkpoint) throws -> B? {
        let url = ckpt.url.appendingPathComponent(bufferFile)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try StrataJSON.read(B.self, at: url)
    }

    // MARK: Grid layout

    /// Per-rollout per-token values laid out on `batch`'s [B, T] grid (0 off the completions).
    static func onGrid(_ values: [[Float]], _ rollouts: [Rollout], time: Int) -> [Float] {
        var grid = [Float](repeating: 0, count: rollouts.count * time)
        for (r, ro) in rollouts.enumerated() {
            let first = r * time + ro.promptTokens.count - 1
            for (k, v) in values[r].enumerated() { grid[first + k] = v }
        }
        return grid
    }

    /// The sampling temperature log-probs are read at (greedy sampling reads the raw distribution).
    static func logProbTemperature(_ s: RLSamplingSection) -> Float { s.temperature > 0 ? Float(s.temperature) : 1 }
}

/// The per-step monitors of the RL stages that read the replies and their rewards.
enum RLMonitors {
    /// Reward mean/std overall and per source, completion lengths, refusal and hedging rates, and the gold score.
    /// `total`: each reply's reward; `sources`: each source's name and raw scores, in reply order.
    static func replies(_ rollouts: [Rollout], items: [RewardItem], total: [Double], sources: [(String, [Double])]) -> [String: Double] {
        var m = RolloutStats(rollouts).metricsDictionary()
        m["reward"] = mean(total); m["reward_std"] = std(total)
        for (name, scores) in sources {
            m["rewards/\(name)/mean"] = mean(scores); m["rewards/\(name)/std"] = std(scores)
        }
        let replies = items.map(\.reply)
        m["refusal_rate"] = share(replies, RefusalDetector.isRefusal)
        let hedges = SyntheticWorld.hedgingPhrases.map(RefusalDetector.normalize)
        m["hedging_rate"] = share(replies) { r in let t = RefusalDetector.normalize(r); return hedges.contains { t.contains($0) } }
        let gold = items.compactMap(goldScore)
        if !gold.isEmpty { m["gold_score"] = mean(gold) }
        return m
    }

    /// 1 when the reply is right by the prompt's gold answer (its task kind's checker, else exact match), 0 when
    /// wrong; nil when the prompt carries no answer.
    static func goldScore(_ item: RewardItem) -> Double? {
        guard let answer = item.prompt.text(InstructionPrompts.Column.answer) else { return nil }
        if let task = InstructionPrompts.task(item.prompt) { return task.check(item.reply) ? 1 : 0 }
        return InstructionChecker.normalize(item.reply) == InstructionChecker.normalize(answer) ? 1 : 0
    }

    static func mean(_ v: [Double]) -> Double { v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count) }

    /// Sample standard deviation (as torch.std, which TRL logs).
    static func std(_ v: [Double]) -> Double {
        guard v.count > 1 else { return 0 }
        let m = mean(v)
        return (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)).squareRoot()
    }

    static func share(_ v: [String], _ test: (String) -> Bool) -> Double {
        v.isEmpty ? 0 : Double(v.filter(test).count) / Double(v.count)
    }
}
