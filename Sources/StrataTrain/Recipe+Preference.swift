// The recipe's `preference` section, read by `strata reward` and `strata dpo`:
// the pairs (TRL preference JSONL), the held-out split, the template, the DPO
// loss (type, β, label smoothing, SimPO's γ, an optional SFT term, the reference
// checkpoint), the Bradley–Terry margin, and the evaluation run before and after.
// Leaves out: PPO/GRPO settings (their stages add sections).

import Foundation
import StrataModel

/// Preference pairs, the DPO and reward-model losses, and what to measure.
public struct PreferenceConfig: Codable, RecipeSection, Equatable, Sendable {
    public var train = ""
    public var validation: String?
    public var validationFraction = 0.05
    public var template = "chatml"
    public var skipBadLines = false
    public var loss: PreferenceLossType = .sigmoid
    public var beta = 0.1
    public var labelSmoothing = 0.0
    public var simpoGamma = 0.5
    public var sftWeight = 0.0
    public var reference: String?
    public var margin = 0.0
    public var eval: PreferenceEvalSection?
    /// Resolved into train.steps when the run starts (see Recipe.resolvingEpochs).
    public var epochs: Double?

    public init() {}

    public init(train: String) { self.train = train }

    enum CodingKeys: String, RecipeKey {
        case train, validation, validationFraction = "validation_fraction", template, skipBadLines = "skip_bad_lines"
        case loss, beta, labelSmoothing = "label_smoothing", simpoGamma = "simpo_gamma", sftWeight = "sft_weight"
        case reference, margin, eval, epochs

        var help: String {
            switch self {
            case .train: return "Preference pairs: TRL JSONL, explicit {prompt, chosen, rejected} or implicit {chosen, rejected}. Required."
            case .validation: return "Held-out pairs; absent means validation_fraction of train (chosen by a hash of each pair)."
            case .validationFraction: return "Share of train held out when no validation file is given."
            case .template: return "Chat template (chatml); the checkpoint should already carry its tokens (an SFT checkpoint)."
            case .skipBadLines: return "Skip (and count) bad lines instead of stopping."
            case .loss: return "DPO: sigmoid (DPO), ipo, or simpo (reference-free)."
            case .beta: return "DPO: β, the strength of the KL anchor to the reference (SimPO's reward scale)."
            case .labelSmoothing: return "DPO: conservative-DPO label smoothing in [0, 0.5)."
            case .simpoGamma: return "SimPO's target margin γ."
            case .sftWeight: return "DPO: weight of an extra NLL term on the chosen responses (keeps their log-probs from falling)."
            case .reference: return "DPO: reference checkpoint; absent means the checkpoint the stage starts from."
            case .margin: return "Reward model: margin m in -log σ(r_chosen − r_rejected − m)."
            case .eval: return "Evaluation before and after the stage, written into lineage."
            case .epochs: return "Passes over the training pairs, instead of train.steps (resolved into train.steps)."
            }
        }
    }

    /// The loss configuration for the model library.
    public var lossConfig: PreferenceLossConfig {
        PreferenceLossConfig(type: loss, beta: Float(beta), labelSmoothing: Float(labelSmoothing), simpoGamma: Float(simpoGamma),
                             sftWeight: Float(sftWeight))
    }
}

extension PreferenceLossType: RecipeChoice {}

/// What to measure before and after preference tuning.
public struct PreferenceEvalSection: Codable, RecipeSection, Equatable, Sendable {
    public var qa: String?
    public var perKind = 16
    public var behaviour: String?
    public var behaviourPerKind = 64
    public var maxNewTokens = 24
    public var knowledge = 200

    public init() {}

    enum CodingKeys: String, RecipeKey {
        case qa, perKind = "per_kind", behaviour, behaviourPerKind = "behaviour_per_kind", maxNewTokens = "max_new_tokens", knowledge

        var help: String {
            switch self {
            case .qa: return "The world's qa.jsonl, for instruction accuracy on held-out tasks."
            case .perKind: return "Instruction tasks per kind."
            case .behaviour: return "Held-out preference pairs whose prompts probe refusals and over-refusals (e.g. preferences_test.jsonl)."
            case .behaviourPerKind: return "Prompts per kind (benign, harmful) for the behaviour evaluation."
            case .maxNewTokens: return "Longest reply generated."
            case .knowledge: return "Held-out questions ranked by log-likelihood through the chat template (with qa; 0 = off)."
            }
        }
    }
}

extension Recipe {
    func checkPreference(_ p: inout RecipeProblems) {
        guard let pref = preference else { return }
        let path = { (k: String...) in [RecipePathSegment.key("preference")] + k.map { .key($0) } }
        if pref.train.isEmpty { p.add(path("train"), "must name a JSONL file of preference pairs") }
        if let v = pref.validation, v.isEmpty { p.add(path("validation"), "must not be empty") }
        p.range(pref.validationFraction, path("validation_fraction"), min: 0, max: 1, maxOpen: true)
        p.positive(pref.beta, path("beta"))
        p.range(pref.labelSmoothing, path("label_smoothing"), min: 0, max: 0.5, maxOpen: true)
        if !(pref.sftWeight >= 0) { p.add(path("sft_weight"), "must be ≥ 0, got \(pref.sftWeight.shortText)") }
        if !pref.margin.isFinite { p.add(path("margin"), "must be a finite number") }
        if let r = pref.reference, r.isEmpty { p.add(path("reference"), "must not be empty") }
        if pref.loss == .simpo, pref.reference != nil { p.add(path("reference"), "is set, but loss simpo uses no reference model") }
        if !data.sources.isEmpty { p.add(path(), "and data.sources are both set; a preference recipe reads its data from preference.train") }
        if sft != nil { p.add(path(), "and sft are both set; use one stage section per recipe") }
        checkEpochs(pref.epochs, section: "preference", &p)
        if let e = pref.eval {
            p.atLeast(e.perKind, 1, path("eval", "per_kind"))
            p.atLeast(e.behaviourPerKind, 1, path("eval", "behaviour_per_kind"))
            p.atLeast(e.maxNewTokens, 1, path("eval", "max_new_tokens"))
            p.atLeast(e.knowledge, 0, path("eval", "knowledge"))
        }
    }
}
