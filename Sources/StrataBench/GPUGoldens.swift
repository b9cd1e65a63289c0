// Writes the golden outputs the GPU selftest compares against, computed by the
// CPU backend (StrataTensor's tape ops, StrataModel's GPT2, AdamW): one case per
// kernel family (inputs, upstream gradient, outputs, input gradients) and a 20-step
// training run of a tiny GPT-2 (initial weights, the batches, every step's loss,
// the first step's gradients, the final weights). Seeded, so a rerun writes the
// same numbers. Reader: StrataCUDA/GPUSelftest(+Kernels).swift, same names.
// Shapes are tiny on purpose: the goldens are committed (tools/gpu/goldens.safetensors).

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataCheckpoint

public enum GPUGoldensWriter {
    struct Sink {
        var tensors: [NamedTensor] = [], meta: [String: String] = [:]
        mutating func put(_ name: String, _ t: Tensor) { tensors.append(NamedTensor(name: name, shape: t.shape, values: t.toArray())) }
        mutating func put(_ name: String, _ v: [Float]) { tensors.append(NamedTensor(name: name, shape: [v.count], values: v)) }
        mutating func put(_ name: String, ints v: [Int32]) { put(name, v.map(Float.init)) }
    }

    public static func write(to url: URL, seed: UInt64 = 2026) throws {
        var sink = Sink(), rng = StrataRNG(seed: seed)
        layerNorm(&sink, &rng); gelu(&sink, &rng); linear(&sink, &rng)
        attention(&sink, &rng, key: "attention", docStart: nil)
        attention(&sink, &rng, key: "attention_doc", docStart: [0, 0, 0, 3, 3, 3, 3, 7, 0, 1, 1, 1, 1, 1, 1, 1])
        crossEntropy(&sink, &rng); embedding(&sink, &rng); adamW(&sink, &rng)
        training(&sink, seed: seed)
        sink.meta["written_by"] = "strata gpu-selftest --write-goldens (CPU backend)"
        try SafeTensors.write(sink.tensors, metadata: sink.meta, to: url)
    }

    static func random(_ shape: [Int], _ rng: inout StrataRNG, scale: Float = 1, grad: Bool = false) -> Tensor {
        Tensor((0..<shape.reduce(1, *)).map { _ in rng.normal() * scale }, shape: shape, requiresGrad: grad)
    }

    /// Runs `forward` on a recording tape and back-propagates Σ y⊙dy, so every input's grad is dy pulled back.
    static func pullBack(_ dy: Tensor, _ forward: (Tape) -> Tensor) -> Tensor {
        let tape = Tape(recording: true, training: false)
        let y = forward(tape)
        tape.backward(tape.sum(tape.mul(y, dy)))
        return y
    }

    static func layerNorm(_ s: inout Sink, _ rng: inout StrataRNG) {
        let (n, c) = (6, 40)
        let x = random([n, c], &rng, scale: 2, grad: true), w = random([c], &rng, grad: true), b = random([c], &rng, grad: true)
        let dy = random([n, c], &rng)
        let y = pullBack(dy) { $0.layerNorm(x, w, b, eps: 1e-5) }
        s.meta["layernorm.nc"] = "\(n),\(c)"; s.meta["layernorm.eps"] = "1e-05"
        for (k, t) in [("x", x), ("w", w), ("b", b), ("dy", dy), ("y", y)] { s.put("layernorm." + k, t) }
        s.put("layernorm.dx", x.grad!); s.put("layernorm.dw", w.grad!); s.put("layernorm.db", b.grad!)
    }

    static func gelu(_ s: inout Sink, _ rng: inout StrataRNG) {
        let x = random([300], &rng, scale: 3, grad: true), dy = random([300], &rng)
        let y = pullBack(dy) { $0.gelu(x) }
        s.put("gelu.x", x); s.put("gelu.dy", dy); s.put("gelu.y", y); s.put("gelu.dx", x.grad!)
    }

