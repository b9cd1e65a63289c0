// TrainingRun: the loop every stage shares (pretrain, continue, anneal, SFT,
// reward, DPO; stages build their parts in Stages/ and StageRunner opens them). Per step: the schedule's learning rate, the stage's objective
// over its micro-batches (next-token loss normalised by the step's global count of
// trained positions; Bradley–Terry; DPO), global-norm clipping, the spike guard's verdict (apply, skip,
// or roll back to the last stable checkpoint), metrics and progress, periodic
// validation per source and checkpoints. SIGINT/SIGTERM finish the step, save,
// and return. Dropout randomness is derived from (seed, step, micro-batch), so a
// resumed run replays exactly.
// The step's gradients and update go through an UpdateEngine (the CPU's tensors, or
// a GPU's copies with --device cuda, or the CPU's with gradients summed over the
// ranks of a data-parallel world). In a world of N ranks every decision is taken
// from values all ranks share (summed losses and gradients, an interrupt raised on
// any rank, rank 0's view of the checkpoint store), and rank 0 alone writes
// metrics and checkpoints while the others wait at a barrier.
// train.precision bf16 on the CPU: the whole run (steps, validation, evaluations)
// computes its matrix products in bf16 with fp32 accumulation, over bf16 copies of
// the fp32 master weights refreshed after each update (CPUBF16Engine); checkpoints
// hold the fp32 master weights.
// Leaves out: fp16 and loss scaling.

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataCheckpoint
import StrataTokenizer

public final class TrainingRun {
    /// A test hook that corrupts the step fed a given batch (keyed by the loader's batch index, i.e. by
    /// the data, so a rollback that skips the batch does not meet it again): scale loss and gradients, or NaN.
    public enum Injection: Sendable { case scale(Float), nan }

    /// Everything one run of the loop holds: the stage's parts, the optimizer over its trainable tensors,
    /// the trainer state, the lineage it extends, the checkpoint store and the run's options.
    public struct Setup {
        public var parts: StageParts
        public var recipe: Recipe { parts.recipe }
        public var model: any CausalLM { parts.model }
        public var runDir: URL
        public var stage: Stage
        /// The AdamW state this process updates: every trainable tensor's, or (ZeRO-1) its shard's.
        public internal(set) var optimizer: AdamW
        public var state: TrainerState
        public var schedule: LRSchedule
        /// Lineage of the checkpoint this stage started from (empty for random init).
        public var parentLineage: Lineage
        public var parent: ParentRef
        /// A frozen reference model the stage is anchored to, recorded in lineage.
        public var reference: ParentRef?
        public var store: CheckpointStore
        public var log: (String) -> Void
        public var interrupt: InterruptFlag?
        public var inject: ((Int) -> Injection?)?
        /// Most rollbacks before the run gives up with an error.
        public var maxRollbacks = 5
        /// Print the progress line (off in tests and embedded use).
        public var showProgress: Bool
        /// This process's exclusive lock on the run directory, held for the run's lifetime.
        var lock: RunLock?
        /// Where gradients and updates live (the CPU's tensors, or a GPU's copies).
        var engine: UpdateEngine
        /// The ranks training together (nil: this process alone), and which of a step's micro-batches this one trains.
        var world: World?
        var share = MicroBatchShare.whole
        /// Per-micro-batch gradient sums (objectives that keep micro-batch terms).
        var gradients: MicroBatchGradients?
        /// Whether this process writes the run's files (rank 0, or the only process).
        var writes: Bool { world?.isRoot ?? true }

        init(parts: StageParts, state: TrainerState, parentLineage: Lineage, parent: ParentRef, runDir: URL, options: RunOptions) throws {
            // Activations for the recipe's batch must fit before the first step allocates them.
            try parts.model.checkTrainingMemory(batch: parts.recipe.train.batchSize, context: parts.recipe.context, source: "recipe")
            let o = parts.recipe.optim
            self.parts = parts
            optimizer = AdamW(parts.trainable, config: .init(lr: Float(o.lr), beta1: Float(o.beta1), beta2: Float(o.beta2),
                                                             eps: Float(o.eps), weightDecay: Float(o.weightDecay)))
            store = try CheckpointStore(root: runDir.appendingPathComponent("checkpoints"),
                                        config: .init(keepLast: parts.recipe.train.keepLast, fault: options.fault))
            self.state = state; self.parentLineage = parentLineage; self.parent = parent; self.runDir = runDir
            stage = Stage(rawValue: state.stage)
            schedule = LRSchedule(recipe: parts.recipe)
            reference = parts.reference
            log = options.log; interrupt = options.interrupt; inject = options.inject; showProgress = options.showProgress
            engine = CPUEngine(trainable: parts.trainable, optimizer: optimizer)
            world = options.world
            gradients = parts.objective.splitsAcrossRanks ? MicroBatchGradients(parts.trainable) : nil
        }
    }

