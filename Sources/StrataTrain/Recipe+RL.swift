// The recipe sections of the RL stages: `grpo:` (strata grpo) and `ppo:`
// (strata ppo), and the pieces they share under shared names — the sampling
// settings of rollouts (`RLSamplingSection`) and one entry of the reward list
// (`RewardEntrySection`: a rule, a reward-model or judge checkpoint, or an HTTP
// endpoint, with a weight). The entries are turned into StrataRL's reward
// sources, and checked, by RLStage.rewards (Stages/RLStages.swift).
// Leaves out: range checks (the stages refuse bad values at start, naming the key).

import Foundation
import StrataRL

/// How rollouts are sampled (StrataRL's RolloutConfig, under the recipe's names).
public struct RLSamplingSection: Codable, RecipeSection, Equatable, Sendable {
    public var maxNewTokens = 24
    public var temperature = 1.0
    public var topK = 0
    public var topP = 1.0
    public var seed = 0
    public var maxBatchRows = 32

    public init() {}

    enum CodingKeys: String, RecipeKey {
        case maxNewTokens = "max_new_tokens", temperature, topK = "top_k", topP = "top_p", seed, maxBatchRows = "max_batch_rows"

        var help: String {
            switch self {
            case .maxNewTokens: return "Completion tokens at most per reply, the end-of-turn token included."
            case .temperature: return "Softmax temperature of sampling (log-probs are read at the same temperature)."
            case .topK: return "Keep the k most likely tokens (0 = off)."
            case .topP: return "Nucleus sampling probability (1 = off)."
            case .seed: return "Sampling seed; each (step, row) derives its own stream, so a resumed run redraws the same replies."
            case .maxBatchRows: return "Rows per batched generate call (memory bound; results do not depend on it)."
            }
        }
    }

    var rolloutConfig: RolloutConfig {
        RolloutConfig(maxNewTokens: maxNewTokens, temperature: Float(temperature), topK: topK, topP: Float(topP),
                      seed: UInt64(seed), maxBatchRows: maxBatchRows)
    }
}

/// Which prompts of the file an RL stage trains on: those whose `column` holds one of `values`.
public struct PromptFilterSection: Codable, RecipeSection, Equatable, Sendable {
    public var column = "kind"
    public var values: [String] = []

    public init() {}

    static var requiredKeys: Set<String> { ["values"] }

    enum CodingKeys: String, RecipeKey {
        case column, values

        var help: String {
            switch self {
            case .column: return "The prompt column to select on (the world's prompt files carry kind, answer, period)."
            case .values: return "Keep the prompts whose column holds one of these values, e.g. [add, reverse]. Required."
            }
        }
    }
}

/// One reward source with its weight. `type` is a rule (exact_match, instruction, format, regex, one_word,
/// json_object, length_penalty, missing_end_of_turn) or reward_model, judge, http.
public struct RewardEntrySection: Codable, RecipeSection, Equatable, Sendable {
    public var type = ""
    public var weight = 1.0
    public var name: String?
    public var checkpoint: String?
    public var judgeTemplate: String?
    public var url: String?
    public var timeoutSeconds: Double?
    public var retries: Int?
    public var column: String?
    public var kindColumn: String?
    public var kind: String?
    public var pattern: String?
    public var fullMatch: Bool?
    public var key: String?
    public var maxTokens: Int?
    public var perToken: Double?
    public var penalty: Double?

    public init() {}
    public init(type: String, weight: Double = 1) { self.type = type; self.weight = weight }

    static var requiredKeys: Set<String> { ["type"] }

    enum CodingKeys: String, RecipeKey {
        case type, weight, name, checkpoint, judgeTemplate = "judge_template", url, timeoutSeconds = "timeout_seconds", retries, column, kindColumn = "kind_column", kind
        case pattern, fullMatch = "full_match", key, maxTokens = "max_tokens", perToken = "per_token", penalty

        var help: String {
            switch self {
            case .type: return "A rule (exact_match, instruction, format, regex, one_word, json_object, length_penalty, missing_end_of_turn), reward_model, judge or http."
            case .weight: return "Weight of this source in the total reward (Σ weight · score)."
            case .name: return "Name in metrics (rewards/<name>/mean) and lineage; defaults to the type."
            case .checkpoint: return "reward_model, judge: the checkpoint (or run directory) to score with."
            case .judgeTemplate: return "judge: a JSON judging template (any of system, single, pair, principles, yes, no, a, b, answer_first, answer_tokens, verdict: answer_word or likelihood); absent = the standard one."
            case .url: return "http: the endpoint (JSON in: prompts and completions; out: one score per completion)."
            case .timeoutSeconds: return "http: seconds to wait for one reply."
            case .retries: return "http: further attempts after a timeout, 429 or 5xx."
            case .column: return "Rules: the prompt column holding the gold answer (default answer)."
            case .kindColumn: return "instruction, format: the prompt column holding the task kind (default kind)."
            case .kind: return "instruction, format: a fixed task kind instead of a column."
            case .pattern: return "regex: the pattern a reply must match."
            case .fullMatch: return "regex: the whole reply must match."
            case .key: return "json_object: the key whose value must be a string (default answer)."
            case .maxTokens: return "length_penalty: reply tokens above which the penalty starts."
            case .perToken: return "length_penalty: penalty per extra token (default 0.01)."
            case .penalty: return "missing_end_of_turn: the penalty for a cut-off reply (default 1)."
            }
        }
    }
}

