// Reward modelling: a checkpoint's trunk plus a scalar head (transformers'
// GPT2ForSequenceClassification: score.weight [1, C], read at the last token of
// each row) trained with the Bradley–Terry loss −log σ(r_chosen − r_rejected − m)
// on preference pairs. Same run directory, trail, resume, spike guard and lineage
// as the other stages (stage "reward"); held-out pairwise accuracy, margin and
// reward mean/std during training, and accuracy per pair type at the end.
// Leaves out: reward-model ensembles, per-token (process) rewards.

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataCheckpoint
import StrataTokenizer
import StrataEval

public enum Reward {
    public static func run(_ config: Continue.Config) throws -> TrainingRun.Outcome {
        let setup = try config.base.resume != nil ? resumeSetup(config.base) : freshSetup(config)
        return try TrainingRun(setup).run()
    }

    static func freshSetup(_ config: Continue.Config) throws -> TrainingRun.Setup {
        let st = try PreferenceStage.open(config, stage: "reward")
        let recipe = st.recipe
        let rm = RewardModel(trunk: st.loaded.model, padTokenId: Int(DPO.padID(st.loaded.tokenizer)),
                             head: .normal(std: 1 / Float(st.loaded.model.config.nEmbd).squareRoot(), seed: UInt64(recipe.train.seed)))
        let loader = try PairLoader(count: st.data.train.count, batch: recipe.train.batchSize, context: recipe.context,
                                    seed: UInt64(recipe.train.seed))
        let state = TrainerState(stage: "reward", step: 0, totalSteps: recipe.totalSteps, tokensSeen: 0, optimizerStep: 0,
                                 loader: loader.state, spikeGuard: SpikeGuard(config: recipe.spikeGuard), lastLR: 0,
                                 wallSeconds: 0, flops: 0, events: st.events, validation: [:],
                                 recipeSHA256: SHA256.hex(try recipe.resolvedJSON()), parentCheckpoint: st.loaded.id)
        return try assemble(recipe: recipe, pref: st.pref, rm: rm, tokenizer: st.loaded.tokenizer, data: st.data, loader: loader,
                            state: state, parentLineage: st.loaded.lineage,
                            parent: .checkpoint(id: st.loaded.id, sha256: st.loaded.contentHash), config: config.base)
    }

    static func resumeSetup(_ config: Pretrain.Config) throws -> TrainingRun.Setup {
        let r = try Pretrain.openResume(config, stages: [.reward])
        let pref = try PreferenceStage.requireSection(r.recipe, file: r.runDir.appendingPathComponent("recipe.yaml").path, stage: "reward")
        guard let rm = r.loaded.reward else {
            throw StrataError.format("resume \(r.runDir.path)", "\(r.checkpoint.url.path) is not a reward-model checkpoint")
        }
        let template = try ChatTemplate.named(pref.template)
        let chat = try InstructionEval.chatTokenizer(r.loaded.tokenizer, template: template)
        let data = try PreferenceData.prepare(pref, template: template, chat: chat, rowLength: r.recipe.context, log: config.log)
        let loader = try PairLoader(count: data.train.count, batch: r.recipe.train.batchSize, context: r.recipe.context,
                                    seed: UInt64(r.recipe.train.seed), state: r.state.loader)
        var parentLineage = r.loaded.lineage
        let head = parentLineage.entries.popLast()
        config.log("resuming \(r.runDir.lastPathComponent) from \(r.checkpoint.name) (step \(r.state.step) of \(r.state.totalSteps))")
        var s = try assemble(recipe: r.recipe, pref: pref, rm: rm, tokenizer: r.loaded.tokenizer, data: data, loader: loader,
                             state: r.state, parentLineage: parentLineage, parent: head?.parent ?? .randomInit, config: config)
        try TrainingCheckpoint.restoreOptimizer(s.optimizer, from: r.checkpoint)
        s.state.events.append(TrainingEvent(step: r.state.step, kind: .resume, detail: "resumed from \(r.checkpoint.name)"))
        return s
    }

    static func assemble(recipe: Recipe, pref: PreferenceConfig, rm: RewardModel, tokenizer: BPETokenizer, data: PreferenceData,
                         loader: PairLoader, state: TrainerState, parentLineage: Lineage, parent: ParentRef,
                         config: Pretrain.Config) throws -> TrainingRun.Setup {
        let margin = Float(pref.margin), context = recipe.context, pad = Int32(rm.padTokenId)
        let objective = RewardObjective(model: rm, pairs: data.train, loader: loader, margin: margin, rowLength: context)
        var s = try Pretrain.setup(recipe: recipe, runDir: recipe.runDirectory, model: rm.trunk, tokenizer: tokenizer, sources: [],
                                   objective: objective, trainable: rm.parameters, state: state, parentLineage: parentLineage,
                                   parent: parent, config: config)
        s.dataRecords = data.records
        s.modelFiles = { _ in [.safetensors("model.safetensors", sources: rm.weightSources(), metadata: ["format": "pt"]),
                               .data("config.json", try rm.configJSON())] }
        s.restoreWeights = { ckpt in try rm.loadWeights(from: ckpt.url(for: "model.safetensors")) }
        let batches = recipe.train.evalBatches, batch = recipe.train.batchSize
        s.validate = { _ in
            try RewardObjective.heldOut(rm, pairs: data.validation, types: nil, margin: margin, rowLength: context, batch: batch,
                                        limit: batch * batches, padID: pad)
        }
        let log = config.log
        s.finalEvaluation = { _ in
            let all = try RewardObjective.heldOut(rm, pairs: data.validation, types: data.validationTypes, margin: margin, rowLength: context,
                                                  batch: batch, limit: data.validation.count, padID: pad)
            if let acc = all["accuracy"] { log(String(format: "reward model: held-out pairwise accuracy %.1f%%", 100 * acc)) }
            return ["reward_eval": all]
        }
        return s
    }
}

