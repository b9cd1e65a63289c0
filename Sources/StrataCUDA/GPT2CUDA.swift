// GPT-2 trained on one NVIDIA GPU: the same model as StrataModel's GPT2 (pre-LN
// blocks, fused-QKV causal attention, tanh-GELU MLP, tied LM head; transformers'
// names and Conv1D layouts), written as an explicit forward and backward over
// device buffers — parameters, gradients, AdamW moments and activations stay on
// the GPU for the whole step; the host sends token ids and reads back the loss.
// Matrix products through cuBLAS (GPUOps.gemm), everything else NVRTC kernels.
// Shapes: B batch, T time, C channels, V vocab, L layers, H heads, D = C/H,
// F = inner size, N = B·T rows.
// Leaves out: dropout (a recipe asking for it is refused), LoRA, KV-cache
// generation (sampling stays on the CPU), several GPUs.

import Foundation
import StrataCore

/// The shape of a GPT-2 (the fields of config.json the GPU model needs).
public struct GPUModelShape: Equatable, Sendable {
    public var layers: Int, heads: Int, embd: Int, vocab: Int, positions: Int, inner: Int
    public var eps: Float = 1e-5
    public init(layers: Int, heads: Int, embd: Int, vocab: Int, positions: Int, inner: Int? = nil, eps: Float = 1e-5) {
        self.layers = layers; self.heads = heads; self.embd = embd; self.vocab = vocab; self.positions = positions
        self.inner = inner ?? 4 * embd; self.eps = eps
    }

    /// Parameter names and shapes in StrataModel's `GPT2.parameters` order (transformers' state dict).
    public var parameters: [(name: String, shape: [Int])] {
        let c = embd, f = inner
        var out: [(String, [Int])] = [("transformer.wte.weight", [vocab, c]), ("transformer.wpe.weight", [positions, c])]
        for l in 0..<layers {
            let p = "transformer.h.\(l)."
            out += [(p + "ln_1.weight", [c]), (p + "ln_1.bias", [c]), (p + "attn.c_attn.weight", [c, 3 * c]), (p + "attn.c_attn.bias", [3 * c]),
                    (p + "attn.c_proj.weight", [c, c]), (p + "attn.c_proj.bias", [c]), (p + "ln_2.weight", [c]), (p + "ln_2.bias", [c]),
                    (p + "mlp.c_fc.weight", [c, f]), (p + "mlp.c_fc.bias", [f]), (p + "mlp.c_proj.weight", [f, c]), (p + "mlp.c_proj.bias", [c])]
        }
        return out + [("transformer.ln_f.weight", [c]), ("transformer.ln_f.bias", [c])]
    }
}

/// Where each parameter lives in the one flat parameter buffer (gradients and moments share the layout).
public struct ParameterLayout: Sendable {
    public let names: [String]
    public let shapes: [[Int]]
    public let offsets: [Int]
    public let total: Int
    let index: [String: Int]

    init(_ shape: GPUModelShape) {
        let ps = shape.parameters
        names = ps.map(\.name); shapes = ps.map(\.shape)
        var o: [Int] = [], t = 0
        for s in shapes { o.append(t); t += s.reduce(1, *) }
        offsets = o; total = t
        index = Dictionary(uniqueKeysWithValues: names.enumerated().map { ($1, $0) })
    }
    public func count(_ i: Int) -> Int { shapes[i].reduce(1, *) }
    public func offset(_ name: String) -> Int { offsets[index[name]!] }
}

/// AdamW settings, as StrataTensor's AdamW.Config.
public struct GPUAdamW: Sendable {
    public var beta1: Float = 0.9, beta2: Float = 0.95, eps: Float = 1e-8, weightDecay: Float = 0.1
    public init(beta1: Float = 0.9, beta2: Float = 0.95, eps: Float = 1e-8, weightDecay: Float = 0.1) {
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
    }
}

