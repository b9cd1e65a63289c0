// PPO (RLHF): the policy from --from, a frozen reference (the starting
// checkpoint, or ppo.reference), the recipe's reward sources, and a value
// model. One rollout batch (prompts_per_batch prompts, one reply each, seeded
// by (batch, row)) is scored once; per token
//   r_t = −β·kl_t  (+ the sequence score at the last completion token)   (RewardShaping)
// with kl_t = k1|k2|k3(log π_old − log π_ref); advantages by GAE(γ, λ) on the
// rollout's values, whitened over the batch; returns = advantages + values.
// Then ppo_epochs passes of `minibatches` minibatches; ONE LOOP STEP IS ONE
// MINIBATCH UPDATE of  PolicyLoss (clip ε, optional dual clip, β·KL as a loss
// term when kl_placement is loss) + vf_coef · ValueLoss (clipped), both
// aggregated token-mean over the minibatch's active tokens (exact under
// gradient accumulation). The batch (rollouts, old log-probs, values,
// advantages, returns, the KL controller's state) lives in every checkpoint
// (rollout_buffer.json), so a run stopped between the updates of one batch
// resumes bit-exactly; an adaptive KL controller moves β toward kl_target
// once per batch.
// Value model (value_init auto, the default): the reward model's trunk and
// head when the reward list names a reward model — it already reads the
// reply's quality, so early values are informative (TRL's choice) — else the
// policy's trunk with a zero head (values start at 0: the first advantages
// are the plain returns). Its weights go into every checkpoint as
// value_model.safetensors (transformers' names) + value_config.json, and come
// back on resume and rollback; in the optimizer its tensors are named
// "value." + name, so optimizer.safetensors keys never clash with the policy's.
// With ppo.lora the policy trains an adapter (the reference is the base, adapters
// off; checkpoints carry the adapter and merged weights as SFT's do).
// Under mpirun the sampling and each minibatch's micro-batches are split over the
// ranks (RLRanks); scoring, GAE, whitening and the KL controller run on the
// gathered batch, identically on every rank.
// Leaves out: a value head sharing the policy's trunk,
// evaluation-time sampling of the value model.

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataCheckpoint
import StrataTokenizer
import StrataEval
import StrataRL

public enum PPO: TrainingStage {
    public static let kind = Stage.ppo
    static let valueWeightsFile = "value_model.safetensors"
    static let valueConfigFile = "value_config.json"
    static let valuePrefix = "value."

    public static func run(_ options: RunOptions) throws -> TrainingRun.Outcome { try StageRunner.run(PPO.self, options) }

    public static func checkRecipe(_ recipe: Recipe, file: String) throws { _ = try section(recipe, file: file) }

    static func section(_ recipe: Recipe, file: String) throws -> PPOConfig {
        guard let p = recipe.ppo else {
            throw StrataError.config("ppo recipe \(file)", "has no 'ppo' section",
                                     fix: "add ppo: {prompts: prompts_train.jsonl, rewards: [{type: reward_model, checkpoint: runs/rm}]}")
        }
        return p
    }

    /// Range checks of the section, each naming its key.
    static func check(_ p: PPOConfig, file: String) throws {
        let op = "ppo recipe \(file)"
        func bad(_ key: String, _ value: Any, _ fix: String) -> StrataError { StrataError.config(op, "ppo.\(key) is \(value)", fix: fix) }
        guard p.promptsPerBatch >= 2 else { throw bad("prompts_per_batch", p.promptsPerBatch, "give at least 2 (advantages are whitened over the batch)") }
        guard p.ppoEpochs >= 1 else { throw bad("ppo_epochs", p.ppoEpochs, "give at least 1") }
        guard p.minibatches >= 1, p.minibatches <= p.promptsPerBatch else {
            throw bad("minibatches", p.minibatches, "give 1...prompts_per_batch (\(p.promptsPerBatch))")
        }
        guard p.vfCoef >= 0, p.vfCoef.isFinite else { throw bad("vf_coef", p.vfCoef, "give a weight ≥ 0") }
        guard p.klCoef >= 0, p.klCoef.isFinite else { throw bad("kl_coef", p.klCoef, "give β ≥ 0") }
        if p.klPlacement == .loss && p.klCoef == 0 { throw bad("kl_coef", 0, "a KL loss term needs β > 0 (or kl_placement: reward)") }
    }