    public struct Outcome {
        public var step: Int
        public var interrupted: Bool
        public var lastCheckpoint: Checkpoint?
        public var validation: [String: Double]
        /// Loss of each step run in this session, in order (skipped steps included).
        public var losses: [Double]
    }

    var s: Setup
    /// metrics.jsonl (rank 0 only in a data-parallel world).
    let metrics: MetricsLog?
    /// TensorBoard event files beside metrics.jsonl (run.tensorboard).
    let tensorboard: TensorBoardWriter?
    let progress: ProgressLine?
    var losses: [Double] = []
    var lastCheckpoint: Checkpoint?
    var rollbacks = 0
    let sessionStart = DispatchTime.now().uptimeNanoseconds
    let sessionStartStep: Int

    public init(_ setup: Setup) throws {
        s = setup
        if setup.recipe.train.precision == .bf16 && !(setup.engine is GPUEngine) {
            try CPUMatmulFeatures.detected.requireNativeBF16("\(setup.stage.rawValue): train.precision bf16")
            s.engine = CPUBF16Engine(inner: setup.engine)
        }
        metrics = setup.writes ? try MetricsLog(url: setup.runDir.appendingPathComponent("metrics.jsonl")) : nil
        tensorboard = setup.writes && setup.recipe.run.tensorboard
            ? try TensorBoardWriter(directory: setup.runDir.appendingPathComponent("tensorboard")) : nil
        _ = try metrics?.truncate(keepingThrough: setup.state.step)
        progress = !setup.showProgress || !setup.writes ? nil
            : isatty(STDERR_FILENO) != 0 ? .forStandardError(interval: setup.recipe.train.logInterval)
                                         : .forStandardOutput(interval: setup.recipe.train.logInterval)
        sessionStartStep = setup.state.step
    }

    public func run() throws -> Outcome {
        guard s.engine is CPUBF16Engine else { return try runSteps() }
        // Every parameter the run computes with keeps a cached bf16 copy (frozen ones too: LoRA's base weights).
        return try Backend.shared.withPrecision(.bf16, cachedWeights: s.model.parameters + s.parts.trainable) { try runSteps() }
    }

    private func runSteps() throws -> Outcome {
        let total = s.state.totalSteps
        try s.engine.pushFromHost()
        if rootSays(s.state.step == 0 && lastCheckpointName() == nil) {
            try checkpoint(markStable: true)  // step 0: a rollback target that always exists
        }
        while s.state.step < total {
            if let sig = interruptSignal() { return try stopForSignal(sig) }
            try step()
            let st = s.state.step
            let every = s.recipe.train.evalInterval   // 0: only at the end
            if (every > 0 && st % every == 0) || st == total { try evaluate() }
            if st == total && s.writes {
                progress?.end()
                try s.engine.pullToHost()
                for (k, v) in try s.parts.finalEvaluation(s.model) { s.state.evaluations[k] = v }
            }
            if st % s.recipe.train.checkpointInterval == 0 || st == total { try checkpoint() }
        }
        progress?.end()
        return Outcome(step: s.state.step, interrupted: false, lastCheckpoint: lastCheckpoint, validation: s.state.validation, losses: losses)
    }

    private func step() throws {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = s.recipe, step = s.state.step
        let lr = s.schedule.lr(step) * s.state.spikeGuard.lrMultiplier
        let firstBatch = s.parts.objective.state.step
        let seed = UInt64(r.train.seed) &* 0x9E37_79B9 &+ UInt64(step) &* 131
        var plan = StepPlan(accum: r.train.gradAccum, share: s.share, gradients: s.gradients) { seed &+ UInt64($0) }
        plan.exchange = s.world
        var out = try s.parts.objective.run(plan)
        if let world = s.world { out = world.combine(out) }
        guard var loss = out.loss else { return try skipEmptyStep(step, out: out, t0: t0) }
        if let inj = s.inject?(firstBatch) { loss = applyInjection(inj, loss: loss) }
        let gradNorm = try s.engine.gradientNorm(clip: r.optim.gradClip > 0 ? Float(r.optim.gradClip) : nil)
        var events: [String] = []
        let verdict = r.spikeGuard.enabled || !loss.isFinite || !gradNorm.isFinite
            ? s.state.spikeGuard.check(step: step, loss: loss, gradNorm: gradNorm) : .accept
        switch verdict {
        case .accept:
            try s.engine.update(lr: Float(lr))
        case .skip(let why):
            events.append("spike: " + why)
            s.state.events.append(TrainingEvent(step: step, kind: .spike, detail: why))
            s.log("step \(step): update skipped (\(why))")
        case .rollback(let why):
            try s.engine.zeroGrad()
            try rollback(at: step, reason: why, loss: loss)
            return
        }
        try s.engine.zeroGrad()
        try finishStep(loss: loss, lr: lr, gradNorm: gradNorm, out: out, events: events, t0: t0)
    }