    static func linear(_ s: inout Sink, _ rng: inout StrataRNG) {
        let (n, i, o) = (10, 24, 36)
        let x = random([n, i], &rng, grad: true), w = random([i, o], &rng, scale: 0.3, grad: true), b = random([o], &rng, grad: true)
        let dy = random([n, o], &rng)
        let y = pullBack(dy) { $0.linear(x, w, b) }
        s.meta["linear.dims"] = "\(n),\(i),\(o)"
        for (k, t) in [("x", x), ("w", w), ("b", b), ("dy", dy), ("y", y)] { s.put("linear." + k, t) }
        s.put("linear.dx", x.grad!); s.put("linear.dw", w.grad!); s.put("linear.db", b.grad!)
    }

    static func attention(_ s: inout Sink, _ rng: inout StrataRNG, key: String, docStart: [Int32]?) {
        let (b, t, c, h) = (2, 8, 16, 2)
        let qkv = random([b, t, 3 * c], &rng, grad: true), dy = random([b, t, c], &rng)
        let y = pullBack(dy) { $0.attention(qkv, heads: h, docStart: docStart) }
        s.meta[key + ".dims"] = "\(b),\(t),\(c),\(h)"
        s.put(key + ".qkv", qkv); s.put(key + ".dy", dy); s.put(key + ".y", y); s.put(key + ".dqkv", qkv.grad!)
        if let docStart { s.put(key + ".docstart", ints: docStart) }
    }

    static func crossEntropy(_ s: inout Sink, _ rng: inout StrataRNG) {
        let (n, v) = (7, 50)
        let logits = random([n, v], &rng, scale: 3, grad: true)
        let targets: [Int32] = [3, 49, 0, -100, 17, 17, 25]
        let tape = Tape(recording: true, training: false)
        let loss = tape.crossEntropy(logits, targets)
        tape.backward(loss)
        s.meta["ce.dims"] = "\(n),\(v)"
        s.put("ce.logits", logits); s.put("ce.targets", ints: targets); s.put("ce.loss", loss); s.put("ce.dlogits", logits.grad!)
    }

    static func embedding(_ s: inout Sink, _ rng: inout StrataRNG) {
        let (v, p, c) = (12, 6, 20)
        let ids: [Int32] = [3, 7, 3, 0, 11, 3, 7, 5, 5], pos: [Int32] = [0, 1, 2, 0, 1, 2, 5, 5, 4]
        let wte = random([v, c], &rng, grad: true), wpe = random([p, c], &rng, grad: true), dy = random([ids.count, c], &rng)
        let y = pullBack(dy) { $0.add($0.embedding(wte, ids), $0.embedding(wpe, pos)) }
        s.meta["emb.c"] = "\(c)"
        s.put("emb.ids", ints: ids); s.put("emb.pos", ints: pos); s.put("emb.wte", wte); s.put("emb.wpe", wpe); s.put("emb.dy", dy)
        s.put("emb.y", y); s.put("emb.dwte", wte.grad!); s.put("emb.dwpe", wpe.grad!)
    }

    static func adamW(_ s: inout Sink, _ rng: inout StrataRNG) {
        let w = random([4, 8], &rng, grad: true), b = random([8], &rng, grad: true)
        s.put("adamw.w0", w); s.put("adamw.b0", b)
        let cfg = AdamW.Config(lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1)
        let opt = AdamW([w, b], config: cfg)
        var gw: [Float] = [], gb: [Float] = []
        for step in 0..<3 {
            let scale: Float = step == 1 ? 5 : 0.2     // the middle step is clipped
            w.grad = random([4, 8], &rng, scale: scale); b.grad = random([8], &rng, scale: scale)
            gw += w.grad!.toArray(); gb += b.grad!.toArray()
            AdamW.clipGradNorm([w, b], maxNorm: 1)
            opt.update()
        }
        s.put("adamw.gw", gw); s.put("adamw.gb", gb); s.put("adamw.w", w); s.put("adamw.b", b)
        s.put("adamw.m", opt.expAvg[0].toArray() + opt.expAvg[1].toArray()); s.put("adamw.v", opt.expAvgSq[0].toArray() + opt.expAvgSq[1].toArray())
        for (k, v) in [("lr", cfg.lr), ("beta1", cfg.beta1), ("beta2", cfg.beta2), ("eps", cfg.eps), ("weight_decay", cfg.weightDecay), ("clip", 1)] {
            s.meta["adamw." + k] = "\(v)"
        }
    }
}