    public static func parts(_ start: StageStart) throws -> StageParts {
        let p = try section(start.recipe, file: start.recipeFile), origin = try start.requireOrigin()
        try check(p, file: start.recipeFile)
        try ChatStage.requireLanguageModel(origin, stage: kind)
        let template = try ChatTemplate.named(p.template)
        _ = try ChatStage.requireChatTokens(origin, template: template, stage: kind)
        let policy = origin.model, tokenizer = origin.tokenizer
        let engine: RolloutEngine
        do { engine = try RolloutEngine(model: policy, tokenizer: tokenizer, template: template, config: p.sampling.rolloutConfig) } catch let e as StrataError {
            throw StrataError(e.kind, "ppo.sampling (\(start.recipeFile))", e.message, fix: e.fix)
        }
        let prompts = try RLStage.prompts(p.prompts, key: "ppo.prompts", skipBadLines: p.skipBadLines, filter: p.promptFilter, engine: engine)
        let (rewards, _) = try RLStage.rewards(p.rewards, key: "ppo.rewards", prompts: prompts, policyTokenizer: tokenizer)
        let trainable = try RLStage.trainable(p.lora, model: policy, start: start, origin: origin)
        let (reference, refID) = try RLStage.reference(start, origin: origin, path: p.reference, key: "ppo.reference")
        let value = try valueModel(p, start: start, origin: origin)
        let resumed = start.isResume ? try RLStage.readBuffer(Batch.self, from: origin.checkpoint) : nil
        let objective = try Objective(p, engine: engine, prompts: prompts, rewards: rewards, reference: reference, value: value,
                                      step: start.loaderState?.step ?? 0, batch: resumed)
        let chatFiles = try ChatCheckpointFiles.chat(template: template, tokenizer: tokenizer, maxLength: policy.contextLength)
        let lm = CheckpointContent.languageModel(policy) { [objective] in
            try RLStage.checkpointFiles(policy, chatFiles: chatFiles, extra: try valueFiles(value)
                + (try objective.batch.map { [.data(RLStage.bufferFile, try StrataJSON.encode($0))] } ?? []))
        }
        let content = CheckpointContent(files: lm.files, restore: { ckpt in
            try lm.restore(ckpt)
            try restoreValue(value, from: ckpt.url)
        })
        var parts = StageParts(recipe: start.recipe, model: policy, tokenizer: tokenizer, objective: objective,
                               trainable: trainable + value.parameters,
                               data: [DataRecord(name: "prompts", path: p.prompts, sha256: try SHA256.hex(fileAt: URL(fileURLWithPath: p.prompts)), tokens: 0)],
                               validation: Validator { nil }, content: content)
        parts.reference = refID
        parts.rewardSources = rewards.identities
        if let eval = p.eval {
            let spec = ChatEvalSpec(eval), log = start.log
            if !start.isResume {
                parts.startEvaluations = try ChatStage.evaluate(spec, model: policy, tokenizer: tokenizer, template: template, log: log, label: "before PPO")
            }
            parts.finalEvaluation = { m in try ChatStage.evaluate(spec, model: m, tokenizer: tokenizer, template: template, log: log, label: "after PPO") }
        }
        return parts
    }

    // MARK: The value model

    /// A new run: from the reward model (auto when one is listed, or reward_model) or the policy's trunk with a zero
    /// head. A resumed run: from the checkpoint's value_model.safetensors. Its tensors are renamed "value." + name.
    static func valueModel(_ p: PPOConfig, start: StageStart, origin: TrainingCheckpoint.Loaded) throws -> RewardModel {
        let value: RewardModel
        let rmEntry = p.rewards.first { $0.type == "reward_model" }
        if start.isResume {
            let trunk = try initCausalLM(configAt: origin.checkpoint.url.appendingPathComponent(valueConfigFile), seed: 0)
            value = RewardModel(trunk: trunk, padTokenId: Int(ChatStage.padID(origin.tokenizer)), head: .zero)
        } else if p.valueInit != .policy, let path = rmEntry?.checkpoint {
            value = try RewardModel.load(directory: try TrainingCheckpoint.resolve(path).url)   // a copy: the scorer stays frozen
        } else if p.valueInit == .rewardModel {
            throw StrataError.config("ppo.value_init", "is reward_model but ppo.rewards lists no reward_model with a checkpoint",
                                     fix: "add {type: reward_model, checkpoint: runs/rm} to ppo.rewards, or use value_init: auto or policy")
        } else {
            value = RewardModel(trunk: try loadCausalLM(directory: origin.checkpoint.url), padTokenId: Int(ChatStage.padID(origin.tokenizer)), head: .zero)
        }
        guard value.trunk.vocabSize >= origin.model.vocabSize else {
            throw StrataError.config("ppo value model", "its vocabulary (\(value.trunk.vocabSize)) is smaller than the policy's (\(origin.model.vocabSize))",
                                     fix: "use a reward model trained from the policy's SFT checkpoint, or value_init: policy")
        }
        for t in value.parameters { t.name = valuePrefix + t.name! }
        if start.isResume { try restoreValue(value, from: origin.checkpoint.url) }
        return value
    }

