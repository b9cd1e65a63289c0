// The recipe's `sft` section: the chat data (TRL JSONL), the template, packing
// or padding, the held-out split, an optional LoRA adapter and the instruction
// evaluation run before and after training, and replay of pretraining text among
// the conversations. Present only in SFT recipes; its presence replaces the `data`
// section's token sources.
// Leaves out: mixing several SFT files with weights (concatenate them first).

import Foundation
import StrataData

/// Supervised fine-tuning settings.
public struct SFTConfig: Codable, RecipeSection, Equatable, Sendable {
    public var train = ""
    public var validation: String?
    public var validationFraction = 0.05
    public var template = "chatml"
    public var packing: PackingMode = .pack
    public var skipBadLines = false
    public var lora: LoRASection?
    public var eval: InstructionEvalSection?
    public var replay: SFTReplaySection?
    /// Resolved into train.steps when the run starts (see Recipe.resolvingEpochs).
    public var epochs: Double?

    public init() {}

    public init(train: String) { self.train = train }

    enum CodingKeys: String, RecipeKey {
        case train, validation, validationFraction = "validation_fraction", template, packing
        case skipBadLines = "skip_bad_lines", lora, eval, epochs, replay

        var help: String {
            switch self {
            case .train: return "Training conversations: TRL JSONL (messages, prompt/completion, or text). Required."
            case .validation: return "Held-out conversations in the same formats; absent means validation_fraction of train."
            case .validationFraction: return "Share of train held out (by a hash of each record) when no validation file is given."
            case .template: return "Chat template name (chatml); its special tokens are added to the tokenizer when missing."
            case .packing: return "pack several conversations per row (document-aware attention) or pad one per row."
            case .skipBadLines: return "Skip (and count) bad lines instead of stopping at the first."
            case .lora: return "Train a LoRA adapter instead of all weights; absent means full fine-tuning."
            case .eval: return "Instruction evaluation before and after the stage, written into lineage."
            case .epochs: return "Passes over the training rows, instead of train.steps (written into the resolved recipe as train.steps)."
            case .replay: return "Pretraining documents trained among the conversations, so SFT keeps what pretraining taught; absent means none."
            }
        }
    }
}

/// Replay inside SFT: documents of pretraining JSONL files ({"text": ...} lines) trained with loss on every token,
/// cut into pieces that fit a row, making up `fraction` of the training samples (a seeded choice). Replay the
/// parent's own pretraining text: replaying text it never saw would teach new facts in the SFT stage.
public struct SFTReplaySection: Codable, RecipeSection, Equatable, Sendable {
    public var paths: [String] = []
    public var fraction = 0.5
    /// Share of the replayed pieces drawn from each path, in `paths`' order (normalised); nil: every piece of every
    /// file is equally likely, so files weigh by their size.
    public var weights: [Double]?

    public init() {}

    enum CodingKeys: String, RecipeKey {
        case paths, fraction, weights

        var help: String {
            switch self {
            case .paths: return "Pretraining text files, JSONL with a \"text\" field per line (e.g. [world/before_cutoff.jsonl])."
            case .fraction: return "Share of the training samples that are replayed documents, in [0, 1)."
            case .weights: return "Share of the replayed pieces from each path, in paths' order (e.g. [0.7, 0.3]); "
                + "absent: files weigh by their size. A file with too few pieces for its share repeats them."
            }
        }
    }
}

/// How SFT rows are filled.
public enum PackingMode: String, RecipeChoice {
    case pack, pad
    var packerMode: SFTPacker.Mode { self == .pack ? .pack : .pad }
}

/// LoRA settings (PEFT's names).
public struct LoRASection: Codable, RecipeSection, Equatable, Sendable {
    public var r = 8
    public var alpha = 16.0
    public var dropout = 0.05
    public var targets = ["c_attn"]

    public init() {}

    enum CodingKeys: String, RecipeKey {
        case r, alpha, dropout, targets = "target_modules"

        var help: String {
            switch self {
            case .r: return "Adapter rank."
            case .alpha: return "Scale numerator: the update is (alpha / r)·A·B."
            case .dropout: return "Dropout on the adapter's input."
            case .targets: return "Module names (or suffixes) to adapt: c_attn, c_proj, c_fc, attn.c_proj, mlp.c_proj."
            }
        }
    }
}

