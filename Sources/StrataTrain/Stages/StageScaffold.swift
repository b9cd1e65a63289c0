// The stage scaffold: what every training stage shares besides the loop itself.
// A stage (Pretrain, Continue, Anneal, SFT, Reward, DPO, ...) is one enum that
// conforms to `TrainingStage` and supplies only what is its own — its recipe
// section, model and data, objective, validation, evaluations and extra
// checkpoint files — as `StageParts`. `StageRunner` does the rest, written once:
// opening a run fresh (recipe + overrides, loaded for the stage so its own section
// is required and other stages' are refused; refusing a run directory that holds
// checkpoints, loading the starting checkpoint, inheriting its tokenizer, the
// resolved recipe, the first trainer state) or on resume (the saved recipe, the
// latest valid checkpoint, the stage check, refusing an edited recipe, lineage
// parent and reference), then the optimizer, the checkpoint store and the loop.
// Under mpirun, Distributed/DataParallel+Open.swift opens the same run on every
// rank (rank 0 first, writing; the others after it, reading only).
// Leaves out: the loop (Loop/TrainingRun.swift) and each stage's own parts.

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataCheckpoint
import StrataTokenizer
import StrataRL

/// How a stage run is started: from the command line or a test.
public struct RunOptions {
    /// The checkpoint (or run directory) a stage starts from; nil for pretraining from random weights.
    public var from: String?
    /// Recipe file (YAML). Required for a new run; optional on resume, where it must match the saved recipe.
    public var recipeFile: String?
    /// `--set key.path=value` overrides applied to the recipe.
    public var overrides: [String] = []
    /// A run directory to resume (from its latest valid checkpoint).
    public var resume: String?
    /// Also load the starting checkpoint's AdamW moments (continued pretraining).
    public var optimizerState = false
    /// Resume even though the run's recipe.yaml was edited since the run started (recorded as an event).
    public var acceptEditedRecipe = false
    public var log: (String) -> Void = { Console.line($0) }
    public var interrupt: InterruptFlag?
    /// Test hooks: corrupt chosen steps, or fail checkpoint writes at a point.
    public var inject: ((Int) -> TrainingRun.Injection?)?
    public var fault: FaultPoint?
    /// Print the progress line.
    public var showProgress = true
    /// Where the steps run (`--device cuda`: one NVIDIA GPU, next-token stages).
    public var device = ComputeDevice.cpu
    /// The ranks training together under mpirun (nil: this process alone).
    public var world: World?
    /// Open the run without writing or locking it: the ranks after rank 0, which has opened it already.
    var readOnly = false

    public init(from: String? = nil, recipeFile: String? = nil, overrides: [String] = [], resume: String? = nil) {
        self.from = from; self.recipeFile = recipeFile; self.overrides = overrides; self.resume = resume
    }
}

/// One training stage: what it is called and how it builds its parts from a start.
public protocol TrainingStage {
    static var kind: Stage { get }
    /// Whether a new run needs `--from CHECKPOINT` (every stage but pretraining).
    static var startsFromCheckpoint: Bool { get }
    /// Recipe overrides the stage always applies after the user's (e.g. annealing's LR schedule).
    static var fixedOverrides: [String] { get }
    /// The stage's model, data, objective and collaborators, for a new run or a resumed one.
    static func parts(_ start: StageStart) throws -> StageParts
}

extension TrainingStage {
    public static var startsFromCheckpoint: Bool { true }
    public static var fixedOverrides: [String] { [] }
}

/// What a stage is given to build its parts.
public struct StageStart {
    public var recipe: Recipe
    /// Where the recipe came from (for error messages).
    public var recipeFile: String
    public var runDir: URL
    /// A new run: the checkpoint named by --from (nil when pretraining). A resumed run: the run's own latest checkpoint.
    public var origin: TrainingCheckpoint.Loaded?
    /// The saved trainer state when resuming; nil for a new run.
    public var resumed: TrainerState?
    public var log: (String) -> Void

    public var isResume: Bool { resumed != nil }
    /// A rank other than 0 of a data-parallel world opening the run rank 0 opened: it writes nothing.
    var readOnly = false
    /// The data stream's saved position (nil for a new run).
    public var loaderState: LoaderState? { resumed?.loader }
    var kind: Stage

    /// The origin checkpoint; every stage but pretraining has one.
    public func requireOrigin() throws -> TrainingCheckpoint.Loaded {
        guard let origin else { throw StrataError.config(kind.rawValue, "needs a starting checkpoint", fix: "pass --from CHECKPOINT") }
        return origin
    }
}

/// Evaluation name → metric name → value (as lineage.json stores them).
public typealias Evaluations = [String: [String: Double]]