    /// value_model.safetensors (transformers' names, without the optimizer's prefix) and value_config.json.
    static func valueFiles(_ value: RewardModel) throws -> [CheckpointFile] {
        let sources = value.parameters.map { t in
            TensorSource(name: String(t.name!.dropFirst(valuePrefix.count)), shape: t.shape) { body in
                try body(UnsafeBufferPointer(start: t.ptr, count: t.count))
            }
        }
        return [.safetensors(valueWeightsFile, sources: sources, metadata: ["format": "pt"]),
                .data(valueConfigFile, try value.trunk.configData())]
    }

    static func restoreValue(_ value: RewardModel, from dir: URL) throws {
        let file = try SafeTensors.read(dir.appendingPathComponent(valueWeightsFile))
        for t in value.parameters {
            let name = String(t.name!.dropFirst(valuePrefix.count))
            _ = try file.require(name, shape: t.shape)
            try file.copyValues(of: name, into: UnsafeMutableBufferPointer(start: t.ptr, count: t.count))
        }
    }

    /// One rollout batch with everything its updates need; saved in checkpoints. Per-token arrays are per rollout,
    /// one value per completion token.
    struct Batch: Codable, Equatable {
        var index: Int
        var rollouts: [Rollout]
        var oldLogProbs: [[Float]]
        var referenceLogProbs: [[Float]]
        var oldValues: [[Float]]
        var advantages: [[Float]]
        var returns: [[Float]]
        /// The KL controller after this batch's update (its state carries into the next batch).
        var controller: KLController
        var metrics: [String: Double]
    }

    final class Objective: StepObjective {
        let p: PPOConfig
        let engine: RolloutEngine
        let prompts: PromptDataset
        let order: PromptOrder
        let rewards: WeightedRewards
        let reference: any CausalLM
        let value: RewardModel
        let gae: GAE
        let valueLoss: ValueLoss
        private(set) var step: Int
        private(set) var batch: Batch?
        let initialController: KLController

        init(_ p: PPOConfig, engine: RolloutEngine, prompts: PromptDataset, rewards: WeightedRewards, reference: any CausalLM, value: RewardModel,
             step: Int, batch: Batch?) throws {
            self.p = p; self.engine = engine; self.prompts = prompts; self.rewards = rewards; self.reference = reference; self.value = value
            self.step = step; self.batch = batch
            order = try PromptOrder(count: prompts.records.count, seed: UInt64(p.sampling.seed))
            gae = try GAE(gamma: Float(p.gamma), lambda: Float(p.lambda))
            valueLoss = try ValueLoss(clipRange: Float(p.valueClip))
            initialController = try p.klTarget.map { try KLController.makeAdaptive(initial: p.klCoef, target: $0, horizon: p.klHorizon) }
                ?? KLController.makeFixed(p.klCoef)
        }

        var updatesPerBatch: Int { p.ppoEpochs * p.minibatches }
        var splitsAcrossRanks: Bool { true }

        var state: LoaderState {
            LoaderState(step: step, seed: UInt64(p.sampling.seed), batch: p.promptsPerBatch, context: 0, randomWindows: false, cursors: [])
        }

        /// Wall seconds of the last draw's sampling and of its scoring (rewards, log-probs, values, GAE), logged on the
        /// step that drew as timing_s/gen and timing_s/score; every step logs timing_s/update. Not saved in checkpoints.
        private var drawTiming: [String: Double] = [:]

        func run(_ plan: StepPlan) throws -> StepOutcome {
            let index = step / updatesPerBatch, within = step % updatesPerBatch
            var timing: [String: Double] = [:]
            if batch?.index != index {
                batch = try draw(index, controller: batch?.controller ?? initialController, exchange: plan.exchange)
                timing = drawTiming
            }
            step += 1
            let rows = minibatch(epoch: within / p.minibatches, part: within % p.minibatches, index: index)
            let start = DispatchTime.now().uptimeNanoseconds
            var out = try update(batch!, rows: rows, plan: plan)
            timing["timing_s/update"] = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            out.metrics.merge(timing) { _, new in new }
            return out
        }