/// Held-out instruction tasks built from a synthetic world's QA pairs (its "test" split).
public struct InstructionEvalSection: Codable, RecipeSection, Equatable, Sendable {
    public var qa = ""
    public var perKind = 16
    public var seed = 0
    public var maxNewTokens = 24
    public var knowledge = 200

    public init() {}

    public init(qa: String) { self.qa = qa }

    enum CodingKeys: String, RecipeKey {
        case qa, perKind = "per_kind", seed, maxNewTokens = "max_new_tokens", knowledge

        var help: String {
            switch self {
            case .qa: return "The world's qa.jsonl. Required."
            case .perKind: return "Tasks per kind (fact, one_word, json, add, reverse)."
            case .seed: return "Seed choosing the tasks."
            case .maxNewTokens: return "Longest reply generated."
            case .knowledge: return "Held-out questions ranked against their distractors by log-likelihood through the chat template (0 = off)."
            }
        }
    }
}

extension Recipe {
    /// `epochs` replaces train.steps/token_budget: positive, and not set together with them.
    func checkEpochs(_ epochs: Double?, section: String, _ p: inout RecipeProblems) {
        guard let e = epochs else { return }
        p.positive(e, [.key(section), .key("epochs")])
        if train.steps != nil || train.tokenBudget != nil {
            p.add([.key(section), .key("epochs")], "and train.steps/train.token_budget are both set; use one")
        }
    }

    /// Epochs of `section` resolved to optimizer steps over `items` rows or pairs per epoch.
    func resolvingEpochs(_ epochs: Double?, items: Int, section: String, log: (String) -> Void) -> (Recipe, TrainingEvent?) {
        guard let e = epochs, train.steps == nil, train.tokenBudget == nil else { return (self, nil) }
        var r = self
        let perStep = train.batchSize * train.gradAccum
        let steps = max(1, Int((e * Double(items) / Double(perStep)).rounded(.up)))
        r.train.steps = steps
        // A recipe has at most one stage section (checkSFT/checkPreference), so clearing both clears its own.
        r.sft?.epochs = nil
        r.preference?.epochs = nil
        let detail = "\(section).epochs \(e.shortText) = \(steps) steps (\(items) per epoch, \(perStep) per step)"
        log(detail)
        return (r, TrainingEvent(step: 0, kind: .epochs, detail: detail))
    }

    func checkSFT(_ p: inout RecipeProblems) {
        guard let sft else { return }
        let path = { (k: String...) in [RecipePathSegment.key("sft")] + k.map { .key($0) } }
        if sft.train.isEmpty { p.add(path("train"), "must name a JSONL file of conversations") }
        if let v = sft.validation, v.isEmpty { p.add(path("validation"), "must not be empty") }
        p.range(sft.validationFraction, path("validation_fraction"), min: 0, max: 1, maxOpen: true)
        if !data.sources.isEmpty { p.add(path(), "and data.sources are both set; an SFT recipe reads its data from sft.train") }
        if let l = sft.lora {
            p.atLeast(l.r, 1, path("lora", "r"))
            p.positive(l.alpha, path("lora", "alpha"))
            p.range(l.dropout, path("lora", "dropout"), min: 0, max: 1, maxOpen: true)
            if l.targets.isEmpty { p.add(path("lora", "target_modules"), "must list at least one module") }
        }
        checkEpochs(sft.epochs, section: "sft", &p)
        if let r = sft.replay {
            if r.paths.isEmpty || r.paths.contains("") { p.add(path("replay", "paths"), "must list JSONL files of pretraining text") }
            p.range(r.fraction, path("replay", "fraction"), min: 0, max: 1, maxOpen: true)
            if let w = r.weights {
                if w.count != r.paths.count {
                    p.add(path("replay", "weights"), "has \(w.count) weights for \(r.paths.count) paths; give one per path, in paths' order")
                } else if w.contains(where: { !($0 >= 0 && $0.isFinite) }) || !(w.reduce(0, +) > 0) {
                    p.add(path("replay", "weights"), "must be finite, non-negative and not all zero (got \(w))")
                }
            }
        }
        if let e = sft.eval {
            if e.qa.isEmpty { p.add(path("eval", "qa"), "must name the world's qa.jsonl") }
            p.atLeast(e.perKind, 1, path("eval", "per_kind"))
            p.atLeast(e.seed, 0, path("eval", "seed"))
            p.atLeast(e.maxNewTokens, 1, path("eval", "max_new_tokens"))
            p.atLeast(e.knowledge, 0, path("eval", "knowledge"))
        }
    }
}