/// What a stage hands the loop.
public struct StageParts {
    /// The recipe as the stage resolved it (e.g. epochs turned into steps); saved in the run.
    public var recipe: Recipe
    public var model: any CausalLM
    public var tokenizer: BPETokenizer
    public var objective: StepObjective
    /// What the optimizer trains (all parameters, LoRA adapters, or a reward head with its trunk).
    public var trainable: [Tensor]
    /// Data records for lineage.
    public var data: [DataRecord]
    public var validation: Validator
    public var content: CheckpointContent
    /// Evaluations of the final model, recorded in lineage (none by default).
    public var finalEvaluation: (any CausalLM) throws -> Evaluations = { _ in [:] }
    /// A new run only: evaluations of the starting model (recorded as "<name>_before"), start-up events,
    /// and compute already spent (e.g. reference log-probs).
    public var startEvaluations: Evaluations = [:]
    /// A new run only: measurements of the frozen reference, recorded under their own names (no "_before").
    public var referenceEvaluations: Evaluations = [:]
    public var startEvents: [TrainingEvent] = []
    public var startFLOPs = 0.0
    /// A frozen reference model the stage is anchored to (DPO, PPO), recorded in lineage.
    public var reference: ParentRef?
    /// The reward sources of an RL stage, recorded in lineage.
    public var rewardSources: [RewardSourceIdentity]?

    public init(recipe: Recipe, model: any CausalLM, tokenizer: BPETokenizer, objective: StepObjective, trainable: [Tensor]? = nil,
                data: [DataRecord], validation: Validator, content: CheckpointContent) {
        self.recipe = recipe; self.model = model; self.tokenizer = tokenizer; self.objective = objective
        self.trainable = trainable ?? model.parameters; self.data = data; self.validation = validation; self.content = content
    }
}

/// Runs a stage: opens it fresh or on resume, builds its parts, and drives the shared loop.
public enum StageRunner {
    public static func run<S: TrainingStage>(_ stage: S.Type, _ options: RunOptions) throws -> TrainingRun.Outcome {
        if let world = options.world, world.size > 1 { return try runDataParallel(S.self, options, world: world) }
        switch try opening(S.self, options) {
        case .finished(let outcome): return outcome
        case .setup(var setup):
            recordWorldSize(&setup, size: 1, resumed: options.resume != nil, log: options.log)
            return try TrainingRun(setup).run()
        }
    }

    /// A run opened and ready for the loop, or a resumed run that has nothing left to train.
    enum Opening {
        case setup(TrainingRun.Setup)
        case finished(TrainingRun.Outcome)
    }

    static func opening<S: TrainingStage>(_ stage: S.Type, _ options: RunOptions) throws -> Opening {
        guard options.resume != nil else { return .setup(try onDevice(try openFresh(S.self, options), options)) }
        let point = try ResumePoint.open(options, stage: S.kind)
        if let finished = point.finishedNotice {   // nothing to train: say so, and how to go on
            options.log(finished)
            return .finished(TrainingRun.Outcome(step: point.state.step, interrupted: false, lastCheckpoint: point.checkpoint,
                                                 validation: point.state.validation, losses: []))
        }
        return .setup(try onDevice(try openResume(S.self, point, options), options))
    }

    /// Moves a set-up run onto the device the options name (the CPU needs nothing).
    static func onDevice(_ setup: TrainingRun.Setup, _ options: RunOptions) throws -> TrainingRun.Setup {
        var setup = setup
        switch options.device {
        case .cpu:
            break   // fp32, or bf16 products (TrainingRun checks the CPU and wraps the engine)
        case .cuda:
            try GPUEngine.attach(to: &setup, log: options.log)
        }
        return setup
    }

