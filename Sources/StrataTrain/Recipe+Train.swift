// The recipe's `train`, `optim`, `guard` and `run` sections, with their
// documented defaults and the derived quantities the loop needs (tokens per
// step, total steps).
// Leaves out: the loop itself, optimizer state.

import Foundation

/// Batch shape, length and cadence of a run.
public struct TrainConfig: Codable, Equatable, Sendable {
    /// Sequences per micro-batch. Default 8.
    public var batchSize = 8
    /// Micro-batches accumulated per optimizer step. Default 1.
    public var gradAccum = 1
    /// Tokens per training sequence; at most `model.n_positions`. Default: `model.n_positions`.
    public var context: Int?
    /// Optimizer steps to run. Set this or `token_budget`.
    public var steps: Int?
    /// Tokens to train on; steps = ceil(budget / tokens per step). Set this or `steps`.
    public var tokenBudget: Int?
    /// Seed for initialisation, data order and dropout. Default 1337.
    public var seed = 1337
    /// Evaluate on validation data every this many steps (0 = only at the end). Default 100.
    public var evalInterval = 100
    /// Validation batches per evaluation. Default 8.
    public var evalBatches = 8
    /// Save a checkpoint every this many steps (the last step is always saved). Default 250.
    public var checkpointInterval = 250
    /// Checkpoints kept in the run directory (oldest deleted; stable ones preferred). At least 2. Default 3.
    public var keepLast = 3
    /// Write a metrics line and progress every this many steps. Default 10.
    public var logInterval = 10

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case batchSize = "batch_size", gradAccum = "grad_accum", context, steps, tokenBudget = "token_budget"
        case seed, evalInterval = "eval_interval", evalBatches = "eval_batches"
        case checkpointInterval = "checkpoint_interval", keepLast = "keep_last", logInterval = "log_interval"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.fill(&batchSize, .batchSize)
        try c.fill(&gradAccum, .gradAccum)
        try c.fill(&context, .context)
        try c.fill(&steps, .steps)
        try c.fill(&tokenBudget, .tokenBudget)
        try c.fill(&seed, .seed)
        try c.fill(&evalInterval, .evalInterval)
        try c.fill(&evalBatches, .evalBatches)
        try c.fill(&checkpointInterval, .checkpointInterval)
        try c.fill(&keepLast, .keepLast)
        try c.fill(&logInterval, .logInterval)
    }
}

/// AdamW settings and the learning-rate schedule.
public struct OptimConfig: Codable, Equatable, Sendable {
    /// Peak learning rate (reached at the end of warmup). Default 6e-4.
    public var lr = 6e-4
    /// Floor the schedule decays to; at most `lr`. Default 6e-5.
    public var minLR = 6e-5
    /// Linear warmup steps from near zero to `lr`; fewer than the run's steps. Default 100.
    public var warmupSteps = 100
    /// Shape after warmup: cosine, wsd, constant, linear, or anneal (from the current LR to `min_lr`). Default cosine.
    public var schedule: ScheduleKind = .cosine
    /// WSD only: fraction of all steps spent in the final decay. Default 0.2.
    public var decayFraction = 0.2
    /// Curve of the WSD decay and of anneal: linear, cosine or 1-sqrt. Default 1-sqrt.
    public var decayShape: DecayShape = .oneMinusSqrt
    /// Decoupled (AdamW) weight decay. Default 0.1.
    public var weightDecay = 0.1
    /// Adam first-moment decay. Default 0.9.
    public var beta1 = 0.9
    /// Adam second-moment decay. Default 0.95.
    public var beta2 = 0.95
    /// Adam denominator epsilon. Default 1e-8.
    public var eps = 1e-8
    /// Clip the global gradient norm to this (0 = no clipping). Default 1.0.
    public var gradClip = 1.0

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case lr, minLR = "min_lr", warmupSteps = "warmup_steps", schedule, decayFraction = "decay_fraction"
        case decayShape = "decay_shape", weightDecay = "weight_decay", beta1, beta2, eps, gradClip = "grad_clip"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.fill(&lr, .lr)
        try c.fill(&minLR, .minLR)
        try c.fill(&warmupSteps, .warmupSteps)
        try c.fill(&schedule, .schedule)
        try c.fill(&decayFraction, .decayFraction)
        try c.fill(&decayShape, .decayShape)
        try c.fill(&weightDecay, .weightDecay)
        try c.fill(&beta1, .beta1)
        try c.fill(&beta2, .beta2)
        try c.fill(&eps, .eps)
        try c.fill(&gradClip, .gradClip)
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

    public init(from decoder: Decoder) throws { self = try Self.decodeChoice(from: decoder) }
}

/// Curve of a decay from a start value to a floor, as a function of progress p in [0, 1].
public enum DecayShape: String, RecipeChoice {
    /// 1 − p.
    case linear
    /// (1 + cos πp) / 2.
    case cosine
    /// 1 − √p: drops fast, then flattens (common for WSD cooldowns).
    case oneMinusSqrt = "1-sqrt"

    public init(from decoder: Decoder) throws { self = try Self.decodeChoice(from: decoder) }
}

/// Settings of the loss-spike guard (see SpikeGuard).
public struct GuardConfig: Codable, Equatable, Sendable {
    /// Turn spike detection on. Off still stops updates on NaN/Inf. Default true.
    public var enabled = true
    /// Accepted steps the statistics are computed over. Default 128.
    public var window = 128
    /// Accepted steps needed before spikes are judged at all. Default 64.
    public var minHistory = 64
    /// A loss more than this many standard deviations above the window mean is a spike. Default 6.
    public var sigma = 6.0
    /// The same for log gradient norm. Default 6.
    public var gradSigma = 6.0
    /// Spikes within `spike_span` steps that trigger a rollback. Default 3.
    public var maxSpikesBeforeRollback = 3
    /// Span of recent steps over which spikes are counted. Default 100.
    public var spikeSpan = 100
    /// Multiply the learning rate by this after each rollback. Default 0.5.
    public var lrFactorOnRollback = 0.5
    /// Steps without any spike before a checkpoint is marked stable. Default 100.
    public var stableSteps = 100

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case enabled, window, minHistory = "min_history", sigma, gradSigma = "grad_sigma"
        case maxSpikesBeforeRollback = "max_spikes_before_rollback", spikeSpan = "spike_span"
        case lrFactorOnRollback = "lr_factor_on_rollback", stableSteps = "stable_steps"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.fill(&enabled, .enabled)
        try c.fill(&window, .window)
        try c.fill(&minHistory, .minHistory)
        try c.fill(&sigma, .sigma)
        try c.fill(&gradSigma, .gradSigma)
        try c.fill(&maxSpikesBeforeRollback, .maxSpikesBeforeRollback)
        try c.fill(&spikeSpan, .spikeSpan)
        try c.fill(&lrFactorOnRollback, .lrFactorOnRollback)
        try c.fill(&stableSteps, .stableSteps)
    }
}

/// Where a run writes checkpoints, metrics and the resolved recipe.
public struct RunConfig: Codable, Equatable, Sendable {
    /// Parent directory of runs. Default "runs".
    public var dir = "runs"
    /// The run's name (its directory is `dir/name`). Default: the recipe file's name without extension.
    public var name: String?

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable { case dir, name }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.fill(&dir, .dir)
        try c.fill(&name, .name)
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
