// Value and cross-field rules for a decoded recipe: ranges (keep_last ≥ 2,
// 0 ≤ dropout < 1...), and rules joining fields (warmup < steps, min_lr ≤ lr,
// n_embd divisible by n_head, mixture weights non-negative and never all zero).
// Every problem names its full key path.
// Leaves out: file existence (checked when the data is opened).

import Foundation
import StrataCore

/// One thing wrong with a recipe.
public struct RecipeProblem: Equatable, Sendable, CustomStringConvertible {
    public var path: [RecipePathSegment]
    public var message: String
    public var description: String { message }
}

/// Collects problems with terse range helpers.
struct RecipeProblems {
    var items: [RecipeProblem] = []

    static func path(_ parts: String...) -> [RecipePathSegment] { parts.map { .key($0) } }

    mutating func add(_ path: [RecipePathSegment], _ text: String) {
        items.append(RecipeProblem(path: path, message: "\(RecipePathSegment.render(path)) \(text)"))
    }

    mutating func atLeast(_ v: Int, _ least: Int, _ path: [RecipePathSegment]) {
        if v < least { add(path, "must be ≥ \(least), got \(v)") }
    }

    mutating func range(_ v: Double, _ path: [RecipePathSegment], min: Double, minOpen: Bool = false,
                        max: Double, maxOpen: Bool = false) {
        let lowOK = minOpen ? v > min : v >= min
        let highOK = maxOpen ? v < max : v <= max
        if !(lowOK && highOK) {
            let lo = minOpen ? "(" : "[", hi = maxOpen ? ")" : "]"
            add(path, "must be in \(lo)\(min.shortText), \(max.shortText)\(hi), got \(v.shortText)")
        }
    }

    mutating func positive(_ v: Double, _ path: [RecipePathSegment]) {
        if !(v > 0) { add(path, "must be > 0, got \(v.shortText)") }
    }
}

extension Double {
    /// Compact rendering for messages: 0.0006 → 0.0006, 1e-08 → 1e-08, 2.0 → 2.
    var shortText: String {
        if self == rounded() && abs(self) < 1e15 { return String(Int(self)) }
        return "\(self)"
    }
}

extension Recipe {
    /// Everything wrong with this recipe (empty when it is usable).
    public func problems() -> [RecipeProblem] {
        var p = RecipeProblems()
        checkModel(&p)
        checkTokenizer(&p)
        checkData(&p)
        checkTrain(&p)
        checkOptim(&p)
        checkGuard(&p)
        checkRun(&p)
        checkSFT(&p)
        checkPreference(&p)
        return p.items
    }

    /// This recipe after a change made while starting a run (epochs resolved to steps): still valid, or an error naming the keys.
    func checked(file: String) throws -> Recipe {
        let problems = self.problems()
        guard problems.isEmpty else {
            throw StrataError.config("recipe \(file)", problems.map(\.message).joined(separator: "; "),
                                     fix: "adjust the recipe (e.g. optim.warmup_steps must stay below the resolved train.steps)")
        }
        return self
    }

    private func checkModel(_ p: inout RecipeProblems) {
        let m = model, path = RecipeProblems.path
        p.atLeast(m.nLayer, 1, path("model", "n_layer"))
        p.atLeast(m.nHead, 1, path("model", "n_head"))
        p.atLeast(m.nEmbd, 1, path("model", "n_embd"))
        p.atLeast(m.nPositions, 1, path("model", "n_positions"))
        if m.nHead >= 1 && m.nEmbd >= 1 && m.nEmbd % m.nHead != 0 {
            p.add(path("model", "n_embd"), "(\(m.nEmbd)) must be divisible by model.n_head (\(m.nHead))")
        }
        if case let .fixed(v) = m.vocabSize {
            p.atLeast(v, 1, path("model", "vocab_size"))
            if let t = tokenizer.train, v >= 1, v < t.vocabSize {
                p.add(path("model", "vocab_size"), "(\(v)) must be ≥ tokenizer.train.vocab_size (\(t.vocabSize))")
            }
        }
        p.range(m.dropout, path("model", "dropout"), min: 0, max: 1, maxOpen: true)
    }

