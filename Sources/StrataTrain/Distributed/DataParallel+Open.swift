// Opening one run on every rank of a data-parallel world. The ranks first compare
// how they were launched (stage, recipe file contents, options) and refuse to start
// when any differs. Rank 0 then opens the run as one process would — taking the run
// directory's lock, training the tokenizer and preparing shards, writing the
// resolved recipe — while the others wait; then the others open the same run
// read-only (shards and tokenizer are reused, nothing is written). Rank 0's trainer
// state, weights and AdamW moments are broadcast, so every rank starts from rank 0's
// bits. The world size is recorded in the trainer state and lineage; resuming with
// another world size keeps the global batch and the data position.
// With train.zero_stage 1 each rank then keeps only its shard of the moments
// (ZeROEngine.swift).
// Leaves out: run directories that are not on a file system every rank sees.

import Foundation
import StrataCore
import StrataTensor

extension StageRunner {
    static func runDataParallel<S: TrainingStage>(_ stage: S.Type, _ options: RunOptions, world: World) throws -> TrainingRun.Outcome {
        let name = S.kind.rawValue
        try world.requireSameLaunch(launchFingerprint(S.self, options), stage: name)
        guard options.device == .cpu else {
            throw StrataError.config("\(name) on \(world.size) ranks", "data parallel trains on CPUs; --device \(options.device.rawValue) runs one process",
                                     fix: "drop --device, or run without mpirun")
        }
        var follower = options
        follower.readOnly = true
        var opened: Opening?
        if world.isRoot { opened = try opening(S.self, options) }
        world.barrier()
        if !world.isRoot { opened = try opening(S.self, follower) }
        world.barrier()
        var setup: TrainingRun.Setup
        switch opened! {
        case .finished(let outcome): return outcome
        case .setup(let s): setup = s
        }
        opened = nil   // the setup's only copy is `setup`: under ZeRO-1 the whole optimizer it starts with is then freed
        try attach(&setup, world: world, resumed: options.resume != nil, log: options.log)
        return try TrainingRun(setup).run()
    }

    /// The rank's share of each step, its engine, and rank 0's state, weights and moments.
    static func attach(_ setup: inout TrainingRun.Setup, world: World, resumed: Bool, log: (String) -> Void) throws {
        let stage = "\(setup.stage.rawValue) on \(world.size) ranks", accum = setup.recipe.train.gradAccum
        guard setup.parts.objective.splitsAcrossRanks else {
            throw StrataError.config(stage, "\(setup.stage.rawValue) trains on one process for now (its rollouts are not split across ranks)",
                                     fix: "run it without mpirun")
        }
        guard accum % world.size == 0 else {
            throw StrataError.config(stage, "train.grad_accum \(accum) does not split over \(world.size) ranks: the global batch is "
                                     + "batch_size × grad_accum rows, and every rank trains the same number of micro-batches",
                                     fix: "--set train.grad_accum=\(world.size * max(1, accum / world.size)) (a multiple of \(world.size))")
        }
        setup.share = MicroBatchShare(rank: world.rank, ranks: world.size)
        setup.engine = DataParallelEngine(inner: CPUEngine(trainable: setup.parts.trainable, optimizer: setup.optimizer), world: world)
        recordWorldSize(&setup, size: world.size, resumed: resumed, log: log)
        let state = world.broadcast(try JSONEncoder().encode(setup.state))
        setup.state = try JSONDecoder().decode(TrainerState.self, from: state)
        var tensors: [Tensor] = []
        for t in setup.model.parameters + setup.parts.trainable where !tensors.contains(where: { $0 === t }) { tensors.append(t) }
        world.broadcast(tensors + setup.optimizer.expAvg + setup.optimizer.expAvgSq)
        setup.optimizer.step = world.allReduceMax(world.isRoot ? setup.optimizer.step : 0)
        if setup.recipe.train.zeroStage == 1 {   // keep this rank's shard of the moments; the whole host optimizer is dropped
            let zero = ZeROEngine(trainable: setup.parts.trainable, host: setup.optimizer, world: world)
            setup.engine = zero
            setup.optimizer = zero.shard
            if !setup.state.events.contains(where: { $0.detail == zero.summary }) {   // once per run, and again if it changes
                setup.state.events.append(TrainingEvent(step: setup.state.step, kind: .worldSize, detail: zero.summary))
            }
            log(zero.summary)
        }
    }

    /// The trainer state's world size, with an event when a run starts on several ranks or resumes on another number.
    static func recordWorldSize(_ setup: inout TrainingRun.Setup, size: Int, resumed: Bool, log: (String) -> Void) {
        let before = setup.state.worldSize, step = setup.state.step, r = setup.recipe.train
        setup.state.worldSize = size
        let detail: String
        if resumed && before != size {
            detail = "world size \(before) → \(size) on resume: the same global batch (\(r.gradAccum) micro-batches of \(r.batchSize) rows), "
                + "now over \(size) rank\(size == 1 ? "" : "s"); the data stream goes on from batch \(setup.parts.objective.state.step); "
                + "gradient sums may round differently from a run that kept \(before)"
        } else if !resumed && size > 1 {
            detail = "data parallel on \(size) ranks (MPI): each trains \(r.gradAccum / size) of the step's \(r.gradAccum) micro-batches of "
                + "\(r.batchSize) rows; gradients summed over the ranks; \(Parallel.workers) thread\(Parallel.workers == 1 ? "" : "s") per rank"
        } else {
            return
        }
        setup.state.events.append(TrainingEvent(step: step, kind: .worldSize, detail: detail))
        log(detail)
    }

    /// How this rank was launched, field by field: stage, options, and the recipe file's contents.
    static func launchFingerprint<S: TrainingStage>(_ stage: S.Type, _ o: RunOptions) -> String {
        let file = o.recipeFile ?? o.resume.map { $0 + "/recipe.yaml" }
        let recipe = file.map { (try? SHA256.hex(fileAt: URL(fileURLWithPath: $0))).map { "sha256 " + $0 } ?? "unreadable" } ?? "none"
        return ["stage \(S.kind.rawValue)", "--from \(o.from ?? "-")", "--resume \(o.resume ?? "-")", "--config \(o.recipeFile ?? "-")",
                "recipe \(recipe)", "--set \(o.overrides.joined(separator: " --set "))", "--optimizer-state \(o.optimizerState)",
                "--accept-edited-recipe \(o.acceptEditedRecipe)", "--device \(o.device.rawValue)"].joined(separator: "; ")
    }
}