    /// A new run: recipe, starting checkpoint, the stage's parts, the first trainer state.
    static func openFresh<S: TrainingStage>(_ stage: S.Type, _ options: RunOptions) throws -> TrainingRun.Setup {
        let name = S.kind.rawValue
        guard let file = options.recipeFile, options.from != nil || !S.startsFromCheckpoint else {
            throw StrataError.config(name, S.startsFromCheckpoint ? "needs --from CHECKPOINT and --config recipe.yaml (or --resume runs/NAME)"
                                                                  : "no recipe given", fix: "pass --config recipe.yaml (or --resume runs/NAME)")
        }
        let recipe = try RecipeLoader.load(file: URL(fileURLWithPath: file), overrides: options.overrides + S.fixedOverrides, stage: S.kind)
        let runDir = recipe.runDirectory
        let lock = options.readOnly ? nil : try RunLock.acquire(runDirectory: runDir, command: "strata \(name)")
        if let dead = lock?.recovered { options.log("took over the lock of \(runDir.path) left by \(dead), which is no longer running") }
        if !options.readOnly { try refuseExisting(runDir, stage: name) }
        let origin = try options.from.map { try TrainingCheckpoint.load(try TrainingCheckpoint.resolve($0)) }
        var startEvents: [TrainingEvent] = []
        if S.kind != .pretrain, recipe.train.objective == .maskedLM {
            throw StrataError.config(name, "train.objective masked_lm is for strata pretrain (the roberta encoder stops at pretraining)",
                                     fix: "remove train.objective from the \(name) recipe")
        }
        if let origin {
            try origin.model.requireDecoder(for: "strata \(name)", source: "checkpoint \(origin.checkpoint.url.path)")
            try requireFits(recipe, origin.model, checkpoint: origin.checkpoint.url.path)
            startEvents += applyDropout(recipe, to: origin, log: options.log)
        }
        var start = StageStart(recipe: recipe, recipeFile: file, runDir: runDir, origin: origin, resumed: nil, log: options.log, kind: S.kind)
        start.readOnly = options.readOnly
        let parts = try S.parts(start)
        if !options.readOnly { try parts.recipe.writeResolved(to: runDir) }
        var state = TrainerState(stage: name, step: 0, totalSteps: parts.recipe.totalSteps, tokensSeen: 0, optimizerStep: 0,
                                 loader: parts.objective.state, spikeGuard: SpikeGuard(config: parts.recipe.spikeGuard), lastLR: 0,
                                 wallSeconds: 0, flops: parts.startFLOPs, events: startEvents + parts.startEvents, validation: [:],
                                 recipeSHA256: SHA256.hex(try parts.recipe.resolvedJSON()), parentCheckpoint: origin?.id)
        state.evaluations = Dictionary(uniqueKeysWithValues: parts.startEvaluations.map { ($0.key + "_before", $0.value) })
            .merging(parts.referenceEvaluations) { $1 }
        let parent: ParentRef = origin.map { .checkpoint(id: $0.id, sha256: $0.contentHash) } ?? .randomInit
        var setup = try TrainingRun.Setup(parts: parts, state: state, parentLineage: origin?.lineage ?? Lineage(), parent: parent,
                                          runDir: runDir, options: options)
        setup.lock = lock
        if let origin, options.optimizerState {
            try TrainingCheckpoint.restoreOptimizer(setup.optimizer, from: origin.checkpoint)
            setup.state.optimizerStep = setup.optimizer.step
        }
        return setup
    }

    /// A run directory resumed from its latest valid checkpoint, with the recipe it was started with.
    static func openResume<S: TrainingStage>(_ stage: S.Type, _ r: ResumePoint, _ options: RunOptions) throws -> TrainingRun.Setup {
        let file = r.runDir.appendingPathComponent("recipe.yaml").path
        options.log("resuming \(r.runDir.lastPathComponent) from \(r.checkpoint.name) (step \(r.state.step) of \(r.state.totalSteps))")
        let parts = try S.parts(StageStart(recipe: r.recipe, recipeFile: file, runDir: r.runDir, origin: r.loaded, resumed: r.state,
                                           log: options.log, kind: S.kind))
        var parentLineage = r.loaded.lineage
        let head = parentLineage.entries.popLast()
        var state = r.state
        state.events += r.events
        state.events.append(TrainingEvent(step: r.state.step, kind: .resume, detail: "resumed from \(r.checkpoint.name)"))
        var setup = try TrainingRun.Setup(parts: parts, state: state, parentLineage: parentLineage, parent: head?.parent ?? .randomInit,
                                          runDir: r.runDir, options: options)
        setup.reference = head?.reference
        setup.lock = r.lock
        try TrainingCheckpoint.restoreOptimizer(setup.optimizer, from: r.checkpoint)
        return setup
    }

    /// A new run must not overwrite a run directory that already holds checkpoints.
    static func refuseExisting(_ runDir: URL, stage: String) throws {
        let ckptRoot = runDir.appendingPathComponent("checkpoints")
        if FileManager.default.fileExists(atPath: ckptRoot.path), (try? CheckpointStore(root: ckptRoot))?.latestValid() != nil {
            throw StrataError.config(stage, "run directory \(runDir.path) already holds checkpoints",
                                     fix: "resume it with --resume \(runDir.path), or pick another run.name (--set run.name=...)")
        }
    }

    /// The recipe's model.dropout is what a stage trains with, whatever the starting checkpoint's config.json says
    /// (a Hugging Face config carries 0.1); a change is logged and recorded.
    static func applyDropout(_ recipe: Recipe, to origin: TrainingCheckpoint.Loaded, log: (String) -> Void) -> [TrainingEvent] {
        let p = Float(recipe.model.dropout), rates = origin.model.dropoutRates
        guard rates.contains(where: { $0.rate != p }) else { return [] }
        origin.model.setDropout(p)
        let detail = "dropout \(p) from the recipe (model.dropout) replaces the checkpoint's "
            + rates.map { "\($0.name) \($0.rate)" }.joined(separator: ", ")
        log(detail)
        return [TrainingEvent(step: 0, kind: .config, detail: detail)]
    }

    /// The recipe's context must fit the checkpoint's positions.
    static func requireFits(_ recipe: Recipe, _ model: any CausalLM, checkpoint: String) throws {
        if recipe.context > model.contextLength {
            throw StrataError.config("recipe", "train.context \(recipe.context) exceeds the checkpoint's n_positions \(model.contextLength) (\(checkpoint))")
        }
    }
}