        /// The rows of minibatch `part` in epoch `epoch` of batch `index` (a seeded shuffle per epoch).
        func minibatch(epoch: Int, part: Int, index: Int) -> [Int] {
            var rng = StrataRNG(seed: RolloutConfig(seed: UInt64(p.sampling.seed)).rowSeed(step: index, row: -1 - epoch))
            var perm = Array(0..<p.promptsPerBatch)
            rng.shuffle(&perm)
            let size = (p.promptsPerBatch + p.minibatches - 1) / p.minibatches
            return Array(perm[min(perm.count, part * size)..<min(perm.count, (part + 1) * size)])
        }

        /// Sample, score, shape rewards with the KL penalty, GAE and whitened advantages; then step the KL controller.
        /// In a data-parallel world each rank samples a block of the prompts and gathers the others' replies (RLRanks);
        /// the rest runs on the whole batch on every rank, so whitening and the controller's KL are the batch's.
        func draw(_ index: Int, controller: KLController, exchange: RankExchange? = nil) throws -> Batch {
            let records = order.indices(step: index, batchSize: p.promptsPerBatch).map { prompts.records[$0] }
            let start = DispatchTime.now().uptimeNanoseconds
            let rollouts = try RLRanks.sample(engine, records, step: index, exchange: exchange)
            let sampled = DispatchTime.now().uptimeNanoseconds
            defer {
                let end = DispatchTime.now().uptimeNanoseconds
                drawTiming = ["timing_s/gen": Double(sampled - start) / 1e9, "timing_s/score": Double(end - sampled) / 1e9]
            }
            let items = try RewardItem.items(prompts: records, rollouts: rollouts)
            let scores = try RLRanks.score(rewards, items, perPrompt: 1, exchange: exchange)
            let t = RLStage.logProbTemperature(p.sampling)
            let old = try RolloutLogProbs.compute(model: engine.model, rollouts: rollouts, temperature: t)
            let ref = try RolloutLogProbs.compute(model: reference, rollouts: rollouts, temperature: t)
            let rb = try RolloutLogProbs.responseBatch(rollouts)
            let mask = TokenMask(rb)
            let values = try value.tokenValues(rb, tape: .noGrad()).toArray()
            let beta = p.klPlacement == .reward ? Float(controller.coefficient) : 0
            let shaping = try RewardShaping(klCoefficient: beta, estimator: p.klEstimator, whitenScores: p.whitenRewards,
                                            scoreClip: p.rewardClip.map(Float.init))
            let shaped = try shaping(scores: scores.total.map(Float.init), policy: RLStage.onGrid(old, rollouts, time: rb.time),
                                     reference: RLStage.onGrid(ref, rollouts, time: rb.time), mask: mask)
            let g = try gae(rewards: shaped.rewards, values: values, mask: mask)
            let adv = try maskedWhiten(g.advantages, mask: mask)
            var next = controller
            next.update(observedKL: Double(shaped.meanSequenceKL), samples: rollouts.count)
            var m = RLMonitors.replies(rollouts, items: items, total: scores.total,
                                       sources: scores.sources.map { ($0.identity.name, $0.scores) })
            m["objective/kl"] = Double(shaped.meanSequenceKL)
            m["objective/kl_coef"] = controller.coefficient
            m["objective/non_score_reward"] = -Double(beta) * Double(shaped.meanSequenceKL)
            if let ev = try explainedVariance(values: values, returns: g.returns, mask: mask) { m["val/explained_variance"] = Double(ev) }
            func perRow(_ grid: [Float]) -> [[Float]] {
                rollouts.enumerated().map { r, ro in
                    let first = r * rb.time + ro.promptTokens.count - 1
                    return Array(grid[first..<(first + ro.completionLength)])
                }
            }
            return Batch(index: index, rollouts: rollouts, oldLogProbs: old, referenceLogProbs: ref, oldValues: perRow(values),
                         advantages: perRow(adv), returns: perRow(g.returns), controller: next, metrics: m)
        }