/// One Bradley–Terry step over micro-batches of P pairs (2P rows: chosen, then rejected).
final class RewardObjective: StepObjective {
    let model: RewardModel, pairs: [RenderedPair], loader: PairLoader, margin: Float, rowLength: Int

    init(model: RewardModel, pairs: [RenderedPair], loader: PairLoader, margin: Float, rowLength: Int) {
        self.model = model; self.pairs = pairs; self.loader = loader; self.margin = margin; self.rowLength = rowLength
    }

    var state: LoaderState { loader.state }

    func run(accum: Int, tapeSeed: (Int) -> UInt64) throws -> StepOutcome {
        let micro = (0..<accum).map { _ in loader.next() }
        let total = Float(micro.reduce(0) { $0 + $1.count })
        var sum = 0.0, tokens = 0, metrics: [String: Double] = [:]
        for (i, idx) in micro.enumerated() {
            let tape = Tape(seed: tapeSeed(i))
            let (pb, rb) = try PreferenceData.batch(pairs, idx, rowLength: rowLength, padID: Int32(model.padTokenId))
            let (loss, m) = try BradleyTerry.loss(rewards: try model.rewards(rb, tape: tape), margins: margins(idx.count), tape: tape)
            let w = Float(idx.count) / total
            tape.backward(loss, seed: w)
            sum += Double(loss.item() * w)
            for (k, v) in RewardObjective.named(m) { metrics[k, default: 0] += v * Double(w) }
            tokens += pb.lastIndex.reduce(0) { $0 + Int($1) + 1 }
        }
        let rows = 2 * Double(total)
        return StepOutcome(loss: sum, tokens: tokens, flops: 3 * rows * Double(rowLength) * model.trunk.forwardFlopsPerToken(context: rowLength),
                           metrics: metrics)
    }

    func margins(_ n: Int) -> [Float]? { margin == 0 ? nil : Array(repeating: margin, count: n) }

    static func named(_ m: BradleyTerryMetrics) -> [String: Double] {
        ["bt_loss": Double(m.loss), "accuracy": Double(m.accuracy), "margin": Double(m.margin),
         "reward_mean": Double(m.rewardMean), "reward_std": Double(m.rewardStd)]
    }

    /// Held-out Bradley–Terry loss ("all"), accuracy, margin and reward statistics over the first `limit` pairs;
    /// with `types`, accuracy per pair type too.
    static func heldOut(_ model: RewardModel, pairs: [RenderedPair], types: [String?]?, margin: Float, rowLength: Int, batch: Int,
                        limit: Int, padID: Int32) throws -> [String: Double] {
        guard !pairs.isEmpty else { return [:] }
        var chosen: [Float] = [], rejected: [Float] = []
        let limit = min(pairs.count, limit)
        for start in stride(from: 0, to: limit, by: batch) {
            let idx = Array(start..<min(limit, start + batch))
            let (_, rb) = try PreferenceData.batch(pairs, idx, rowLength: rowLength, padID: padID)
            let r = try model.rewards(rb, tape: .noGrad())
            let v = Array(UnsafeBufferPointer(start: r.ptr, count: r.count))
            chosen += v[0..<idx.count]; rejected += v[idx.count...]
        }
        let tape = Tape.noGrad()
        let (_, m) = try BradleyTerry.loss(chosen: Tensor(chosen, shape: [chosen.count]), rejected: Tensor(rejected, shape: [rejected.count]),
                                           margins: margin == 0 ? nil : Array(repeating: margin, count: chosen.count), tape: tape)
        var out = named(m)
        out["all"] = out["bt_loss"]
        if let types {
            var byType: [String: (Int, Int)] = [:]
            for i in chosen.indices {
                let t = types[i] ?? "untyped"
                byType[t, default: (0, 0)].1 += 1
                if chosen[i] > rejected[i] { byType[t, default: (0, 0)].0 += 1 }
            }
            for (t, (ok, n)) in byType { out["accuracy." + t] = Double(ok) / Double(n) }
        }
        return out
    }
}
