// DPO: direct preference optimisation of a policy against a frozen reference
// (sigmoid loss; IPO and reference-free SimPO as variants; an optional SFT term
// on the chosen responses). The reference's sequence log-probs are computed
// once at the start — from the starting checkpoint, or `preference.reference` —
// and cached in the run directory (reference_logps.safetensors), so a step runs
// only the policy and a resumed run needs no reference model. Same run directory,
// trail, resume, spike guard and lineage as every stage (stage "dpo", parent,
// reference, β and loss in the recipe, data hash); instruction and behaviour
// metrics before and after go into lineage.
// Leaves out: online DPO (sampling new pairs), reference model updates (TR-DPO).

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataCheckpoint
import StrataTokenizer
import StrataEval

public enum DPO {
    public static func run(_ config: Continue.Config) throws -> TrainingRun.Outcome {
        let setup = try config.base.resume != nil ? resumeSetup(config.base) : freshSetup(config)
        return try TrainingRun(setup).run()
    }

    static let cacheFile = "reference_logps.safetensors"

    static func freshSetup(_ config: Continue.Config) throws -> TrainingRun.Setup {
        let log = config.base.log
        let st = try PreferenceStage.open(config, stage: "dpo")
        let recipe = st.recipe, pref = st.pref, policy = st.loaded.model
        var cache: ReferenceCache?
        var reference: ParentRef?
        if pref.lossConfig.needsReference {
            var refModel = policy, refLoaded = st.loaded
            if let path = pref.reference {
                refLoaded = try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(path))
                guard refLoaded.tokenizer.hash == st.loaded.tokenizer.hash else {
                    throw StrataError.config("dpo recipe", "preference.reference \(path) has a different tokenizer than the policy",
                                             fix: "use a reference from the same lineage (usually the SFT checkpoint the policy starts from)")
                }
                refModel = refLoaded.model
            }
            reference = .checkpoint(id: refLoaded.id, sha256: refLoaded.contentHash)
            log("computing reference log-probs for \(st.data.train.count + st.data.validation.count) pairs (once)")
            let c = try ReferenceCache.compute(model: refModel, data: st.data, rowLength: recipe.context,
                                               batch: recipe.train.batchSize, padID: padID(st.loaded.tokenizer))
            try c.write(to: recipe.runDirectory.appendingPathComponent(cacheFile))
            cache = c
        }
        let loader = try PairLoader(count: st.data.train.count, batch: recipe.train.batchSize, context: recipe.context,
                                    seed: UInt64(recipe.train.seed))
        let before = try PreferenceStage.evaluate(pref.eval, model: policy, tokenizer: st.loaded.tokenizer, template: st.template,
                                                  log: log, label: "before DPO")
        var state = TrainerState(stage: "dpo", step: 0, totalSteps: recipe.totalSteps, tokensSeen: 0, optimizerStep: 0,
                                 loader: loader.state, spikeGuard: SpikeGuard(config: recipe.spikeGuard), lastLR: 0,
                                 wallSeconds: 0, flops: cache?.flops ?? 0, events: st.events, validation: [:],
                                 recipeSHA256: SHA256.hex(try recipe.resolvedJSON()), parentCheckpoint: st.loaded.id)
        state.evaluations = PreferenceStage.before(before)
        if let cache, !cache.valChosen.isEmpty {
            // The reference's own log-probs of the held-out pairs validation reads (what "chosen_logp" starts from).
            let n = min(cache.valChosen.count, recipe.train.evalBatches * recipe.train.batchSize)
            state.evaluations["reference_heldout"] = ["chosen_logp": Double(cache.valChosen.prefix(n).reduce(0, +)) / Double(n),
                                                      "rejected_logp": Double(cache.valRejected.prefix(n).reduce(0, +)) / Double(n)]
        }
        return try assemble(recipe: recipe, pref: pref, model: policy, tokenizer: st.loaded.tokenizer, template: st.template,
                            data: st.data, loader: loader, cache: cache, state: state, parentLineage: st.loaded.lineage,
                            parent: .checkpoint(id: st.loaded.id, sha256: st.loaded.contentHash), reference: reference, config: config.base)
    }

    static func resumeSetup(_ config: Pretrain.Config) throws -> TrainingRun.Setup {
        let r = try Pretrain.openResume(config, stages: [.dpo])
        let pref = try PreferenceStage.requireSection(r.recipe, file: r.runDir.appendingPathComponent("recipe.yaml").path, stage: "dpo")
        let template = try ChatTemplate.named(pref.template)
        let chat = try InstructionEval.chatTokenizer(r.loaded.tokenizer, template: template)
        let data = try PreferenceData.prepare(pref, template: template, chat: chat, rowLength: r.recipe.context, log: config.log)
        let cache = pref.lossConfig.needsReference
            ? try ReferenceCache.read(r.runDir.appendingPathComponent(cacheFile), train: data.train.count, validation: data.validation.count)
            : nil
        let loader = try PairLoader(count: data.train.count, batch: r.recipe.train.batchSize, context: r.recipe.context,
                                    seed: UInt64(r.recipe.train.seed), state: r.state.loader)
        var parentLineage = r.loaded.lineage
        let head = parentLineage.entries.popLast()
        config.log("resuming \(r.runDir.lastPathComponent) from \(r.checkpoint.name) (step \(r.state.step) of \(r.state.totalSteps))")
        var s = try assemble(recipe: r.recipe, pref: pref, model: r.loaded.model, tokenizer: r.loaded.tokenizer, template: template,
                             data: data, loader: loader, cache: cache, state: r.state, parentLineage: parentLineage,
                             parent: head?.parent ?? .randomInit, reference: head?.reference, config: config)
        try TrainingCheckpoint.restoreOptimizer(s.optimizer, from: r.checkpoint)
        s.state.events.append(TrainingEvent(step: r.state.step, kind: .resume, detail: "resumed from \(r.checkpoint.name)"))
        return s
    }

    static func assemble(recipe: Recipe, pref: PreferenceConfig, model: GPT2, tokenizer: BPETokenizer, template: ChatTemplate,
                         data: PreferenceData, loader: PairLoader, cache: ReferenceCache?, state: TrainerState, parentLineage: Lineage,
                         parent: ParentRef, reference: ParentRef?, config: Pretrain.Config) throws -> TrainingRun.Setup {
        let loss = try PreferenceLoss(pref.lossConfig)
        let pad = padID(tokenizer)
        let objective = DPOObjective(model: model, loss: loss, pairs: data.train, loader: loader, reference: cache.map { ($0.trainChosen, $0.trainRejected) },
                                     rowLength: recipe.context, padID: pad)
        var s = try Pretrain.setup(recipe: recipe, runDir: recipe.runDirectory, model: model, tokenizer: tokenizer, sources: [],
                                   objective: objective, state: state, parentLineage: parentLineage, parent: parent, config: config)
        s.reference = reference
        s.dataRecords = data.records
        let batches = recipe.train.evalBatches, batch = recipe.train.batchSize, context = recipe.context
        s.validate = { model in
            try DPOObjective.heldOut(model: model, loss: loss, pairs: data.validation, reference: cache.map { ($0.valChosen, $0.valRejected) },
                                     rowLength: context, batch: batch, batches: batches, padID: pad)
        }
        let tokenizerConfig = try SFT.chatTokenizerConfig(template, tokenizer: tokenizer, maxLength: model.config.nPositions)
        s.extraFiles = { _ in [.data("tokenizer_config.json", tokenizerConfig)] }
        let log = config.log
        if pref.eval != nil {
            s.finalEvaluation = { model in
                try PreferenceStage.evaluate(pref.eval, model: model, tokenizer: tokenizer, template: template, log: log, label: "after DPO")
            }
        }
        return s
    }

    /// Padding id for pair rows: end of text (never the last token of a rendered response, which ends with the template's end token).
    static func padID(_ tokenizer: BPETokenizer) -> Int32 { Int32(tokenizer.eosID ?? 0) }
}