        /// One minibatch update: clipped policy loss + vf_coef · clipped value loss over `plan.accum` micro-batches,
        /// token-mean with the minibatch's normaliser; in a data-parallel world this rank trains its share of them
        /// and the per-micro-batch results are shared.
        func update(_ b: Batch, rows: [Int], plan: StepPlan) throws -> StepOutcome {
            let size = (rows.count + max(1, plan.accum) - 1) / max(1, plan.accum)
            let micro = try stride(from: 0, to: rows.count, by: size).map { s -> ([Int], ResponseBatch, TokenMask) in
                let idx = Array(rows[s..<min(rows.count, s + size)])
                let rb = try RolloutLogProbs.responseBatch(idx.map { b.rollouts[$0] })
                return (idx, rb, TokenMask(rb))
            }
            let normalizer = try LossNormalizer(.tokenMean, step: micro.map(\.2))
            let klTerm = p.klPlacement == .loss ? try KLLossTerm(beta: Float(max(b.controller.coefficient, 1e-12)), estimator: p.klEstimator) : nil
            let policyLoss = PolicyLoss(clip: try PolicyClip(low: Float(p.epsilon), high: Float(p.epsilon), dual: p.dualClip.map(Float.init)),
                                        klTerm: klTerm)
            let model = engine.model, t = RLStage.logProbTemperature(p.sampling)
            // Per trained micro-batch: [policy loss, value loss, value clip fraction, value tokens, mean entropy] + policy metrics.
            var local: [[Double]?] = Array(repeating: nil, count: micro.count)
            for (i, (idx, rb, mask)) in micro.enumerated() where plan.share.trains(i) {
                plan.gradients?.beginMicroBatch()
                let ros = idx.map { b.rollouts[$0] }
                func grid(_ v: [[Float]]) -> [Float] { RLStage.onGrid(idx.map { v[$0] }, ros, time: rb.time) }
                let tape = Tape(seed: plan.tapeSeed(i))
                let cl = try model.completionLogProbs(rb, tape: tape, temperature: t, entropy: true)
                let out = try policyLoss(logProbs: cl.logProbs, oldLogProbs: grid(b.oldLogProbs), advantages: grid(b.advantages),
                                         referenceLogProbs: klTerm == nil ? nil : grid(b.referenceLogProbs), mask: mask,
                                         normalizer: normalizer, tape: tape)
                tape.backward(out.loss, seed: 1)
                let vtape = Tape(seed: plan.tapeSeed(i) &+ 0x5EED)
                let v = try valueLoss(values: try value.tokenValues(rb, tape: vtape), oldValues: grid(b.oldValues), returns: grid(b.returns),
                                      mask: mask, normalizer: normalizer, tape: vtape)
                vtape.backward(v.loss, seed: Float(p.vfCoef))
                plan.gradients?.endMicroBatch()
                local[i] = [Double(out.loss.item()), Double(v.loss.item()), Double(v.clipFraction), Double(v.tokens), Double(cl.meanEntropy ?? 0)]
                    + out.metrics.shared
            }
            plan.gradients?.endStep()
            var pl = 0.0, vl = 0.0, parts: [PolicyLossMetrics] = [], vclip = 0.0, entropy = 0.0, tokens = 0, flops = 0.0
            for (v, (idx, rb, mask)) in zip(RLRanks.share(local, width: 5 + PolicyLossMetrics.sharedWidth, exchange: plan.exchange), micro) {
                pl += v[0]; vl += v[1]
                parts.append(PolicyLossMetrics(shared: v[5...]))
                vclip += v[2] * v[3]
                entropy += v[4] * Double(mask.tokenCount)
                tokens += idx.reduce(0) { $0 + b.rollouts[$1].promptTokens.count + b.rollouts[$1].completionLength }
                flops += 6 * model.forwardFlopsPerToken(context: rb.time) * Double(rb.rows * rb.time)   // policy + value, fwd + bwd
            }
            let n = Double(max(1, micro.reduce(0) { $0 + $1.2.tokenCount })), m = PolicyLossMetrics.combined(parts)
            var metrics = b.metrics
            metrics["kl"] = b.metrics["objective/kl"]
            metrics["entropy"] = entropy / n
            metrics["loss/policy_avg"] = pl; metrics["loss/value_avg"] = vl
            metrics["policy/clipfrac_avg"] = Double(m.clipFraction)
            metrics["clip_ratio/low_mean"] = Double(m.clipFractionLow); metrics["clip_ratio/high_mean"] = Double(m.clipFractionHigh)
            metrics["policy/dual_clipfrac_avg"] = Double(m.dualClipFraction)
            metrics["policy/approxkl_avg"] = Double(m.approxKL); metrics["ppo_kl"] = Double(m.ppoKL)
            metrics["val/clipfrac_avg"] = vclip / n
            if let k = m.referenceKL { metrics["policy/reference_kl"] = Double(k) }
            let active = micro.reduce(0) { $0 + $1.2.tokenCount }
            return StepOutcome(loss: active > 0 ? pl + p.vfCoef * vl : nil, tokens: tokens, flops: flops, metrics: metrics)
        }
    }
}
