// GRPO: group-relative policy optimisation with verifiable rewards, and its
// family by recipe (Dr. GRPO, RLOO, DAPO's clip-higher, token-mean loss,
// overlong shaping and dynamic sampling). One loop step is one optimizer
// update. Every μ steps a new batch is drawn: prompts_per_step prompts (by a
// seeded PromptOrder keyed on the batch index), G replies each (seeded per
// (batch, row)), scored by the recipe's reward sources, turned into group
// advantages A_i (GroupAdvantages: grpo, dr_grpo, rloo). The step's loss is
// PPO's clipped surrogate per completion token (PolicyLoss, ε_low/ε_high) with
// an optional β·k3 KL term to a frozen reference, aggregated with the step's
// global LossNormalizer over all its micro-batches (token_mean, sequence_mean,
// constant = rows · max_new_tokens), so gradient accumulation is exact.
// Old log-probs: with μ = 1 the current ones, detached (ratio 1, gradient A·∇log π,
// as TRL); with μ > 1 the sampling policy's, computed once per batch.
// The batch lives in every checkpoint (rollout_buffer.json), so a run resumed
// between the μ updates of one batch continues bit-exactly.
// Under mpirun the sampling and the update are split over the ranks (RLRanks):
// each rank samples a block of whole groups, so group statistics are computed on
// the gathered batch, identically on every rank.
// Leaves out: vLLM-style asynchronous generation, sequence-level ratios (GSPO),
// entropy bonuses, batch-level std scaling.

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataCheckpoint
import StrataTokenizer
import StrataEval
import StrataRL

public enum GRPO: TrainingStage {
    public static let kind = Stage.grpo

    public static func run(_ options: RunOptions) throws -> TrainingRun.Outcome { try StageRunner.run(GRPO.self, options) }

    public static func checkRecipe(_ recipe: Recipe, file: String) throws { _ = try section(recipe, file: file) }

    static func section(_ recipe: Recipe, file: String) throws -> GRPOConfig {
        guard let g = recipe.grpo else {
            throw StrataError.config("grpo recipe \(file)", "has no 'grpo' section",
                                     fix: "add grpo: {prompts: prompts_train.jsonl, rewards: [{type: instruction}]}")
        }
        return g
    }

    /// Range checks of the section, each naming its key.
    static func check(_ g: GRPOConfig, file: String) throws {
        let op = "grpo recipe \(file)"
        func bad(_ key: String, _ value: Any, _ fix: String) -> StrataError { StrataError.config(op, "grpo.\(key) is \(value)", fix: fix) }
        guard g.groupSize >= 2 else { throw bad("group_size", g.groupSize, "sample at least 2 replies per prompt (a group of one has no baseline)") }
        guard g.promptsPerStep >= 1 else { throw bad("prompts_per_step", g.promptsPerStep, "give at least 1") }
        guard g.iterations >= 1 else { throw bad("iterations", g.iterations, "give at least 1 (μ = 1: one update per batch)") }
        guard g.beta >= 0, g.beta.isFinite else { throw bad("beta", g.beta, "give 0 (no KL term) or a positive β") }
        guard g.maxSamplingRounds >= 1 else { throw bad("max_sampling_rounds", g.maxSamplingRounds, "give at least 1") }
        guard g.overlongBuffer >= 0 else { throw bad("overlong_buffer", g.overlongBuffer, "give 0 (off) or a positive band width") }
    }