public final class GPT2CUDA {
    public let shape: GPUModelShape
    public let ops: GPUOps
    public let layout: ParameterLayout
    public let precision: GPUPrecision
    let params: DeviceBuffer<Float>, grads: DeviceBuffer<Float>
    let expAvg: DeviceBuffer<Float>, expAvgSq: DeviceBuffer<Float>
    let paramsBF16: DeviceBuffer<UInt16>?
    let optimizer: GPUAdamWOptimizer
    var acts: GPUActivations?

    public init(_ shape: GPUModelShape, ops: GPUOps, precision: GPUPrecision) throws {
        self.shape = shape; self.ops = ops; self.precision = precision
        guard shape.embd % shape.heads == 0 else {
            throw StrataError.config("gpu model", "n_embd \(shape.embd) is not a multiple of n_head \(shape.heads)")
        }
        layout = ParameterLayout(shape)
        let dev = ops.device
        params = try DeviceBuffer(dev, count: layout.total); grads = try DeviceBuffer(dev, count: layout.total)
        expAvg = try DeviceBuffer(dev, count: layout.total); expAvgSq = try DeviceBuffer(dev, count: layout.total)
        try grads.fill32(); try expAvg.fill32(); try expAvgSq.fill32()
        paramsBF16 = precision == .bf16 ? try DeviceBuffer(dev, count: layout.total) : nil
        let l = layout
        optimizer = try GPUAdamWOptimizer(ops: ops, params: params, grads: grads, expAvg: expAvg, expAvgSq: expAvgSq,
                                          segments: l.names.indices.map { (l.offsets[$0], l.count($0), l.shapes[$0].count >= 2) })
    }

    // MARK: parameters and optimizer state in and out

    /// Loads named tensors (every parameter must be present with its shape) onto the device.
    public func load(_ tensors: [String: [Float]]) throws {
        for (i, name) in layout.names.enumerated() {
            guard let v = tensors[name] else { throw StrataError.format("gpu model", "no tensor \(name) to load") }
            guard v.count == layout.count(i) else {
                throw StrataError.shape("gpu model", "\(name) has \(v.count) values, the model needs \(layout.shapes[i]) = \(layout.count(i))")
            }
            try params.upload(v, at: layout.offsets[i])
        }
        try refreshBF16()
    }

    /// Every parameter (or gradient, or moment) by name, read back from the device.
    public func download(_ which: GPUState = .parameters) throws -> [String: [Float]] {
        let buf: DeviceBuffer<Float> = [.parameters: params, .gradients: grads, .expAvg: expAvg, .expAvgSq: expAvgSq][which]!
        let all = try buf.download()
        var out: [String: [Float]] = [:]
        for (i, name) in layout.names.enumerated() { out[name] = Array(all[layout.offsets[i] ..< layout.offsets[i] + layout.count(i)]) }
        return out
    }

    /// Restores AdamW moments and its step count (resume from a checkpoint).
    public func loadOptimizer(expAvg m: [String: [Float]], expAvgSq v: [String: [Float]], step: Int) throws {
        for (i, name) in layout.names.enumerated() {
            guard let mi = m[name], let vi = v[name], mi.count == layout.count(i), vi.count == layout.count(i) else {
                throw StrataError.format("gpu model", "optimizer state for \(name) is missing or has the wrong size")
            }
            try expAvg.upload(mi, at: layout.offsets[i]); try expAvgSq.upload(vi, at: layout.offsets[i])
        }
        optimizer.step = step
    }

    func refreshBF16() throws {
        if let paramsBF16 { try ops.toBF16(paramsBF16.address, params.address, count: layout.total) }
    }

    func p(_ name: String) -> UInt64 { params.at(layout.offset(name)) }
    func g(_ name: String) -> UInt64 { grads.at(layout.offset(name)) }

    // MARK: one training step

