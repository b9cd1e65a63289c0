// The recipe's `preference` section, read by `strata reward` and `strata dpo`:
// the pairs (TRL preference JSONL), the held-out split, the template, the DPO
// loss (type, β, label smoothing, SimPO's γ, an optional SFT term, the reference
// checkpoint), the Bradley–Terry margin, and the evaluation run before and after.
// Leaves out: PPO/GRPO settings (their stages add sections).

import Foundation
import StrataModel

public struct PreferenceConfig: Codable, Equatable, Sendable {
    /// Preference pairs: TRL JSONL, explicit {prompt, chosen, rejected} or implicit {chosen, rejected}. Required.
    public var train = ""
    /// Held-out pairs. Default: none, meaning `validation_fraction` of `train` (chosen by a hash of each pair).
    public var validation: String?
    /// Share of `train` held out when no validation file is given. Default 0.05.
    public var validationFraction = 0.05
    /// Chat template (`chatml`); the checkpoint should already carry its tokens (an SFT checkpoint). Default chatml.
    public var template = "chatml"
    /// Skip (and count) bad lines instead of stopping. Default false.
    public var skipBadLines = false
    /// DPO: loss type `sigmoid` (DPO), `ipo` or `simpo` (reference-free). Default sigmoid.
    public var loss: PreferenceLossType = .sigmoid
    /// DPO: β, the strength of the KL anchor to the reference (SimPO's reward scale). Default 0.1.
    public var beta = 0.1
    /// DPO: conservative-DPO label smoothing in [0, 0.5). Default 0.
    public var labelSmoothing = 0.0
    /// SimPO's target margin γ. Default 0.5.
    public var simpoGamma = 0.5
    /// DPO: weight of an extra NLL term on the chosen responses (keeps their log-probs from falling). Default 0.
    public var sftWeight = 0.0
    /// DPO: reference checkpoint. Default: the checkpoint the stage starts from.
    public var reference: String?
    /// Reward model: margin m in -log σ(r_chosen − r_rejected − m). Default 0.
    public var margin = 0.0
    /// Evaluation before and after the stage, written into lineage. Default: none.
    public var eval: PreferenceEvalSection?
    /// Passes over the training pairs, instead of train.steps (resolved into train.steps). Default: none.
    public var epochs: Double?

    public init(train: String = "") { self.train = train }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case train, validation, validationFraction = "validation_fraction", template, skipBadLines = "skip_bad_lines"
        case loss, beta, labelSmoothing = "label_smoothing", simpoGamma = "simpo_gamma", sftWeight = "sft_weight"
        case reference, margin, eval, epochs
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.fill(&train, .train); try c.fill(&validation, .validation); try c.fill(&validationFraction, .validationFraction)
        try c.fill(&template, .template); try c.fill(&skipBadLines, .skipBadLines)
        if let s = try c.decodeIfPresent(String.self, forKey: .loss) {
            guard let t = PreferenceLossType(rawValue: s) else {
                throw DecodingError.dataCorruptedError(forKey: .loss, in: c, debugDescription:
                    "expected one of \(PreferenceLossType.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(s)\"")
            }
            loss = t
        }
        try c.fill(&beta, .beta); try c.fill(&labelSmoothing, .labelSmoothing); try c.fill(&simpoGamma, .simpoGamma)
        try c.fill(&sftWeight, .sftWeight); try c.fill(&reference, .reference); try c.fill(&margin, .margin)
        try c.fill(&eval, .eval)
        try c.fill(&epochs, .epochs)
    }

    /// The loss configuration for the model library.
    public var lossConfig: PreferenceLossConfig {
        PreferenceLossConfig(type: loss, beta: Float(beta), labelSmoothing: Float(labelSmoothing), simpoGamma: Float(simpoGamma),
                             sftWeight: Float(sftWeight))
    }
}

/// What to measure before and after preference tuning.
public struct PreferenceEvalSection: Codable, Equatable, Sendable {
    /// The world's qa.jsonl, for instruction accuracy (held-out tasks). Default: none.
    public var qa: String?
    /// Instruction tasks per kind. Default 16.
    public var perKind = 16
    /// Held-out preference pairs whose prompts probe refusals and over-refusals (e.g. preferences_test.jsonl). Default: none.
    public var behaviour: String?
    /// Prompts per kind (benign, harmful) for the behaviour evaluation. Default 64.
    public var behaviourPerKind = 64
    /// Longest reply generated. Default 24.
    public var maxNewTokens = 24
    /// Held-out questions ranked by log-likelihood through the chat template (with `qa`; 0 = off). Default 200.
    public var knowledge = 200

    public init() {}

    enum CodingKeys: String, CodingKey, CaseIterable {
        case qa, perKind = "per_kind", behaviour, behaviourPerKind = "behaviour_per_kind", maxNewTokens = "max_new_tokens", knowledge
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.fill(&qa, .qa); try c.fill(&perKind, .perKind); try c.fill(&behaviour, .behaviour)
        try c.fill(&behaviourPerKind, .behaviourPerKind); try c.fill(&maxNewTokens, .maxNewTokens)
        try c.fill(&knowledge, .knowledge)
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
