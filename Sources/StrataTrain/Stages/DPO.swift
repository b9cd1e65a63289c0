// DPO: direct preference optimisation of a policy against a frozen reference
// (sigmoid loss; IPO and reference-free SimPO as variants; an optional SFT term
// on the chosen responses). The reference's sequence log-probs are computed
// once at the start — from the starting checkpoint, or `preference.reference` —
// and cached in the run directory (reference_logps.safetensors), so a step runs
// only the policy and a resumed run needs no reference model. Same run directory,
// trail, resume, spike guard and lineage as every stage (stage "dpo", parent,
// reference, β and loss in the recipe, data hash); instruction and behaviour
// metrics before and after go into lineage. The step is the shared pair
// objective's micro-batch loop; this file brings the loss of a batch of pairs.
// Leaves out: online DPO (sampling new pairs), reference model updates (TR-DPO).

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataCheckpoint
import StrataTokenizer
import StrataEval

public enum DPO: TrainingStage {
    public static let kind = Stage.dpo
    static let cacheFile = "reference_logps.safetensors"

    public static func run(_ options: RunOptions) throws -> TrainingRun.Outcome { try StageRunner.run(DPO.self, options) }

    public static func parts(_ start: StageStart) throws -> StageParts {
        let p = try PreferenceStart.open(start, stage: kind)
        let recipe = p.recipe, pref = p.section, policy = p.origin.model, tokenizer = p.origin.tokenizer, data = p.data
        let (cache, reference) = try referenceLogProbs(start, p)
        let loss = try PreferenceLoss(pref.lossConfig)
        let pad = ChatStage.padID(tokenizer), context = recipe.context
        let loader = try PairLoader(count: data.train.count, batch: recipe.train.batchSize, context: context,
                                    seed: UInt64(recipe.train.seed), state: start.loaderState)
        let trainRef = cache.map { (chosen: $0.trainChosen, rejected: $0.trainRejected) }
        let flopsPerPair = 3 * 2 * Double(context) * policy.forwardFlopsPerToken(context: context)
        let objective = PairObjective(loader: loader, flopsPerPair: flopsPerPair) { idx, tape in
            let r = try pairLoss(model: policy, loss: loss, pairs: data.train, idx, reference: trainRef, rowLength: context, padID: pad, tape: tape)
            return PairBatchLoss(loss: r.result.loss, metrics: named(r.result.metrics), tokens: r.tokens)
        }
        let valRef = cache.map { (chosen: $0.valChosen, rejected: $0.valRejected) }
        let batch = recipe.train.batchSize, batches = recipe.train.evalBatches
        let chatFiles = try ChatCheckpointFiles.chat(template: p.template, tokenizer: tokenizer, maxLength: policy.contextLength)
        var parts = StageParts(recipe: recipe, model: policy, tokenizer: tokenizer, objective: objective, data: data.records,
                               validation: Validator {
                                   try heldOut(model: policy, loss: loss, pairs: data.validation, reference: valRef, rowLength: context,
                                               batch: batch, batches: batches, padID: pad)
                               },
                               content: .languageModel(policy) { chatFiles })
        parts.reference = reference
        parts.startEvents = p.events
        parts.startFLOPs = start.isResume ? 0 : cache?.flops ?? 0
        if let eval = pref.eval {
            let spec = ChatEvalSpec(eval), log = start.log, template = p.template
            if !start.isResume {
                parts.startEvaluations = try ChatStage.evaluate(spec, model: policy, tokenizer: tokenizer, template: template, log: log,
                                                                label: "before DPO")
            }
            parts.finalEvaluation = { m in try ChatStage.evaluate(spec, model: m, tokenizer: tokenizer, template: template, log: log, label: "after DPO") }
        }
        if !start.isResume, let cache, !cache.valChosen.isEmpty {
            // The reference's own log-probs of the held-out pairs validation reads (what "chosen_logp" starts from).
            let n = min(cache.valChosen.count, batches * batch)
            parts.referenceEvaluations["reference_heldout"] = ["chosen_logp": Double(cache.valChosen.prefix(n).reduce(0, +)) / Double(n),
                                                           "rejected_logp": Double(cache.valRejected.prefix(n).reduce(0, +)) / Double(n)]
        }
        return parts
    }