    public static func parts(_ start: StageStart) throws -> StageParts {
        let g = try section(start.recipe, file: start.recipeFile), origin = try start.requireOrigin()
        try check(g, file: start.recipeFile)
        try ChatStage.requireLanguageModel(origin, stage: kind)
        let template = try ChatTemplate.named(g.template)
        _ = try ChatStage.requireChatTokens(origin, template: template, stage: kind)
        let policy = origin.model, tokenizer = origin.tokenizer
        let engine: RolloutEngine
        do { engine = try RolloutEngine(model: policy, tokenizer: tokenizer, template: template, config: g.sampling.rolloutConfig) } catch let e as StrataError {
            throw StrataError(e.kind, "grpo.sampling (\(start.recipeFile))", e.message, fix: e.fix)
        }
        let prompts = try RLStage.prompts(g.prompts, key: "grpo.prompts", skipBadLines: g.skipBadLines, filter: g.promptFilter, engine: engine)
        let (rewards, _) = try RLStage.rewards(g.rewards, key: "grpo.rewards", prompts: prompts, policyTokenizer: tokenizer)
        let trainable = try RLStage.trainable(g.lora, model: policy, start: start, origin: origin)
        var reference: (any CausalLM, ParentRef?)?
        if g.beta > 0 { reference = try RLStage.reference(start, origin: origin, path: g.reference, key: "grpo.reference") }
        let resumedBatch = start.isResume ? try RLStage.readBuffer(Batch.self, from: origin.checkpoint) : nil
        let objective = try Objective(g, engine: engine, prompts: prompts, rewards: rewards, reference: reference?.0,
                                      step: start.loaderState?.step ?? 0, batch: resumedBatch)
        let chatFiles = try ChatCheckpointFiles.chat(template: template, tokenizer: tokenizer, maxLength: policy.contextLength)
        let content = CheckpointContent.languageModel(policy) { [objective] in
            try RLStage.checkpointFiles(policy, chatFiles: chatFiles,
                                        extra: try objective.batch.map { [.data(RLStage.bufferFile, try StrataJSON.encode($0))] } ?? [])
        }
        var parts = StageParts(recipe: start.recipe, model: policy, tokenizer: tokenizer, objective: objective, trainable: trainable,
                               data: [DataRecord(name: "prompts", path: g.prompts, sha256: try SHA256.hex(fileAt: URL(fileURLWithPath: g.prompts)), tokens: 0)],
                               validation: Validator { nil }, content: content)
        parts.reference = reference?.1
        parts.rewardSources = rewards.identities
        if prompts.skippedLines > 0 { parts.startEvents = ChatStage.dataEvents(dropped: 0, skipped: prompts.skippedLines, unit: "prompts", context: 0) }
        if let eval = g.eval {
            let spec = ChatEvalSpec(eval), log = start.log
            if !start.isResume {
                parts.startEvaluations = try ChatStage.evaluate(spec, model: policy, tokenizer: tokenizer, template: template, log: log, label: "before GRPO")
            }
            parts.finalEvaluation = { m in try ChatStage.evaluate(spec, model: m, tokenizer: tokenizer, template: template, log: log, label: "after GRPO") }
        }
        return parts
    }

    /// One batch of rollouts with what the μ updates on it need; saved in checkpoints.
    struct Batch: Codable, Equatable {
        /// Which batch this is (loop step / μ).
        var index: Int
        var rollouts: [Rollout]
        /// A_i per rollout.
        var advantages: [Float]
        /// log-probs of the sampling policy (μ > 1) and of the reference (β > 0), per rollout per completion token.
        var oldLogProbs: [[Float]]?
        var referenceLogProbs: [[Float]]?
        /// Reply and reward monitors of the batch, logged on each of its steps.
        var metrics: [String: Double]
    }

    /// One step: draw a batch every μ steps, then the clipped loss over micro-batches with the step's normaliser.
    final class Objective: StepObjective {
        let g: GRPOConfig
        let engine: RolloutEngine
        let prompts: PromptDataset
        let order: PromptOrder
        let rewards: WeightedRewards
        let reference: (any CausalLM)?
        let loss: PolicyLoss
        let overlong: OverlongPenalty?
        private(set) var step: Int
        private(set) var batch: Batch?

        init(_ g: GRPOConfig, engine: RolloutEngine, prompts: PromptDataset, rewards: WeightedRewards, reference: (any CausalLM)?,
             step: Int, batch: Batch?) throws {
            self.g = g; self.engine = engine; self.prompts = prompts; self.rewards = rewards; self.reference = reference
            self.step = step; self.batch = batch
            order = try PromptOrder(count: prompts.records.count, seed: UInt64(g.sampling.seed))
            let clip: PolicyClip
            do { clip = try PolicyClip(low: Float(g.epsilonLow), high: Float(g.epsilonHigh)) } catch let e as StrataError {
                throw StrataError(e.kind, "grpo.epsilon_low / grpo.epsilon_high", e.message, fix: e.fix)
            }
            loss = PolicyLoss(clip: clip, klTerm: g.beta > 0 ? try KLLossTerm(beta: Float(g.beta), estimator: .k3) : nil)
            overlong = g.overlongBuffer > 0 ? try OverlongPenalty(maxLength: g.sampling.maxNewTokens, buffer: g.overlongBuffer,
                                                                  factor: Float(g.overlongFactor)) : nil
        }

        var splitsAcrossRanks: Bool { true }

        var state: LoaderState {
            LoaderState(step: step, seed: UInt64(g.sampling.seed), batch: g.promptsPerStep * g.groupSize, context: 0, randomWindows: false, cursors: [])
        }

        var aggregation: LossAggregation {
            switch g.lossType {
            case .tokenMean: return .tokenMean
            case .sequenceMean: return .sequenceMean
            case .constant: return .constant(Double(g.promptsPerStep * g.groupSize * g.sampling.maxNewTokens))
            }
        }

        /// Wall seconds of the last draw's sampling (every dynamic-sampling round) and of its scoring (reward sources,
        /// old and reference log-probs), logged on the step that drew as timing_s/gen and timing_s/score; every step logs
        /// timing_s/update, as PPO does. Not saved in checkpoints.
        private var drawTiming: [String: Double] = [:]

