// LoRA (low-rank adaptation) for a decoder's Linear layers (GPT-2's Conv1D, Llama's nn.Linear): a targeted layer computes
//   y = x·W + b + (alpha/r) · dropout(x)·A·B
// with A [in, r] and B [r, out] (Strata keeps the Conv1D orientation in memory).
// A starts Kaiming-uniform as PEFT does (U(−1/√in, 1/√in)), B starts at zero, so
// an adapted model computes exactly what its base does until B moves. While
// adapters are attached every base parameter is frozen (requiresGrad = false);
// `merge` folds W += (alpha/r)·A·B into the base and removes the adapters, which
// leaves a plain GPT-2. Full fine-tuning (no adapters) stays the default.
// Leaves out: unmerge, multiple named adapters, rsLoRA/DoRA scaling, bias training,
// adapters on embeddings or LayerNorm. Files: LoRA+IO.swift (PEFT-style save/load).

import StrataCore
import StrataTensor

/// Which layers get adapters and how large they are. Matches PEFT's LoraConfig fields.
public struct LoRAConfig: Codable, Equatable, Sendable {
    /// Rank r of the update A·B.
    public var r: Int = 8
    /// The update is scaled by alpha / r.
    public var alpha: Float = 16
    /// Dropout on the adapter's input (training tapes only).
    public var dropout: Float = 0.05
    /// Module names or dotted suffixes: "c_attn", "c_proj" (both projections), "c_fc",
    /// "attn.c_proj", "mlp.c_proj", or a full name such as "transformer.h.0.attn.c_attn".
    public var targets: [String] = ["c_attn"]

    public init(r: Int = 8, alpha: Float = 16, dropout: Float = 0.05, targets: [String] = ["c_attn"]) {
        self.r = r; self.alpha = alpha; self.dropout = dropout; self.targets = targets
    }

    /// alpha / r, the factor on the adapter path.
    public var scaling: Float { alpha / Float(r) }

    /// Throws a config error naming the field and the fix.
    public func validate(op: String = "LoRA config") throws {
        guard r >= 1 else { throw StrataError.config(op, "r = \(r) must be at least 1", fix: "use a rank such as 8 or 16") }
        guard alpha.isFinite, alpha > 0 else { throw StrataError.config(op, "alpha = \(alpha) must be a positive number", fix: "alpha = 2·r is a common choice") }
        guard dropout >= 0, dropout < 1 else { throw StrataError.config(op, "dropout = \(dropout) must lie in [0, 1)", fix: "use 0 to 0.1") }
        guard !targets.isEmpty else {
            throw StrataError.config(op, "targets is empty", fix: "name modules to adapt, e.g. [\"c_attn\"] or [\"c_attn\", \"c_proj\", \"c_fc\"]")
        }
    }

    /// PEFT's rule: a module matches a target when its name equals it or ends with "." + target.
    public func matches(_ moduleName: String) -> Bool {
        targets.contains { moduleName == $0 || moduleName.hasSuffix("." + $0) }
    }
}

/// The adapter one Linear carries: A [in, r], B [r, out], scale alpha/r and input dropout.
public final class LoRAAdapter {
    public let a: Tensor        // [in, r]
    public let b: Tensor        // [r, out]
    public let config: LoRAConfig

    init(inFeatures: Int, outFeatures: Int, module: String, config: LoRAConfig, rng: inout StrataRNG) {
        let bound = 1 / Float(inFeatures).squareRoot()   // kaiming_uniform(a=√5) on an [r, in] nn.Linear weight
        a = Tensor((0..<(inFeatures * config.r)).map { _ in (2 * rng.uniform() - 1) * bound },
                   shape: [inFeatures, config.r], requiresGrad: true)
        b = Tensor(zeros: [config.r, outFeatures], requiresGrad: true)
        a.name = module + ".lora_A.weight"; b.name = module + ".lora_B.weight"
        self.config = config
    }

    public var parameters: [Tensor] { [a, b] }