/// How GRPO turns its per-token losses into the step's loss (StrataRL's LossAggregation).
public enum GRPOLossType: String, RecipeChoice {
    /// Σ m·ℓ over the step's active tokens / their count (DAPO; the default).
    case tokenMean = "token_mean"
    /// Mean over sequences of each sequence's token mean (original GRPO; biased toward short wrong replies).
    case sequenceMean = "sequence_mean"
    /// Σ m·ℓ / (sequences · max_new_tokens) (Dr. GRPO).
    case constant
}

extension GroupAdvantageEstimator: RecipeChoice {}
extension KLEstimator: RecipeChoice {}

/// GRPO and its family (Dr. GRPO, RLOO, DAPO) with verifiable rewards.
public struct GRPOConfig: Codable, RecipeSection, Equatable, Sendable {
    public var prompts = ""
    public var template = "chatml"
    public var skipBadLines = false
    public var promptFilter: PromptFilterSection?
    public var groupSize = 4
    public var promptsPerStep = 2
    public var iterations = 1
    public var lossType: GRPOLossType = .tokenMean
    public var advantage: GroupAdvantageEstimator = .grpo
    public var epsilonLow = 0.2
    public var epsilonHigh = 0.28
    public var beta = 0.0
    public var reference: String?
    public var maskTruncatedCompletions = false
    public var overlongBuffer = 0
    public var overlongFactor = 1.0
    public var dynamicSampling = false
    public var maxSamplingRounds = 4
    public var sampling = RLSamplingSection()
    public var lora: LoRASection?
    public var rewards: [RewardEntrySection] = []
    public var eval: PreferenceEvalSection?

    public init() {}

    static var requiredKeys: Set<String> { ["prompts", "rewards"] }

    enum CodingKeys: String, RecipeKey {
        case prompts, template, skipBadLines = "skip_bad_lines", promptFilter = "prompt_filter", groupSize = "group_size", promptsPerStep = "prompts_per_step"
        case iterations, lossType = "loss_type", advantage, epsilonLow = "epsilon_low", epsilonHigh = "epsilon_high", beta, reference
        case maskTruncatedCompletions = "mask_truncated_completions", overlongBuffer = "overlong_buffer", overlongFactor = "overlong_factor"
        case dynamicSampling = "dynamic_sampling", maxSamplingRounds = "max_sampling_rounds", sampling, lora, rewards, eval

        var help: String {
            switch self {
            case .prompts: return "Prompts: TRL prompt-only JSONL ({\"prompt\": ...} plus columns such as answer and kind). Required."
            case .template: return "Chat template (chatml); start from an SFT checkpoint that carries its tokens."
            case .skipBadLines: return "Skip (and count) bad prompt lines instead of stopping."
            case .promptFilter: return "Train only on the prompts whose column holds one of the listed values (absent = every prompt)."
            case .groupSize: return "G: replies sampled per prompt (at least 2)."
            case .promptsPerStep: return "Prompts per optimizer step (the batch is prompts_per_step × group_size replies)."
            case .iterations: return "μ: optimizer steps on each batch of rollouts (1: the ratio is 1 and the gradient is A·∇log π)."
            case .lossType: return "token_mean (DAPO), sequence_mean (original GRPO) or constant (Dr. GRPO); exact under gradient accumulation."
            case .advantage: return "grpo: (r − mean)/(std + ε); dr_grpo: r − mean; rloo: leave-one-out baseline."
            case .epsilonLow: return "ε_low: the ratio is clipped below at 1 − ε_low."
            case .epsilonHigh: return "ε_high: the ratio is clipped above at 1 + ε_high (clip-higher when above ε_low)."
            case .beta: return "β of a k3 KL loss term to the frozen reference; 0 (default) loads no reference."
            case .reference: return "Reference checkpoint when beta > 0; absent means the checkpoint the stage starts from."
            case .maskTruncatedCompletions: return "Leave replies cut off by max_new_tokens out of the loss."
            case .overlongBuffer: return "DAPO overlong shaping: width of the soft penalty band before max_new_tokens (0 = off)."
            case .overlongFactor: return "DAPO overlong shaping: the penalty at max_new_tokens."
            case .dynamicSampling: return "Drop groups whose rewards are all equal and draw more prompts until the batch is full (DAPO)."
            case .maxSamplingRounds: return "Dynamic sampling: most rounds of drawing per step (then train on the groups found)."
            case .sampling: return "How replies are sampled."
            case .lora: return "Train a LoRA adapter instead of all weights; absent means full fine-tuning."
            case .rewards: return "Reward sources with weights; see the reward entry keys. Required."
            case .eval: return "Evaluation before and after the stage, written into lineage."
            }
        }
    }
}