    private func checkTokenizer(_ p: inout RecipeProblems) {
        let path = RecipeProblems.path
        if tokenizer.path != nil && tokenizer.train != nil {
            p.add(path("tokenizer"), "sets both path and train; use one (an existing tokenizer, or train a new one)")
        }
        if let s = tokenizer.path, s.isEmpty { p.add(path("tokenizer", "path"), "must not be empty") }
        if let t = tokenizer.train {
            p.atLeast(t.vocabSize, 1, path("tokenizer", "train", "vocab_size"))
            for (i, f) in t.files.enumerated() where f.isEmpty {
                p.add(path("tokenizer", "train", "files") + [.index(i)], "must not be empty")
            }
        }
    }

    private func checkData(_ p: inout RecipeProblems) {
        let path = RecipeProblems.path
        if data.sources.isEmpty && sft == nil && preference == nil && grpo == nil && ppo == nil { p.add(path("data", "sources"), "must list at least one source") }
        var seen = Set<String>()
        for (i, s) in data.sources.enumerated() {
            let at = path("data", "sources") + [.index(i)]
            if s.name.isEmpty { p.add(at + [.key("name")], "must not be empty") }
            if !seen.insert(s.name).inserted { p.add(at + [.key("name")], "'\(s.name)' is used by an earlier source; names must be unique") }
            if s.path.isEmpty { p.add(at + [.key("path")], "must not be empty") }
            checkSourceWeights(s, at: at, &p)
        }
        if !data.sources.isEmpty {
            for step in data.scheduleBreakpoints where data.sources.allSatisfy({ $0.weight(at: step) <= 0 }) {
                p.add(path("data", "sources"), "weights are all zero at step \(step); at least one source needs a positive weight")
                break
            }
        }
        let v = data.validation
        if let f = v.fraction { p.range(f, path("data", "validation", "fraction"), min: 0, max: 1, maxOpen: true) }
        if v.shard != nil, let f = v.fraction, f > 0 {
            p.add(path("data", "validation"), "sets both shard and a fraction > 0; use one")
        }
        if let s = v.shard, s.isEmpty { p.add(path("data", "validation", "shard"), "must not be empty") }
    }

    private func checkSourceWeights(_ s: DataSource, at: [RecipePathSegment], _ p: inout RecipeProblems) {
        if let w = s.weight, !(w >= 0) { p.add(at + [.key("weight")], "must be ≥ 0, got \(w.shortText)") }
        guard let points = s.schedule else { return }
        if s.weight != nil { p.add(at, "sets both weight and schedule; use one") }
        if points.isEmpty { p.add(at + [.key("schedule")], "must list at least one {step, weight} point") }
        for (j, k) in points.enumerated() {
            let kp = at + [.key("schedule"), .index(j)]
            p.atLeast(k.step, 0, kp + [.key("step")])
            if !(k.weight >= 0) { p.add(kp + [.key("weight")], "must be ≥ 0, got \(k.weight.shortText)") }
            if j > 0 && k.step <= points[j - 1].step {
                p.add(kp + [.key("step")], "(\(k.step)) must be greater than the previous point's step (\(points[j - 1].step))")
            }
        }
    }

    private func checkTrain(_ p: inout RecipeProblems) {
        let t = train, path = RecipeProblems.path
        p.atLeast(t.batchSize, 1, path("train", "batch_size"))
        p.atLeast(t.gradAccum, 1, path("train", "grad_accum"))
        if t.zeroStage != 0 && t.zeroStage != 1 {
            p.add(path("train", "zero_stage"), "must be 0 (no sharding) or 1 (AdamW moments sharded over the ranks), got \(t.zeroStage)")
        }
        if let c = t.context {
            p.atLeast(c, 1, path("train", "context"))
            if c > model.nPositions {
                p.add(path("train", "context"), "(\(c)) must be ≤ model.n_positions (\(model.nPositions))")
            }
        }
        switch (t.steps, t.tokenBudget) {
        case (nil, nil):
            if sft?.epochs == nil && preference?.epochs == nil {
                p.add(path("train", "steps"), "is not set; set train.steps or train.token_budget (or sft/preference.epochs)")
            }
        case (.some, .some):
            p.add(path("train", "steps"), "and train.token_budget are both set; use one")
        case let (.some(s), nil):
            p.atLeast(s, 1, path("train", "steps"))
        case let (nil, .some(b)):
            p.atLeast(b, 1, path("train", "token_budget"))
        }
        p.atLeast(t.seed, 0, path("train", "seed"))
        p.atLeast(t.evalInterval, 0, path("train", "eval_interval"))
        p.atLeast(t.evalBatches, 1, path("train", "eval_batches"))
        p.atLeast(t.checkpointInterval, 1, path("train", "checkpoint_interval"))
        p.atLeast(t.keepLast, 2, path("train", "keep_last"))
        p.atLeast(t.logInterval, 1, path("train", "log_interval"))
    }