        func run(_ plan: StepPlan) throws -> StepOutcome {
            let index = step / g.iterations
            var timing: [String: Double] = [:]
            if batch?.index != index {
                drawTiming = ["timing_s/gen": 0, "timing_s/score": 0]
                batch = try draw(index, exchange: plan.exchange)
                timing = drawTiming
            }
            step += 1
            let start = DispatchTime.now().uptimeNanoseconds
            var out = try update(batch!, plan: plan)
            timing["timing_s/update"] = seconds(since: start)
            out.metrics.merge(timing) { _, new in new }
            return out
        }

        private func seconds(since start: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }

        /// One group of G replies to one prompt, scored.
        struct Group {
            var rollouts: [Rollout]
            var items: [RewardItem]
            /// Σ weight · score, plus the overlong penalty.
            var rewards: [Double]
            /// Per source name, its raw scores.
            var sources: [(String, [Double])]
            var zeroStd: Bool
        }

        /// Batch `index`: prompts, G replies each, rewards, advantages; with dynamic sampling, groups whose rewards are
        /// all equal are dropped and more prompts drawn (up to max_sampling_rounds rounds).
        func draw(_ index: Int, exchange: RankExchange? = nil) throws -> Batch {
            let p = g.promptsPerStep
            var kept: [Group] = [], dropped: [Group] = [], firstRoundZero = 0.0, rounds = 0
            while rounds < (g.dynamicSampling ? g.maxSamplingRounds : 1), kept.count < p {
                let idx = rounds == 0 ? order.indices(step: index, batchSize: p)
                    : try PromptOrder(count: order.count, seed: RolloutConfig(seed: order.seed).rowSeed(step: index, row: rounds))
                        .indices(step: 0, batchSize: p)
                let groups = try sampleGroups(idx, index: index, firstRow: rounds * p * g.groupSize, exchange: exchange)
                if rounds == 0 { firstRoundZero = Double(groups.filter { $0.zeroStd }.count) / Double(groups.count) }
                for group in groups {
                    if g.dynamicSampling && group.zeroStd { dropped.append(group) } else if kept.count < p { kept.append(group) }
                }
                rounds += 1
            }
            if kept.isEmpty { kept = Array(dropped.prefix(p)) }   // nothing but equal rewards: train on them (zero advantage)
            let rollouts = kept.flatMap(\.rollouts)
            let adv = try GroupAdvantages(rewards: kept.flatMap(\.rewards).map(Float.init), groupSize: g.groupSize, estimator: g.advantage)
            var m = RLMonitors.replies(rollouts, items: kept.flatMap(\.items), total: kept.flatMap(\.rewards),
                                       sources: kept.first!.sources.indices.map { s in (kept[0].sources[s].0, kept.flatMap { $0.sources[s].1 }) })
            m["frac_reward_zero_std"] = firstRoundZero
            m["batch_frac_reward_zero_std"] = Double(adv.fractionZeroStd)
            if g.dynamicSampling { m["dynamic_sampling/rounds"] = Double(rounds); m["dynamic_sampling/groups_dropped"] = Double(dropped.count) }
            let t = RLStage.logProbTemperature(g.sampling), start = DispatchTime.now().uptimeNanoseconds
            let old = g.iterations > 1 ? try RolloutLogProbs.compute(model: engine.model, rollouts: rollouts, temperature: t) : nil
            let ref = try reference.map { try RolloutLogProbs.compute(model: $0, rollouts: rollouts, temperature: t) }
            drawTiming["timing_s/score", default: 0] += seconds(since: start)
            return Batch(index: index, rollouts: rollouts, advantages: adv.advantages, oldLogProbs: old, referenceLogProbs: ref, metrics: m)
        }

        /// G replies to each prompt of `idx`, scored and grouped.
        /// In a data-parallel world each rank samples a block of whole groups and gathers the others' (RLRanks).
        func sampleGroups(_ idx: [Int], index: Int, firstRow: Int, exchange: RankExchange?) throws -> [Group] {
            let records = idx.map { prompts.records[$0] }
            let start = DispatchTime.now().uptimeNanoseconds
            let rollouts = try RLRanks.sample(engine, records, step: index, samplesPerPrompt: g.groupSize, firstRow: firstRow, exchange: exchange)
            let sampled = DispatchTime.now().uptimeNanoseconds
            let items = try RewardItem.items(prompts: records, rollouts: rollouts)
            let scores = try RLRanks.score(rewards, items, perPrompt: g.groupSize, exchange: exchange)
            drawTiming["timing_s/gen", default: 0] += Double(sampled - start) / 1e9
            drawTiming["timing_s/score", default: 0] += seconds(since: sampled)
            let shaped = zip(scores.total, rollouts).map { r, ro in r + Double(overlong?(length: ro.completionLength) ?? 0) }
            let adv = try GroupAdvantages(rewards: shaped.map(Float.init), groupSize: g.groupSize, estimator: g.advantage)
            return idx.indices.map { k in
                let range = (k * g.groupSize)..<((k + 1) * g.groupSize)
                return Group(rollouts: Array(rollouts[range]), items: Array(items[range]), rewards: Array(shaped[range]),
                             sources: scores.sources.map { ($0.identity.name, Array($0.scores[range])) }, zeroStd: adv.zeroStd[k])
            }
        }