    /// Forward and backward over one batch: ids, targets (-100 ignored) [B·T]; positions default to 0..<T per
    /// row; docStart (first attendable position per row, packed documents) optional. Gradients are *added*
    /// (call zeroGrad between optimizer steps); the loss is Σ per-position losses / normalizer (default: scored count).
    public func forwardBackward(ids: [Int32], targets: [Int32], batch b: Int, time t: Int, positions: [Int32]? = nil,
                                docStart: [Int32]? = nil, normalizer: Float? = nil) throws -> Double {
        let batch = try GPUBatch(ids: ids, targets: targets, batch: b, time: t, positions: positions, docStart: docStart,
                                 shape: shape, device: ops.device)
        let a = try activations(b: b, t: t)
        let scored = targets.filter { $0 >= 0 }.count
        let denom = normalizer ?? Float(scored)
        try forward(batch, a)
        try ops.crossEntropy(losses: a.losses.address, logits: a.logits.address, targets: batch.targets.address,
                             n: b * t, v: shape.vocab, k: denom > 0 ? 1 / denom : 0)
        let total = try a.losses.download(count: b * t).reduce(0) { $0 + Double($1) }
        try backward(batch, a)
        return denom > 0 ? total / Double(denom) : 0
    }

    public func zeroGrad() throws { try grads.fill32() }

    /// Global L2 norm of the gradients (in Double over per-block partial sums).
    public func gradNorm() throws -> Double { try optimizer.gradNorm() }

    /// Clip and apply one AdamW update (GPUAdamWOptimizer.update); rank ≥ 2 parameters decay. Returns the norm before clipping.
    @discardableResult
    public func update(lr: Float, config: GPUAdamW, maxNorm: Float?) throws -> Double {
        let norm = try optimizer.update(lr: lr, config: config, maxNorm: maxNorm)
        try refreshBF16()
        return norm
    }

    /// AdamW updates applied so far.
    public var step: Int { optimizer.step }

    func activations(b: Int, t: Int) throws -> GPUActivations {
        if let a = acts, a.b == b, a.t == t { return a }
        acts = nil   // free the old set before allocating the new one
        let a = try GPUActivations(shape: shape, b: b, t: t, device: ops.device, bf16: precision == .bf16)
        acts = a
        return a
    }
}

public enum GPUState: Sendable { case parameters, gradients, expAvg, expAvgSq }

/// One batch's integer inputs on the device, with the row groups the embedding backward scatters by.
struct GPUBatch {
    let b: Int, t: Int
    let ids: DeviceBuffer<Int32>, targets: DeviceBuffer<Int32>, positions: DeviceBuffer<Int32>
    let docStart: DeviceBuffer<Int32>?
    let byToken: DeviceRowGroups, byPosition: DeviceRowGroups

    init(ids: [Int32], targets: [Int32], batch b: Int, time t: Int, positions: [Int32]?, docStart: [Int32]?,
         shape: GPUModelShape, device: CUDADevice) throws {
        let n = b * t
        guard ids.count == n, targets.count == n else {
            throw StrataError.shape("gpu batch", "\(ids.count) ids and \(targets.count) targets for B=\(b), T=\(t)")
        }
        guard t <= shape.positions else { throw StrataError.shape("gpu batch", "T=\(t) exceeds n_positions=\(shape.positions)") }
        if let bad = ids.first(where: { $0 < 0 || Int($0) >= shape.vocab }) {
            throw StrataError.data("gpu batch", "token id \(bad) outside the vocabulary of \(shape.vocab)")
        }
        if let bad = targets.first(where: { $0 != -100 && ($0 < 0 || Int($0) >= shape.vocab) }) {
            throw StrataError.data("gpu batch", "target \(bad) outside the vocabulary of \(shape.vocab)")
        }
        let pos = positions ?? (0..<n).map { Int32($0 % t) }
        if let bad = pos.first(where: { $0 < 0 || Int($0) >= shape.positions }) {
            throw StrataError.data("gpu batch", "position \(bad) outside 0..<\(shape.positions)")
        }
        self.b = b; self.t = t
        self.ids = try DeviceBuffer(device, ids); self.targets = try DeviceBuffer(device, targets)
        self.positions = try DeviceBuffer(device, pos)
        self.docStart = try docStart.map { try DeviceBuffer(device, $0) }
        byToken = try DeviceRowGroups(RowGroups(ids), device: device)
        byPosition = try DeviceRowGroups(RowGroups(pos), device: device)
    }
}