    private func checkOptim(_ p: inout RecipeProblems) {
        let o = optim, path = RecipeProblems.path
        p.positive(o.lr, path("optim", "lr"))
        if !(o.minLR >= 0) { p.add(path("optim", "min_lr"), "must be ≥ 0, got \(o.minLR.shortText)") }
        if o.minLR > o.lr { p.add(path("optim", "min_lr"), "(\(o.minLR.shortText)) must be ≤ optim.lr (\(o.lr.shortText))") }
        p.atLeast(o.warmupSteps, 0, path("optim", "warmup_steps"))
        let total = totalSteps
        if total >= 1 && o.warmupSteps >= total {
            p.add(path("optim", "warmup_steps"), "(\(o.warmupSteps)) must be < the run's steps (\(total))")
        }
        p.range(o.decayFraction, path("optim", "decay_fraction"), min: 0, minOpen: true, max: 1)
        if o.schedule == .wsd && total >= 1 && o.warmupSteps < total && o.decayFraction > 0 && o.decayFraction <= 1 {
            let decay = LRSchedule.wsdDecaySteps(total: total, fraction: o.decayFraction)
            if o.warmupSteps + decay > total {
                p.add(path("optim", "decay_fraction"),
                      "(\(o.decayFraction.shortText)) leaves \(decay) decay steps, which overlap the \(o.warmupSteps) warmup steps of a \(total)-step run")
            }
        }
        if !(o.weightDecay >= 0) { p.add(path("optim", "weight_decay"), "must be ≥ 0, got \(o.weightDecay.shortText)") }
        p.range(o.beta1, path("optim", "beta1"), min: 0, max: 1, maxOpen: true)
        p.range(o.beta2, path("optim", "beta2"), min: 0, max: 1, maxOpen: true)
        p.positive(o.eps, path("optim", "eps"))
        if !(o.gradClip >= 0) { p.add(path("optim", "grad_clip"), "must be ≥ 0 (0 = off), got \(o.gradClip.shortText)") }
    }

    private func checkGuard(_ p: inout RecipeProblems) {
        let g = spikeGuard, path = RecipeProblems.path
        p.atLeast(g.window, 2, path("guard", "window"))
        p.atLeast(g.minHistory, 2, path("guard", "min_history"))
        if g.minHistory > g.window {
            p.add(path("guard", "min_history"), "(\(g.minHistory)) must be ≤ guard.window (\(g.window))")
        }
        p.positive(g.sigma, path("guard", "sigma"))
        p.positive(g.gradSigma, path("guard", "grad_sigma"))
        p.atLeast(g.maxSpikesBeforeRollback, 1, path("guard", "max_spikes_before_rollback"))
        p.atLeast(g.spikeSpan, 1, path("guard", "spike_span"))
        p.range(g.lrFactorOnRollback, path("guard", "lr_factor_on_rollback"), min: 0, minOpen: true, max: 1)
        p.atLeast(g.stableSteps, 1, path("guard", "stable_steps"))
    }

    private func checkRun(_ p: inout RecipeProblems) {
        let path = RecipeProblems.path
        if run.dir.isEmpty { p.add(path("run", "dir"), "must not be empty") }
        if let n = run.name {
            if n.isEmpty || n == "." || n == ".." || n.contains("/") {
                p.add(path("run", "name"), "must be a plain directory name (no '/'), got \"\(n)\"")
            }
        }
    }
}