        /// The clipped loss of `b` over `plan.accum` micro-batches (contiguous rows) with one normaliser for the step;
        /// in a data-parallel world this rank trains its share of them and the per-micro-batch results are shared.
        func update(_ b: Batch, plan: StepPlan) throws -> StepOutcome {
            let n = b.rollouts.count, size = (n + max(1, plan.accum) - 1) / max(1, plan.accum)
            let ranges = stride(from: 0, to: n, by: size).map { $0..<min(n, $0 + size) }
            let micro = try ranges.map { r -> (ResponseBatch, TokenMask) in
                let rb = try RolloutLogProbs.responseBatch(Array(b.rollouts[r]))
                let mask = g.maskTruncatedCompletions ? try TokenMask(rb).turningOff(rows: b.rollouts[r].map(\.isTruncated)) : TokenMask(rb)
                return (rb, mask)
            }
            let normalizer = try LossNormalizer(aggregation, step: micro.map(\.1))
            let model = engine.model, t = RLStage.logProbTemperature(g.sampling)
            // Per trained micro-batch: [loss, mean entropy, entropy tokens] + the policy-loss metrics.
            var local: [[Double]?] = Array(repeating: nil, count: micro.count)
            for (i, (r, (rb, mask))) in zip(ranges, micro).enumerated() where plan.share.trains(i) {
                plan.gradients?.beginMicroBatch()
                let tape = Tape(seed: plan.tapeSeed(i))
                let cl = try model.completionLogProbs(rb, tape: tape, temperature: t, entropy: true)
                let rows = Array(b.rollouts[r])
                let old = b.oldLogProbs.map { RLStage.onGrid(Array($0[r]), rows, time: rb.time) } ?? cl.logProbs.toArray()
                let adv = RLStage.onGrid(r.map { k in [Float](repeating: b.advantages[k], count: b.rollouts[k].completionLength) }, rows, time: rb.time)
                let ref = b.referenceLogProbs.map { RLStage.onGrid(Array($0[r]), rows, time: rb.time) }
                let out = try loss(logProbs: cl.logProbs, oldLogProbs: old, advantages: adv, referenceLogProbs: ref, mask: mask,
                                   normalizer: normalizer, tape: tape)
                tape.backward(out.loss, seed: 1)
                plan.gradients?.endMicroBatch()
                local[i] = [Double(out.loss.item()), Double(cl.meanEntropy ?? 0), Double(cl.mask.tokenCount)] + out.metrics.shared
            }
            plan.gradients?.endStep()
            var total = 0.0, parts: [PolicyLossMetrics] = [], entropy = 0.0, tokens = 0, flops = 0.0
            for (v, (r, (rb, _))) in zip(RLRanks.share(local, width: 3 + PolicyLossMetrics.sharedWidth, exchange: plan.exchange), zip(ranges, micro)) {
                total += v[0]
                parts.append(PolicyLossMetrics(shared: v[3...]))
                entropy += v[1] * v[2]
                tokens += b.rollouts[r].reduce(0) { $0 + $1.promptTokens.count + $1.completionLength }
                flops += 3 * model.forwardFlopsPerToken(context: rb.time) * Double(rb.rows * rb.time)
            }
            let activeTokens = micro.reduce(0) { $0 + $1.1.tokenCount }
            let m = PolicyLossMetrics.combined(parts)
            var metrics = b.metrics
            metrics["entropy"] = entropy / Double(max(1, micro.reduce(0) { $0 + TokenMask($1.0).tokenCount }))
            metrics["clip_ratio/low_mean"] = Double(m.clipFractionLow)
            metrics["clip_ratio/high_mean"] = Double(m.clipFractionHigh)
            metrics["clip_ratio/region_mean"] = Double(m.clipFraction)
            metrics["approx_kl"] = Double(m.approxKL)
            metrics["ppo_kl"] = Double(m.ppoKL)
            if let kl = m.referenceKL { metrics["kl"] = Double(kl) }
            return StepOutcome(loss: activeTokens > 0 ? total : nil, tokens: tokens, flops: flops, metrics: metrics)
        }
    }
}