/// Where PPO's value model starts.
public enum ValueInit: String, RecipeChoice {
    /// The reward model's trunk and head when the reward list names one, else the policy's trunk with a zero head.
    case auto
    case rewardModel = "reward_model"
    case policy
}

/// Where the KL to the reference enters PPO.
public enum KLPlacement: String, RecipeChoice {
    /// −β·KL added to each token's reward (InstructGPT, TRL PPO, OpenRLHF).
    case reward
    /// β·KL added to the policy loss (as GRPO does).
    case loss
}

/// RLHF with PPO: policy, frozen reference, reward sources and a value model.
public struct PPOConfig: Codable, RecipeSection, Equatable, Sendable {
    public var prompts = ""
    public var template = "chatml"
    public var skipBadLines = false
    public var promptFilter: PromptFilterSection?
    public var promptsPerBatch = 8
    public var ppoEpochs = 2
    public var minibatches = 2
    public var reference: String?
    public var valueInit: ValueInit = .auto
    public var gamma = 1.0
    public var lambda = 0.95
    public var epsilon = 0.2
    public var dualClip: Double?
    public var valueClip = 0.2
    public var vfCoef = 0.1
    public var klCoef = 0.05
    public var klPlacement: KLPlacement = .reward
    public var klEstimator: KLEstimator = .k1
    public var klTarget: Double?
    public var klHorizon = 10000.0
    public var whitenRewards = false
    public var rewardClip: Double?
    public var sampling = RLSamplingSection()
    public var lora: LoRASection?
    public var rewards: [RewardEntrySection] = []
    public var eval: PreferenceEvalSection?

    public init() {}

    static var requiredKeys: Set<String> { ["prompts", "rewards"] }

    enum CodingKeys: String, RecipeKey {
        case prompts, template, skipBadLines = "skip_bad_lines", promptFilter = "prompt_filter", promptsPerBatch = "prompts_per_batch", ppoEpochs = "ppo_epochs"
        case minibatches, reference, valueInit = "value_init", gamma, lambda, epsilon, dualClip = "dual_clip", valueClip = "value_clip"
        case vfCoef = "vf_coef", klCoef = "kl_coef", klPlacement = "kl_placement", klEstimator = "kl_estimator", klTarget = "kl_target"
        case klHorizon = "kl_horizon", whitenRewards = "whiten_rewards", rewardClip = "reward_clip", sampling, lora, rewards, eval

        var help: String {
            switch self {
            case .prompts: return "Prompts: TRL prompt-only JSONL. Required."
            case .template: return "Chat template (chatml); start from an SFT checkpoint that carries its tokens."
            case .skipBadLines: return "Skip (and count) bad prompt lines instead of stopping."
            case .promptFilter: return "Train only on the prompts whose column holds one of the listed values (absent = every prompt)."
            case .promptsPerBatch: return "Prompts (one reply each) per rollout batch."
            case .ppoEpochs: return "Passes over each rollout batch."
            case .minibatches: return "Minibatches per pass; one loop step is one minibatch update (steps = batches × ppo_epochs × minibatches)."
            case .reference: return "Frozen reference checkpoint; absent means the checkpoint the stage starts from."
            case .valueInit: return "auto: the reward model's trunk and head when the reward list names one, else the policy's trunk with a zero head."
            case .gamma: return "GAE discount γ."
            case .lambda: return "GAE λ."
            case .epsilon: return "Clip range ε of the policy ratio."
            case .dualClip: return "Dual-clip bound c > 1 for negative advantages (absent = off)."
            case .valueClip: return "Clip range of the value prediction around the rollout's value."
            case .vfCoef: return "Weight of the value loss in the total loss."
            case .klCoef: return "β: KL coefficient (initial value when kl_target is set)."
            case .klPlacement: return "reward: −β·KL per token in the reward; loss: β·KL in the policy loss."
            case .klEstimator: return "k1, k2 or k3 (Schulman's estimators of KL(π‖π_ref) from samples)."
            case .klTarget: return "Adaptive KL controller target (absent = fixed β)."
            case .klHorizon: return "Adaptive KL controller horizon."
            case .whitenRewards: return "Whiten sequence scores over the batch before shaping."
            case .rewardClip: return "Clip sequence scores to ±reward_clip (absent = off)."
            case .sampling: return "How replies are sampled."
            case .lora: return "Train a LoRA adapter on the policy instead of all its weights (the reference is the base: adapters off); the value model trains in full."
            case .rewards: return "Reward sources with weights. Required."
            case .eval: return "Evaluation before and after the stage, written into lineage."
            }
        }
    }
}