    /// A step whose micro-batches carry no trained position: nothing to learn, so no update (and no division by zero).
    private func skipEmptyStep(_ step: Int, out: StepOutcome, t0: UInt64) throws {
        let why = "no position in the step's batches carries a loss"
        s.state.events.append(TrainingEvent(step: step, kind: .emptyBatch, detail: why))
        s.log("step \(step): update skipped (\(why))")
        try finishStep(loss: nil, lr: s.schedule.lr(step) * s.state.spikeGuard.lrMultiplier, gradNorm: nil, out: out,
                   events: ["empty: " + why], t0: t0)
    }

    private func finishStep(loss: Double?, lr: Double, gradNorm: Double?, out: StepOutcome, events: [String], t0: UInt64) throws {
        let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        let tokens = out.tokens
        s.state.step += 1
        s.state.tokensSeen += tokens
        s.state.optimizerStep = s.engine.optimizerStep
        s.state.lastLR = lr
        s.state.wallSeconds += dt
        s.state.flops += out.flops
        if let loss { losses.append(loss) }
        let entry = MetricsRecord(step: s.state.step, loss: loss, lr: lr, gradNorm: gradNorm, tokensPerSecond: Double(tokens) / dt,
                                   tokensSeen: s.state.tokensSeen, elapsedSeconds: s.state.wallSeconds, events: events,
                                   extra: out.metrics.isEmpty ? nil : out.metrics)
        try record(entry)
        progress?.emit(.init(step: s.state.step, totalSteps: s.state.totalSteps, loss: loss ?? .nan, lr: lr, tokensPerSecond: Double(tokens) / dt,
                            elapsedSeconds: Double(DispatchTime.now().uptimeNanoseconds - sessionStart) * 1e-9, sessionStartStep: sessionStartStep))
    }

    /// One record into metrics.jsonl (and TensorBoard when the recipe asks).
    func record(_ r: MetricsRecord) throws {
        try metrics?.append(r)
        try tensorboard?.add(r)
    }

    /// A decision rank 0 takes from what it sees (e.g. the checkpoint store), shared with every rank.
    func rootSays(_ value: Bool) -> Bool {
        guard let world = s.world else { return value }
        return world.allReduceMax(world.isRoot && value ? 1 : 0) == 1
    }

    /// SIGINT or SIGTERM raised on this process, or on any rank of the world (all stop at the same step).
    func interruptSignal() -> Int32? {
        let local = s.interrupt?.signal
        guard let world = s.world else { return local }
        let any = world.allReduceMax(Int(local ?? 0))
        return any == 0 ? nil : Int32(any)
    }

    private func applyInjection(_ inj: Injection, loss: Double) -> Double {
        let factor: Float
        switch inj { case .scale(let f): factor = f; case .nan: factor = .nan }
        for p in s.parts.trainable { if let g = p.grad { let q = g.ptr; for i in 0..<g.count { q[i] *= factor } } }
        return loss * Double(factor)
    }

    private func stopForSignal(_ sig: Int32) throws -> Outcome {
        progress?.end()
        let name = sig == SIGINT ? "SIGINT" : "SIGTERM"
        s.state.events.append(TrainingEvent(step: s.state.step, kind: .interrupt, detail: "\(name) received"))
        try checkpoint()
        s.log("\(name): saved checkpoint \(lastCheckpoint?.name ?? "?") at step \(s.state.step). "
              + "Resume with: strata \(s.stage.rawValue) --resume \(s.runDir.path)")
        return Outcome(step: s.state.step, interrupted: true, lastCheckpoint: lastCheckpoint, validation: s.state.validation, losses: losses)
    }
}