/// Sequence log-probs of the reference model for every pair, computed once.
struct ReferenceCache {
    var trainChosen: [Float], trainRejected: [Float], valChosen: [Float], valRejected: [Float]
    /// Forward FLOPs spent computing it.
    var flops: Double

    static func compute(model: GPT2, data: PreferenceData, rowLength: Int, batch: Int, padID: Int32) throws -> ReferenceCache {
        func run(_ pairs: [RenderedPair]) throws -> ([Float], [Float]) {
            var c: [Float] = [], r: [Float] = []
            for start in stride(from: 0, to: pairs.count, by: batch) {
                let idx = Array(start..<min(pairs.count, start + batch))
                let (_, rb) = try PreferenceData.batch(pairs, idx, rowLength: rowLength, padID: padID)
                let lp = try model.sequenceLogProbs(rb, tape: .noGrad())
                let v = Array(UnsafeBufferPointer(start: lp.logps.ptr, count: lp.logps.count))
                c += v[0..<idx.count]; r += v[idx.count...]
            }
            return (c, r)
        }
        let (tc, tr) = try run(data.train), (vc, vr) = try run(data.validation)
        let rows = 2 * Double(data.train.count + data.validation.count)
        return ReferenceCache(trainChosen: tc, trainRejected: tr, valChosen: vc, valRejected: vr,
                              flops: rows * Double(rowLength) * model.forwardFlopsPerToken(context: rowLength))
    }

    func write(to url: URL) throws {
        let parts: [(String, [Float])] = [("train.chosen", trainChosen), ("train.rejected", trainRejected),
                                          ("validation.chosen", valChosen), ("validation.rejected", valRejected)]
        let sources = parts.map { name, v in
            TensorSource(name: name, shape: [v.count]) { body in try v.withUnsafeBufferPointer { try body($0) } }
        }
        try SafeTensors.write(sources: sources, metadata: ["flops": String(flops)], to: url)
    }

    static func read(_ url: URL, train: Int, validation: Int) throws -> ReferenceCache {
        let f = try SafeTensors.read(url)
        func get(_ n: String, _ count: Int) throws -> [Float] { try f.tensor(n, shape: [count]).values }
        return ReferenceCache(trainChosen: try get("train.chosen", train), trainRejected: try get("train.rejected", train),
                              valChosen: try get("validation.chosen", validation), valRejected: try get("validation.rejected", validation),
                              flops: Double(f.metadata["flops"] ?? "0") ?? 0)
    }
}
