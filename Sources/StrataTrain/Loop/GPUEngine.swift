// `--device cuda`: the next-token stages (pretrain, continue, anneal, full SFT)
// train on one NVIDIA GPU through StrataCUDA's GPT2CUDA. Weights, gradients and
// AdamW moments stay on the device; the host model and optimizer tensors are
// refreshed only when something reads them (validation, evaluations, checkpoints),
// so checkpoints are the same files as a CPU run's and a GPU run resumes on the
// CPU and vice versa. Refused by name: LoRA, dropout > 0, the pair and RL stages.
// Leaves out: generation on the GPU, gradient-injection test hooks (CPU only).

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataCUDA

final class GPUEngine: UpdateEngine {
    let gpu: GPT2CUDA
    let host: GPT2
    let optimizer: AdamW
    let adam: GPUAdamW
    var clip: Float?
    /// A one-line description for logs and lineage.
    let description: String

    /// Builds the device model for a set-up run and swaps its objective for the GPU's.
    static func attach(to setup: inout TrainingRun.Setup, log: (String) -> Void) throws {
        let stage = setup.stage.rawValue
        guard let objective = setup.parts.objective as? NextTokenObjective else {
            throw StrataError.config(stage, "--device cuda trains the next-token stages (pretrain, continue, anneal, sft); \(stage) runs on the CPU",
                                     fix: "drop --device cuda for this stage")
        }
        guard setup.parts.trainable.count == setup.model.parameters.count else {
            throw StrataError.config(stage, "--device cuda trains every parameter; this run trains \(setup.parts.trainable.count) tensors (LoRA)",
                                     fix: "remove the sft.lora section, or train LoRA on the CPU")
        }
        guard setup.recipe.model.dropout == 0 else {
            throw StrataError.config(stage, "--device cuda trains without dropout; the recipe asks for model.dropout \(setup.recipe.model.dropout)",
                                     fix: "--set model.dropout=0")
        }
        guard let host = setup.model as? GPT2 else {
            throw StrataError.config(stage, "--device cuda trains GPT-2 only; this run's model is \(setup.model.family.rawValue)",
                                     fix: "drop --device cuda for this model")
        }
        let engine = try GPUEngine(host: host, optimizer: setup.optimizer, recipe: setup.recipe)
        setup.parts.objective = GPUNextTokenObjective(model: engine.gpu, host: host, batches: objective.batches)
        setup.engine = engine
        setup.state.events.append(TrainingEvent(step: setup.state.step, kind: .config, detail: engine.description))
        log(engine.description)
    }

    init(host: GPT2, optimizer: AdamW, recipe: Recipe) throws {
        let c = host.config
        let precision: GPUPrecision = recipe.train.precision == .bf16 ? .bf16 : recipe.train.allowTF32 ? .tf32 : .fp32
        let device = try CUDADevice()
        let ops = try GPUOps(device: device, precision: precision)
        gpu = try GPT2CUDA(GPUModelShape(layers: c.nLayer, heads: c.nHead, embd: c.nEmbd, vocab: c.vocabSize, positions: c.nPositions,
                                         inner: c.innerSize, eps: c.layerNormEpsilon), ops: ops, precision: precision)
        self.host = host; self.optimizer = optimizer
        let o = recipe.optim
        adam = GPUAdamW(beta1: Float(o.beta1), beta2: Float(o.beta2), eps: Float(o.eps), weightDecay: Float(o.weightDecay))
        description = "device: cuda — \(device.name) (\(device.architecture)), \(precision.rawValue) matrix products, "
            + "NVRTC \(ops.nvrtc.version.major).\(ops.nvrtc.version.minor), cuBLAS \(ops.blas.version)"
    }

    func gradientNorm(clip: Float?) throws -> Double { self.clip = clip; return try gpu.gradNorm() }
    func update(lr: Float) throws { try gpu.update(lr: lr, config: adam, maxNorm: clip) }
    func zeroGrad() throws { try gpu.zeroGrad() }
    var optimizerStep: Int { gpu.step }

    func pullToHost() throws {
        let params = try gpu.download(.parameters), m = try gpu.download(.expAvg), v = try gpu.download(.expAvgSq)
        for (i, p) in optimizer.parameters.enumerated() {
            guard let name = p.name, let w = params[name] else { continue }
            copy(w, into: p); copy(m[name]!, into: optimizer.expAvg[i]); copy(v[name]!, into: optimizer.expAvgSq[i])
        }
        optimizer.step = gpu.step
    }

    func pushFromHost() throws {
        var params: [String: [Float]] = [:], m: [String: [Float]] = [:], v: [String: [Float]] = [:]
        for (i, p) in optimizer.parameters.enumerated() {
            guard let name = p.name else { continue }
            params[name] = p.toArray(); m[name] = optimizer.expAvg[i].toArray(); v[name] = optimizer.expAvgSq[i].toArray()
        }
        try gpu.load(params)
        try gpu.loadOptimizer(expAvg: m, expAvgSq: v, step: optimizer.step)
    }

    private func copy(_ values: [Float], into t: Tensor) {
        values.withUnsafeBufferPointer { t.ptr.update(from: $0.baseAddress!, count: min(values.count, t.count)) }
    }
}

/// Next-token cross-entropy on the GPU, normalised by the step's global count of trained positions.
final class GPUNextTokenObjective: StepObjective {
    let model: GPT2CUDA
    let host: GPT2
    let batches: BatchSource
    init(model: GPT2CUDA, host: GPT2, batches: BatchSource) { self.model = model; self.host = host; self.batches = batches }
    var state: LoaderState { batches.state }

    func run(_ plan: StepPlan) throws -> StepOutcome {
        let draw = try StepDraw(batches, accum: plan.accum, model: host)
        guard draw.trained > 0 else { return draw.outcome(loss: nil) }
        var loss = 0.0
        for b in draw.micro {
            loss += try model.forwardBackward(ids: b.inputs, targets: b.targets, batch: b.rows, time: b.time, positions: b.positions,
                                              docStart: b.docStart, normalizer: Float(draw.trained))
        }
        return draw.outcome(loss: loss)
    }
}
