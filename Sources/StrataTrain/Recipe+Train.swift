// The recipe's `train`, `optim`, `guard` and `run` sections (defaults are the
// property initial values, help lines in CodingKeys) and the derived quantities
// the loop needs (tokens per step, total steps).
// Leaves out: the loop itself, optimizer state.

import Foundation

/// Batch shape, length and cadence of a run.
public struct TrainConfig: Codable, RecipeSection, Equatable, Sendable {
    public var batchSize = 8
    public var gradAccum = 1
    public var context: Int?
    public var steps: Int?
    public var tokenBudget: Int?
    public var seed = 1337
    public var evalInterval = 100
    public var evalBatches = 8
    public var checkpointInterval = 250
    public var keepLast = 3
    public var logInterval = 10
    public var precision = TrainPrecision.fp32
    public var allowTF32 = false
    public var zeroStage = 0
    /// What pretraining predicts; nil = the family's own (causal_lm for gpt2/llama, masked_lm for roberta).
    public var objective: TrainObjective?

    public init() {}

    enum CodingKeys: String, RecipeKey {
        case batchSize = "batch_size", gradAccum = "grad_accum", context, steps, tokenBudget = "token_budget"
        case seed, evalInterval = "eval_interval", evalBatches = "eval_batches"
        case checkpointInterval = "checkpoint_interval", keepLast = "keep_last", logInterval = "log_interval"
        case precision, allowTF32 = "allow_tf32", zeroStage = "zero_stage", objective

        var help: String {
            switch self {
            case .batchSize: return "Sequences per micro-batch."
            case .gradAccum: return "Micro-batches accumulated per optimizer step."
            case .context: return "Tokens per training sequence, at most model.n_positions; absent means model.n_positions."
            case .steps: return "Optimizer steps to run. Set this or token_budget (or a stage section's epochs)."
            case .tokenBudget: return "Tokens to train on; steps = ceil(budget / tokens per step). Set this or steps."
            case .seed: return "Seed for initialisation, data order and dropout."
            case .evalInterval: return "Evaluate on validation data every this many steps (0 = only at the end)."
            case .evalBatches: return "Validation batches per evaluation."
            case .checkpointInterval: return "Save a checkpoint every this many steps (the last step is always saved)."
            case .keepLast: return "Checkpoints kept in the run directory (oldest deleted; stable ones preferred); at least 2."
            case .logInterval: return "Write a metrics line and progress every this many steps."
            case .precision: return "Matrix products in fp32, or bf16 with fp32 accumulation and fp32 master weights (CPU: needs AVX-512 BF16 or AMX; or --device cuda)."
            case .allowTF32: return "With --device cuda and fp32: let fp32 matrix products use TF32 tensor cores (10-bit mantissa inputs)."
            case .objective: return "What pretraining predicts: causal_lm (next token; gpt2, llama) or masked_lm (15% of tokens selected, 80/10/10 mask/random/kept; roberta). Absent: the family's own."
            case .zeroStage: return "Under mpirun: 0 = every rank keeps all AdamW moments; 1 = ZeRO-1, each rank keeps and updates the moments of its share of the parameters (one process: no effect)."
            }
        }
    }
}

/// The pretraining objective: next-token prediction (decoders) or masked-token prediction (the roberta encoder).
public enum TrainObjective: String, RecipeChoice {
    case causalLM = "causal_lm", maskedLM = "masked_lm"
}

/// The arithmetic of matrix products in training.
public enum TrainPrecision: String, RecipeChoice { case fp32, bf16 }

/// AdamW settings and the learning-rate schedule.
public struct OptimConfig: Codable, RecipeSection, Equatable, Sendable {
    public var lr = 6e-4
    public var minLR = 6e-5
    public var warmupSteps = 100
    public var schedule: ScheduleKind = .cosine
    public var decayFraction = 0.2
    public var decayShape: DecayShape = .oneMinusSqrt
    public var weightDecay = 0.1
    public var beta1 = 0.9
    public var beta2 = 0.95
    public var eps = 1e-8
    public var gradClip = 1.0

    public init() {}

    enum CodingKeys: String, RecipeKey {
        case lr, minLR = "min_lr", warmupSteps = "warmup_steps", schedule, decayFraction = "decay_fraction"
        case decayShape = "decay_shape", weightDecay = "weight_decay", beta1, beta2, eps, gradClip = "grad_clip"

