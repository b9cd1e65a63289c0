// Saving and loading LoRA adapters as PEFT does: adapter_model.safetensors plus
// adapter_config.json in one directory. Tensor names follow PEFT's saved form,
// `base_model.model.<module>.lora_A.weight` / `.lora_B.weight`, and so do the
// layouts: PEFT's adapter layers are nn.Linear even around GPT-2's Conv1D, so
// lora_A is stored [r, in] (Aᵀ) and lora_B [out, r] (Bᵀ); Strata transposes on the
// way in and out (it keeps A [in, r], B [r, out] in memory). The config carries
// fan_in_fan_out = true, as PEFT requires for Conv1D targets.
// Leaves out: regex target_modules, modules_to_save; rsLoRA, DoRA, per-layer
// rank/alpha patterns and trained biases are refused on load, not emulated.

import Foundation
import StrataCore
import StrataTensor
import StrataCheckpoint

/// adapter_config.json as PEFT writes it (the fields Strata uses, plus PEFT's fixed markers).
struct PEFTAdapterConfig: Codable {
    var peftType = "LORA"
    var taskType: String? = "CAUSAL_LM"
    var r: Int
    var loraAlpha: Float
    var loraDropout: Float
    var targetModules: [String]
    var fanInFanOut: Bool? = true
    var bias: String? = "none"
    var baseModelNameOrPath: String?
    var inferenceMode: Bool? = true
    /// PEFT variants Strata does not implement; read only to refuse them.
    var useRSLoRA: Bool?, useDoRA: Bool?, rankPattern: [String: Double]?, alphaPattern: [String: Double]?

    enum CodingKeys: String, CodingKey {
        case peftType = "peft_type", taskType = "task_type", r, loraAlpha = "lora_alpha", loraDropout = "lora_dropout"
        case targetModules = "target_modules", fanInFanOut = "fan_in_fan_out", bias
        case baseModelNameOrPath = "base_model_name_or_path", inferenceMode = "inference_mode"
        case useRSLoRA = "use_rslora", useDoRA = "use_dora", rankPattern = "rank_pattern", alphaPattern = "alpha_pattern"
    }

    init(_ c: LoRAConfig, baseModel: String?) {
        r = c.r; loraAlpha = c.alpha; loraDropout = c.dropout; targetModules = c.targets; baseModelNameOrPath = baseModel
    }

    init(from decoder: Decoder) throws {
        let k = try decoder.container(keyedBy: CodingKeys.self)
        peftType = try k.decodeIfPresent(String.self, forKey: .peftType) ?? "LORA"
        taskType = try k.decodeIfPresent(String.self, forKey: .taskType)
        r = try k.decode(Int.self, forKey: .r)
        loraAlpha = try k.decodeIfPresent(Float.self, forKey: .loraAlpha) ?? 8   // PEFT's default
        loraDropout = try k.decodeIfPresent(Float.self, forKey: .loraDropout) ?? 0
        // PEFT allows one string (a regex or a single name); Strata takes it as a single name.
        if let one = try? k.decode(String.self, forKey: .targetModules) { targetModules = [one] } else {
            targetModules = try k.decode([String].self, forKey: .targetModules)
        }
        fanInFanOut = try k.decodeIfPresent(Bool.self, forKey: .fanInFanOut)
        bias = try k.decodeIfPresent(String.self, forKey: .bias)
        baseModelNameOrPath = try k.decodeIfPresent(String.self, forKey: .baseModelNameOrPath)
        inferenceMode = try k.decodeIfPresent(Bool.self, forKey: .inferenceMode)
        useRSLoRA = try? k.decodeIfPresent(Bool.self, forKey: .useRSLoRA)
        useDoRA = try? k.decodeIfPresent(Bool.self, forKey: .useDoRA)
        rankPattern = try? k.decodeIfPresent([String: Double].self, forKey: .rankPattern)
        alphaPattern = try? k.decodeIfPresent([String: Double].self, forKey: .alphaPattern)
    }