    /// The reference's sequence log-probs of every pair: computed once on a new run (from the starting checkpoint or
    /// `preference.reference`) and cached in the run directory; read back on resume. None for reference-free losses.
    static func referenceLogProbs(_ start: StageStart, _ p: PreferenceStart) throws -> (ReferenceCache?, ParentRef?) {
        guard p.section.lossConfig.needsReference else { return (nil, nil) }
        let url = start.runDir.appendingPathComponent(cacheFile)
        if start.isResume {
            return (try ReferenceCache.read(url, train: p.data.train.count, validation: p.data.validation.count), nil)
        }
        var refLoaded = p.origin
        if let path = p.section.reference {
            refLoaded = try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(path))
            guard refLoaded.tokenizer.hash == p.origin.tokenizer.hash else {
                throw StrataError.config("dpo recipe", "preference.reference \(path) has a different tokenizer than the policy",
                                         fix: "use a reference from the same lineage (usually the SFT checkpoint the policy starts from)")
            }
        }
        start.log("computing reference log-probs for \(p.data.train.count + p.data.validation.count) pairs (once)")
        let cache = try ReferenceCache.compute(model: refLoaded.model, data: p.data, rowLength: p.recipe.context,
                                               batch: p.recipe.train.batchSize, padID: ChatStage.padID(p.origin.tokenizer))
        try FileManager.default.createDirectory(at: start.runDir, withIntermediateDirectories: true)
        try cache.write(to: url)
        return (cache, .checkpoint(id: refLoaded.id, sha256: refLoaded.contentHash))
    }

    /// Loss and metrics for the pairs at `idx`; also the non-padding tokens of the batch.
    static func pairLoss(model: any CausalLM, loss: PreferenceLoss, pairs: [RenderedPair], _ idx: [Int], reference: (chosen: [Float], rejected: [Float])?,
                         rowLength: Int, padID: Int32, tape: Tape) throws -> (result: PreferenceLossResult, tokens: Int) {
        let (pb, rb) = try PreferenceData.batch(pairs, idx, rowLength: rowLength, padID: padID)
        let policy = try model.sequenceLogProbs(rb, tape: tape)
        let ref = reference.map { r in idx.map { r.chosen[$0] } + idx.map { r.rejected[$0] } }
        let result = try loss(try PreferencePairs(policy: policy, reference: ref, tape: tape), tape: tape)
        return (result, pb.lastIndex.reduce(0) { $0 + Int($1) + 1 })
    }

    /// Held-out loss (the overall figure) and metrics over up to `batches` batches of validation pairs.
    static func heldOut(model: any CausalLM, loss: PreferenceLoss, pairs: [RenderedPair], reference: (chosen: [Float], rejected: [Float])?,
                        rowLength: Int, batch: Int, batches: Int, padID: Int32) throws -> ValidationResult? {
        guard !pairs.isEmpty else { return nil }
        var sums: [String: Double] = [:], weight = 0.0
        for start in stride(from: 0, to: min(pairs.count, batch * batches), by: batch) {
            let idx = Array(start..<min(pairs.count, start + batch))
            let r = try pairLoss(model: model, loss: loss, pairs: pairs, idx, reference: reference, rowLength: rowLength, padID: padID, tape: .noGrad())
            for (k, v) in named(r.result.metrics) { sums[k, default: 0] += v * Double(idx.count) }
            weight += Double(idx.count)
        }
        let means = sums.mapValues { $0 / weight }
        return ValidationResult(measure: .pairLoss, overall: means["loss"] ?? .nan, parts: means)
    }

    /// Preference metrics named for metrics.jsonl.
    static func named(_ m: PreferenceMetrics) -> [String: Double] {
        var named: [String: Float] = ["loss": m.loss, "reward_acc": m.rewardAccuracy, "chosen_reward": m.chosenReward,
                                      "rejected_reward": m.rejectedReward, "margin": m.margin, "chosen_logp": m.chosenLogProb,
                                      "rejected_logp": m.rejectedLogProb, "length": m.meanLength]
        if let kl = m.kl { named["kl"] = kl }
        return named.mapValues(Double.init)
    }
}

/// Sequence log-probs of the reference model for every pair, computed once.
struct ReferenceCache {
    var trainChosen: [Float], trainRejected: [Float], valChosen: [Float], valRejected: [Float]
    /// Forward FLOPs spent computing it.
    var flops: Double

    static func compute(model: any CausalLM, data: PreferenceData, rowLength: Int, batch: Int, padID: Int32) throws -> ReferenceCache {
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
