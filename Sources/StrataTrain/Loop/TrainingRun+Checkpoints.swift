// TrainingRun's checkpoint side: writing a checkpoint with its lineage entry,
// marking it best/stable, and rolling back to the last stable one when the spike
// guard asks (the loader keeps its position, so the offending batches are skipped).
// Leaves out: asynchronous checkpoint writes.

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataCheckpoint

extension TrainingRun {
    func lastCheckpointName() -> String? { s.store.latestValid()?.name }

    /// The lineage entry describing this stage up to now.
    func lineageEntry(id: String) throws -> LineageEntry {
        var evals = s.state.evaluations
        if !s.state.validation.isEmpty { evals["validation_loss"] = s.state.validation }
        var compute = ComputeRecord(flops: s.state.flops, wallSeconds: s.state.wallSeconds, tokens: s.state.tokensSeen)
        if s.state.worldSize > 1 { compute.worldSize = s.state.worldSize }
        var entry = LineageEntry(stage: s.stage, checkpointID: id, parent: s.parent, data: s.parts.data,
                            recipe: try s.recipe.jsonValue(),
                            compute: compute,
                            evaluations: evals, events: s.state.events)
        entry.reference = s.reference
        entry.rewardSources = s.parts.rewardSources
        return entry
    }

    /// Rank 0 (or the only process) writes the checkpoint; the other ranks wait for it at a barrier.
    func checkpoint(markStable: Bool = false) throws {
        defer { s.world?.barrier() }
        let gathered = try s.engine.checkpointOptimizer()   // every rank: a sharded optimizer gathers to rank 0
        guard s.writes else { s.state.loader = s.parts.objective.state; return }
        let name = TrainingCheckpoint.name(step: s.state.step)
        let runName = s.recipe.run.name ?? s.runDir.lastPathComponent
        s.state.loader = s.parts.objective.state
        try s.engine.pullToHost()
        let lineage = try s.parentLineage.appending(try lineageEntry(id: "\(runName)/\(name)"))
        let card = try ModelCard.markdown(lineage: lineage, config: try JSONDecoder().decode(JSONValue.self, from: s.model.configData()))
        let files = try TrainingCheckpoint.files(content: s.parts.content, optimizer: gathered ?? s.optimizer, tokenizer: s.parts.tokenizer,
                                                 state: s.state, lineage: lineage) + [.data(ModelCard.fileName, Data(card.utf8))]
        let ckpt = try s.store.write(name: name, files: files)
        lastCheckpoint = ckpt
        if markStable || s.state.spikeGuard.isStable { try s.store.markStable(name) }
        if let v = s.state.validation["all"] { _ = try s.store.recordValidationLoss(v, for: name) }
        _ = try s.store.prune()
        progress?.end()
        s.log("step \(s.state.step): saved checkpoint \(ckpt.url.path)")
    }

    /// Restore the newest stable checkpoint; keep the loader where it is so the bad batches are skipped.
    func rollback(at step: Int, reason: String, loss: Double) throws {
        rollbacks += 1
        guard rollbacks <= s.maxRollbacks else {
            throw StrataError(.numeric, "\(s.stage.rawValue) step \(step)", "gave up after \(s.maxRollbacks) rollbacks (last: \(reason))",
                              fix: "lower optim.lr or check the data around this step")
        }
        let marks = try s.store.marks()
        let candidates = s.store.list().filter { marks.stable.contains($0.name) }.sorted { ($0.sequence ?? 0) > ($1.sequence ?? 0) }
        guard let target = candidates.lazy.compactMap({ try? self.s.store.verify($0.name) }).first else {
            throw StrataError(.numeric, "\(s.stage.rawValue) step \(step)", "a rollback was needed (\(reason)) but no stable checkpoint verifies")
        }
        try s.parts.content.restore(target)
        try TrainingCheckpoint.restoreOptimizer(s.optimizer, from: target)
        try s.engine.pushFromHost()
        let stateURL = target.url(for: TrainerState.fileName)
        guard let saved = try? StrataJSON.read(TrainerState.self, at: stateURL) else { throw StrataError.format("rollback", "\(target.url.path) has no trainer_state.json") }
        var guardState = s.state.spikeGuard
        guardState.didRollback(toStep: saved.step)
        let skipped = s.parts.objective.state.step - saved.loader.step
        s.state.step = saved.step
        s.state.tokensSeen = saved.tokensSeen
        s.state.optimizerStep = saved.optimizerStep
        s.state.spikeGuard = guardState
        let detail = "\(reason); restored \(target.name), skipping \(skipped) batches, lr × \(guardState.lrMultiplier)"
        s.state.events.append(TrainingEvent(step: step, kind: .rollback, detail: detail))
        _ = try metrics?.truncate(keepingThrough: saved.step)
        try record(MetricsRecord(step: saved.step, loss: loss.isFinite ? loss : nil, events: ["rollback: " + detail]))
        s.log("step \(step): rollback — \(detail)")
    }
}