    /// The first PEFT option set that Strata would otherwise silently misread.
    var unsupportedOption: String? {
        if peftType != "LORA" { return "peft_type = \(peftType) (only LORA is supported)" }
        if useRSLoRA == true { return "use_rslora = true (Strata scales by alpha/r)" }
        if useDoRA == true { return "use_dora = true" }
        if let p = rankPattern, !p.isEmpty { return "rank_pattern (per-layer ranks)" }
        if let p = alphaPattern, !p.isEmpty { return "alpha_pattern (per-layer alphas)" }
        if let b = bias, b != "none" { return "bias = \(b) (Strata trains no biases)" }
        return nil
    }

    var loraConfig: LoRAConfig { LoRAConfig(r: r, alpha: loraAlpha, dropout: loraDropout, targets: targetModules) }
}

extension LoRA {
    public static let weightsFile = "adapter_model.safetensors"
    public static let configFile = "adapter_config.json"

    /// PEFT's saved names for one adapted module.
    static func peftNames(_ module: String) -> (a: String, b: String) {
        ("base_model.model.\(module).lora_A.weight", "base_model.model.\(module).lora_B.weight")
    }

    /// Write the attached adapters (only they, never the base) to `directory`.
    public static func save(_ model: any CausalLM, to directory: URL, baseModel: String? = nil) throws {
        let op = "save LoRA adapters to \(directory.path)"
        let (sources, json) = try adapterFiles(model, baseModel: baseModel)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try SafeTensors.write(sources: sources, metadata: ["format": "pt"], to: directory.appendingPathComponent(weightsFile))
        do { try json.write(to: directory.appendingPathComponent(configFile), options: .atomic) } catch {
            throw StrataError.file(op, path: directory.appendingPathComponent(configFile).path, error)
        }
    }

    /// Read adapter_config.json and adapter_model.safetensors from `directory`, attach matching adapters to
    /// `model` (which must carry none) and return the trainable adapter tensors.
    @discardableResult
    public static func load(into model: any CausalLM, from directory: URL, files: (weights: String, config: String) = (weightsFile, configFile))
        throws -> [Tensor] {
        let (weightsFile, configFile) = files
        let configURL = directory.appendingPathComponent(configFile)
        let peft = try StrataJSON.read(PEFTAdapterConfig.self, at: configURL)
        let op = "load LoRA adapters from \(directory.path)"
        if let option = peft.unsupportedOption {
            throw StrataError.config(op, "\(configFile): \(option) is not supported", fix: "train the adapter as plain LoRA (PEFT defaults)")
        }
        try attach(to: model, config: peft.loraConfig, seed: 0)
        do { try copyWeights(into: model, from: directory.appendingPathComponent(weightsFile), op: op) } catch {
            detach(from: model)
            throw error
        }
        return parameters(of: model)
    }

    static func copyWeights(into model: any CausalLM, from url: URL, op: String) throws {
        let file = try SafeTensors.read(url)
        var expected = Set<String>()
        for linear in adapted(model) {
            let ad = linear.adapter!, names = peftNames(linear.moduleName)
            expected.formUnion([names.a, names.b])
            try copyTransposed(file.tensor(names.a, shape: [ad.a.shape[1], ad.a.shape[0]]), into: ad.a)
            try copyTransposed(file.tensor(names.b, shape: [ad.b.shape[1], ad.b.shape[0]]), into: ad.b)
        }
        if let extra = file.names.first(where: { !expected.contains($0) }) {
            throw StrataError.format(op, "\(url.lastPathComponent) holds '\(extra)', which the targets in \(configFile) do not adapt",
                                     fix: "check target_modules in \(configFile) matches the adapter weights")
        }
    }

    /// A source writing `t` [m, n] as its transpose [n, m].
    static func transposedSource(_ name: String, _ t: Tensor) -> TensorSource {
        TensorSource(name: name, shape: [t.shape[1], t.shape[0]]) { body in
            let m = t.shape[0], n = t.shape[1], src = t.ptr
            var out = [Float](repeating: 0, count: m * n)
            for i in 0..<m { for j in 0..<n { out[j * m + i] = src[i * n + j] } }
            try out.withUnsafeBufferPointer { try body($0) }
        }
    }

    /// Copy a stored [n, m] tensor into `t` [m, n], transposing.
    static func copyTransposed(_ stored: NamedTensor, into t: Tensor) {
        let m = t.shape[0], n = t.shape[1], dst = t.ptr
        for i in 0..<m { for j in 0..<n { dst[i * n + j] = stored.values[j * m + i] } }
    }
}