/// Saved activations of one forward pass (everything the backward reads) and the backward's scratch.
final class GPUActivations {
    let b: Int, t: Int
    let resid: DeviceBuffer<Float>      // [L+1, N, C] residual stream entering each block (and leaving the last)
    let resid2: DeviceBuffer<Float>     // [L, N, C] after the attention half of each block
    let ln1: DeviceBuffer<Float>, ln2: DeviceBuffer<Float>              // [L, N, C]
    let mean1: DeviceBuffer<Float>, rstd1: DeviceBuffer<Float>, mean2: DeviceBuffer<Float>, rstd2: DeviceBuffer<Float>   // [L, N]
    let qkv: DeviceBuffer<Float>        // [L, N, 3C]
    let probs: DeviceBuffer<Float>      // [L, B, H, T, T] attention probabilities
    let atty: DeviceBuffer<Float>       // [L, N, C] attention output before c_proj
    let fch: DeviceBuffer<Float>, gelu: DeviceBuffer<Float>             // [L, N, F]
    let lnf: DeviceBuffer<Float>, meanF: DeviceBuffer<Float>, rstdF: DeviceBuffer<Float>
    let logits: DeviceBuffer<Float>     // [N, V], then the gradient of the loss w.r.t. them
    let losses: DeviceBuffer<Float>     // [N]
    // scratch
    let scores: DeviceBuffer<Float>     // [B, H, T, T] scores, then dP / dS in backward
    let outNC: DeviceBuffer<Float>      // [N, C] block outputs before the residual add
    let dresid: DeviceBuffer<Float>, dln: DeviceBuffer<Float>, datty: DeviceBuffer<Float>   // [N, C]
    let dqkv: DeviceBuffer<Float>       // [N, 3C]
    let dfc: DeviceBuffer<Float>        // [N, F]
    let bf16A: DeviceBuffer<UInt16>?, bf16B: DeviceBuffer<UInt16>?      // operand conversions for bf16 products

    init(shape s: GPUModelShape, b: Int, t: Int, device d: CUDADevice, bf16: Bool) throws {
        self.b = b; self.t = t
        let n = b * t, c = s.embd, l = s.layers, f = s.inner
        resid = try DeviceBuffer(d, count: (l + 1) * n * c); resid2 = try DeviceBuffer(d, count: l * n * c)
        ln1 = try DeviceBuffer(d, count: l * n * c); ln2 = try DeviceBuffer(d, count: l * n * c)
        mean1 = try DeviceBuffer(d, count: l * n); rstd1 = try DeviceBuffer(d, count: l * n)
        mean2 = try DeviceBuffer(d, count: l * n); rstd2 = try DeviceBuffer(d, count: l * n)
        qkv = try DeviceBuffer(d, count: l * n * 3 * c)
        probs = try DeviceBuffer(d, count: l * b * s.heads * t * t)
        atty = try DeviceBuffer(d, count: l * n * c)
        fch = try DeviceBuffer(d, count: l * n * f); gelu = try DeviceBuffer(d, count: l * n * f)
        lnf = try DeviceBuffer(d, count: n * c); meanF = try DeviceBuffer(d, count: n); rstdF = try DeviceBuffer(d, count: n)
        logits = try DeviceBuffer(d, count: n * s.vocab); losses = try DeviceBuffer(d, count: n)
        scores = try DeviceBuffer(d, count: b * s.heads * t * t)
        outNC = try DeviceBuffer(d, count: n * c)
        dresid = try DeviceBuffer(d, count: n * c); dln = try DeviceBuffer(d, count: n * c); datty = try DeviceBuffer(d, count: n * c)
        dqkv = try DeviceBuffer(d, count: n * 3 * c); dfc = try DeviceBuffer(d, count: n * f)
        let biggest = max(n * s.vocab, n * f, s.vocab * c)
        bf16A = bf16 ? try DeviceBuffer(d, count: biggest) : nil
        bf16B = bf16 ? try DeviceBuffer(d, count: biggest) : nil
    }
}