    /// base + (alpha/r) · dropout(x)·A·B. The scale sits on the rank-r intermediate (cheapest place).
    func apply(_ x: Tensor, base y: Tensor, _ tape: Tape) -> Tensor {
        let h = tape.linear(tape.dropout(x, p: config.dropout), a)          // [..., r]
        return tape.add(y, tape.linear(tape.scale(h, config.scaling), b))   // [..., out]
    }

    /// The dense update (alpha/r)·A·B, shape [in, out].
    func delta() -> Tensor {
        let inF = a.shape[0], outF = b.shape[1]
        let d = Tensor(uninitialized: [inF, outF])
        Backend.shared.gemm(m: inF, n: outF, k: config.r, a: a.ptr, b: b.ptr, c: d.ptr)
        let s = config.scaling, p = d.ptr
        for k in 0..<d.count { p[k] *= s }
        return d
    }
}

/// Attaching, listing, merging and removing adapters on a decoder (any CausalLM).
public enum LoRA {
    /// Every Linear in the model, in parameter order.
    public static func linears(of model: any CausalLM) -> [Linear] { model.linears }

    /// The Linears that carry an adapter.
    public static func adapted(_ model: any CausalLM) -> [Linear] { linears(of: model).filter { $0.adapter != nil } }

    /// Whether any adapter is attached.
    public static func isAttached(_ model: any CausalLM) -> Bool { !adapted(model).isEmpty }

    /// The trainable adapter tensors (A then B per adapted layer, in layer order).
    public static func parameters(of model: any CausalLM) -> [Tensor] { adapted(model).flatMap { $0.adapter!.parameters } }

    /// The config of the attached adapters (nil when none are attached).
    public static func config(of model: any CausalLM) -> LoRAConfig? { adapted(model).first?.adapter?.config }

    /// Zero the adapters' gradients (GPT2.zeroGrad covers only base parameters).
    public static func zeroGrad(_ model: any CausalLM) { for p in parameters(of: model) { p.zeroGrad() } }

    /// Attach fresh adapters to every Linear `config.targets` matches, freeze all base parameters and
    /// return the adapter tensors (what the optimizer should train). Same seed → same A on every machine.
    @discardableResult
    public static func attach(to model: any CausalLM, config: LoRAConfig, seed: UInt64) throws -> [Tensor] {
        let op = "attach LoRA adapters"
        try config.validate(op: op)
        guard !isAttached(model) else {
            throw StrataError(.state, op, "the model already carries LoRA adapters", fix: "merge or detach them first")
        }
        let all = linears(of: model)
        for t in config.targets where !all.contains(where: { $0.moduleName == t || $0.moduleName.hasSuffix("." + t) }) {
            let names = Set(all.map { String($0.moduleName.split(separator: ".").last!) }).sorted()
            throw StrataError.config(op, "target '\(t)' matches no Linear layer of this \(model.family.rawValue) model",
                                     fix: "use one of \(names.joined(separator: ", ")), a dotted suffix such as \(model.family == .gpt2 ? "attn.c_proj" : "self_attn.q_proj") or a full module name")
        }
        var rng = StrataRNG(seed: seed)
        for linear in all where config.matches(linear.moduleName) {
            linear.adapter = LoRAAdapter(inFeatures: linear.inFeatures, outFeatures: linear.outFeatures,
                                         module: linear.moduleName, config: config, rng: &rng)
        }
        setBaseTrainable(model, false)
        return parameters(of: model)
    }

    /// Fold every adapter into its base weight (W += (alpha/r)·A·B), remove the adapters and make the base
    /// parameters trainable again. The result is a plain GPT-2 (`model.save` writes a transformers checkpoint).
    public static func merge(into model: any CausalLM) {
        for linear in adapted(model) {
            linear.addUpdate(linear.adapter!.delta(), into: linear.weight.ptr)
        }
        detach(from: model)
    }

    /// Remove the adapters without merging (the base is as it was) and unfreeze the base parameters.
    public static func detach(from model: any CausalLM) {
        for linear in linears(of: model) { linear.adapter = nil }
        setBaseTrainable(model, true)
    }

    static func setBaseTrainable(_ model: any CausalLM, _ trainable: Bool) {
        for p in model.parameters {
            p.requiresGrad = trainable
            if !trainable { p.grad = nil }
        }
    }
}