        var help: String {
            switch self {
            case .lr: return "Peak learning rate (reached at the end of warmup)."
            case .minLR: return "Floor the schedule decays to; at most lr."
            case .warmupSteps: return "Linear warmup steps from near zero to lr; fewer than the run's steps."
            case .schedule: return "Shape after warmup; anneal decays from the starting checkpoint's LR to min_lr."
            case .decayFraction: return "wsd only: fraction of all steps spent in the final decay."
            case .decayShape: return "Curve of the wsd decay and of anneal."
            case .weightDecay: return "Decoupled (AdamW) weight decay."
            case .beta1: return "Adam first-moment decay."
            case .beta2: return "Adam second-moment decay."
            case .eps: return "Adam denominator epsilon."
            case .gradClip: return "Clip the global gradient norm to this (0 = no clipping)."
            }
        }
    }
}

/// Learning-rate schedule after warmup.
public enum ScheduleKind: String, RecipeChoice {
    /// Cosine from `lr` to `min_lr` over all post-warmup steps.
    case cosine
    /// Warmup–stable–decay: hold `lr`, then decay over the last `decay_fraction` of steps.
    case wsd
    /// Hold `lr` after warmup.
    case constant
    /// Straight line from `lr` to `min_lr` over all post-warmup steps.
    case linear
    /// Decay from the starting checkpoint's LR to `min_lr` over the run (annealing stage).
    case anneal
}

/// Curve of a decay from a start value to a floor, as a function of progress p in [0, 1].
public enum DecayShape: String, RecipeChoice {
    /// 1 − p.
    case linear
    /// (1 + cos πp) / 2.
    case cosine
    /// 1 − √p: drops fast, then flattens (common for WSD cooldowns).
    case oneMinusSqrt = "1-sqrt"
}

/// Settings of the loss-spike guard (see SpikeGuard).
public struct GuardConfig: Codable, RecipeSection, Equatable, Sendable {
    public var enabled = true
    public var window = 128
    public var minHistory = 64
    public var sigma = 6.0
    public var gradSigma = 6.0
    public var maxSpikesBeforeRollback = 3
    public var spikeSpan = 100
    public var lrFactorOnRollback = 0.5
    public var stableSteps = 100

    public init() {}

    enum CodingKeys: String, RecipeKey {
        case enabled, window, minHistory = "min_history", sigma, gradSigma = "grad_sigma"
        case maxSpikesBeforeRollback = "max_spikes_before_rollback", spikeSpan = "spike_span"
        case lrFactorOnRollback = "lr_factor_on_rollback", stableSteps = "stable_steps"

        var help: String {
            switch self {
            case .enabled: return "Turn spike detection on; off still stops updates on NaN/Inf."
            case .window: return "Accepted steps the statistics are computed over."
            case .minHistory: return "Accepted steps needed before spikes are judged at all."
            case .sigma: return "A loss more than this many standard deviations above the window mean is a spike."
            case .gradSigma: return "The same for the log gradient norm."
            case .maxSpikesBeforeRollback: return "Spikes within spike_span steps that trigger a rollback."
            case .spikeSpan: return "Span of recent steps over which spikes are counted."
            case .lrFactorOnRollback: return "Multiply the learning rate by this after each rollback."
            case .stableSteps: return "Steps without any spike before a checkpoint is marked stable."
            }
        }
    }
}

/// Where a run writes checkpoints, metrics and the resolved recipe.
public struct RunConfig: Codable, RecipeSection, Equatable, Sendable {
    public var dir = "runs"
    public var name: String?
    public var tensorboard = false

    public init() {}

    enum CodingKeys: String, RecipeKey {
        case dir, name, tensorboard

        var help: String {
            switch self {
            case .dir: return "Parent directory of runs."
            case .name: return "The run's name (its directory is dir/name); absent means the recipe file's name."
            case .tensorboard: return "Also write TensorBoard event files (run directory/tensorboard) beside metrics.jsonl."
            }
        }
    }
}

// MARK: - Derived quantities

extension Recipe {
    /// Sequence length used for training (train.context, else the model's).
    public var context: Int { train.context ?? model.nPositions }

    /// Tokens consumed by one optimizer step (saturating at Int.max for absurd recipes).
    public var tokensPerStep: Int { Recipe.saturatingProduct([train.batchSize, train.gradAccum, context]) }

    /// Optimizer steps of the run: `train.steps`, or the token budget rounded up to whole steps.
    public var totalSteps: Int {
        if let s = train.steps { return s }
        guard let budget = train.tokenBudget, budget > 0, tokensPerStep > 0 else { return 0 }
        return budget / tokensPerStep + (budget % tokensPerStep == 0 ? 0 : 1)
    }

    /// Product that stops at Int.max instead of trapping.
    static func saturatingProduct(_ xs: [Int]) -> Int {
        var p = 1
        for x in xs {
            let (r, overflow) = p.multipliedReportingOverflow(by: x)
            if overflow { return Int.max }
            p = r
        }
        return p
    }

    /// The run directory `run.dir/run.name`.
    public var runDirectory: URL {
        URL(fileURLWithPath: run.dir).appendingPathComponent(run.name ?? "run")
    }
}
