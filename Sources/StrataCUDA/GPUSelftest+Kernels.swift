// The selftest's kernel cases: each uploads the CPU backend's inputs from the
// goldens, runs the GPU op (forward and backward), and hands each output to
// `check` with the name of the golden it must match. Names and shapes are the
// ones the goldens writer (StrataBench/GPUGoldens.swift) uses.

import Foundation
import StrataCore

enum KernelCases {
    typealias Check = (String, [Float], String) throws -> Void

    static func buf(_ ops: GPUOps, _ v: [Float]) throws -> DeviceBuffer<Float> { try DeviceBuffer(ops.device, v) }
    static func zeros(_ ops: GPUOps, _ n: Int) throws -> DeviceBuffer<Float> { let b = try DeviceBuffer<Float>(ops.device, count: n); try b.fill32(); return b }

    static func layerNorm(_ ops: GPUOps, _ g: GPUGoldens, _ check: Check) throws {
        let d = try g.dims("layernorm.nc"), (n, c) = (d[0], d[1])
        let x = try buf(ops, g.values("layernorm.x")), w = try buf(ops, g.values("layernorm.w")), b = try buf(ops, g.values("layernorm.b"))
        let dy = try buf(ops, g.values("layernorm.dy"))
        let y = try zeros(ops, n * c), mean = try zeros(ops, n), rstd = try zeros(ops, n)
        let dx = try zeros(ops, n * c), dw = try zeros(ops, c), db = try zeros(ops, c)
        try ops.layerNormForward(y: y.address, mean: mean.address, rstd: rstd.address, x: x.address, w: w.address, b: b.address,
                                 n: n, c: c, eps: try g.number("layernorm.eps"))
        try ops.layerNormBackward(dx: dx.address, dw: dw.address, db: db.address, dy: dy.address, x: x.address, mean: mean.address,
                                  rstd: rstd.address, w: w.address, n: n, c: c)
        try check("layernorm forward", y.download(), "layernorm.y")
        try check("layernorm backward dx", dx.download(), "layernorm.dx")
        try check("layernorm backward dw", dw.download(), "layernorm.dw")
        try check("layernorm backward db", db.download(), "layernorm.db")
    }

    static func gelu(_ ops: GPUOps, _ g: GPUGoldens, _ check: Check) throws {
        let xv = try g.values("gelu.x"), n = xv.count
        let x = try buf(ops, xv), dy = try buf(ops, g.values("gelu.dy")), y = try zeros(ops, n), dx = try zeros(ops, n)
        try ops.geluForward(y: y.address, x: x.address, count: n)
        try ops.geluBackward(dx: dx.address, x: x.address, dy: dy.address, count: n)
        try check("gelu forward", y.download(), "gelu.y")
        try check("gelu backward", dx.download(), "gelu.dx")
    }

    /// y = x·W + b;  dx = dy·Wᵀ;  dW = xᵀ·dy;  db = Σ dy — cuBLAS in exact fp32 plus the bias kernels.
    static func linear(_ ops: GPUOps, _ g: GPUGoldens, _ check: Check) throws {
        let d = try g.dims("linear.dims"), (n, i, o) = (d[0], d[1], d[2])
        let x = try buf(ops, g.values("linear.x")), w = try buf(ops, g.values("linear.w")), b = try buf(ops, g.values("linear.b"))
        let dy = try buf(ops, g.values("linear.dy"))
        let y = try zeros(ops, n * o), dx = try zeros(ops, n * i), dw = try zeros(ops, i * o), db = try zeros(ops, o)
        try ops.blas.gemm(m: n, n: o, k: i, GemmOperand(x.address), GemmOperand(w.address), c: y.address)
        try ops.addBias(y: y.address, b: b.address, n: n, c: o)
        try ops.blas.gemm(m: n, n: i, k: o, GemmOperand(dy.address), GemmOperand(w.address, transposed: true), c: dx.address)
        try ops.blas.gemm(m: i, n: o, k: n, GemmOperand(x.address, transposed: true), GemmOperand(dy.address), c: dw.address, beta: 1)
        try ops.biasBackward(db: db.address, dy: dy.address, n: n, c: o)
        try check("linear forward (cuBLAS fp32)", y.download(), "linear.y")
        try check("linear backward dx", dx.download(), "linear.dx")
        try check("linear backward dW", dw.download(), "linear.dw")
        try check("linear backward db", db.download(), "linear.db")
    }

    static func attention(_ ops: GPUOps, _ g: GPUGoldens, _ key: String, _ check: Check) throws {
        let d = try g.dims(key + ".dims"), (b, t, c, h) = (d[0], d[1], d[2], d[3])
        let qkv = try buf(ops, g.values(key + ".qkv")), dy = try buf(ops, g.values(key + ".dy"))
        let doc: DeviceBuffer<Int32>? = g.file.tensor(key + ".docstart") == nil ? nil : try DeviceBuffer(ops.device, g.ints(key + ".docstart"))
        let out = try zeros(ops, b * t * c), probs = try zeros(ops, b * h * t * t), scores = try zeros(ops, b * h * t * t)
        let dqkv = try zeros(ops, b * t * 3 * c)
        try ops.attentionForward(qkv: qkv.address, out: out.address, probs: probs.address, scores: scores.address,
                                 docStart: doc?.address ?? 0, b: b, t: t, c: c, heads: h)
        try ops.attentionBackward(dOut: dy.address, dqkv: dqkv.address, qkv: qkv.address, probs: probs.address, scores: scores.address,
                                  b: b, t: t, c: c, heads: h)
        let what = doc == nil ? "causal attention" : "document-masked attention"
        try check("\(what) forward", out.download(), key + ".y")
        try check("\(what) backward dqkv", dqkv.download(), key + ".dqkv")
    }

    static func crossEntropy(_ ops: GPUOps, _ g: GPUGoldens, _ check: Check) throws {
        let d = try g.dims("ce.dims"), (n, v) = (d[0], d[1])
        let targetsHost = try g.ints("ce.targets")
        let logits = try buf(ops, g.values("ce.logits")), targets = try DeviceBuffer(ops.device, targetsHost), losses = try zeros(ops, n)
        let counted = targetsHost.filter { $0 >= 0 }.count
        try ops.crossEntropy(losses: losses.address, logits: logits.address, targets: targets.address, n: n, v: v, k: 1 / Float(counted))
        let loss = try losses.download().reduce(0) { $0 + Double($1) } / Double(counted)
        try check("cross-entropy loss", [Float(loss)], "ce.loss")
        try check("cross-entropy backward", logits.download(), "ce.dlogits")
    }

    static func embedding(_ ops: GPUOps, _ g: GPUGoldens, _ check: Check) throws {
        let ids = try g.ints("emb.ids"), pos = try g.ints("emb.pos"), n = ids.count
        let wteV = try g.values("emb.wte"), wpeV = try g.values("emb.wpe"), c = try g.dims("emb.c")[0]
        let wte = try buf(ops, wteV), wpe = try buf(ops, wpeV), dy = try buf(ops, g.values("emb.dy"))
        let idsD = try DeviceBuffer(ops.device, ids), posD = try DeviceBuffer(ops.device, pos)
        let y = try zeros(ops, n * c), dwte = try zeros(ops, wteV.count), dwpe = try zeros(ops, wpeV.count)
        try ops.embedForward(x: y.address, ids: idsD.address, positions: posD.address, wte: wte.address, wpe: wpe.address, n: n, c: c)
        try ops.scatterRows(dtable: dwte.address, dx: dy.address, groups: DeviceRowGroups(RowGroups(ids), device: ops.device), c: c)
        try ops.scatterRows(dtable: dwpe.address, dx: dy.address, groups: DeviceRowGroups(RowGroups(pos), device: ops.device), c: c)
        try check("embedding forward", y.download(), "emb.y")
        try check("embedding backward (token table)", dwte.download(), "emb.dwte")
        try check("embedding backward (position table)", dwpe.download(), "emb.dwpe")
    }

    /// Two tensors (a decaying matrix, a non-decaying vector) in one flat buffer, three clipped AdamW steps.
    static func adamW(_ ops: GPUOps, _ g: GPUGoldens, _ check: Check) throws {
        let w0 = try g.values("adamw.w0"), b0 = try g.values("adamw.b0"), nw = w0.count, nb = b0.count
        let gw = try g.values("adamw.gw"), gb = try g.values("adamw.gb"), steps = gw.count / nw
        let p = try buf(ops, w0 + b0), grads = try zeros(ops, nw + nb), m = try zeros(ops, nw + nb), v = try zeros(ops, nw + nb)
        let opt = try GPUAdamWOptimizer(ops: ops, params: p, grads: grads, expAvg: m, expAvgSq: v, segments: [(0, nw, true), (nw, nb, false)])
        let cfg = GPUAdamW(beta1: try g.number("adamw.beta1"), beta2: try g.number("adamw.beta2"), eps: try g.number("adamw.eps"),
                           weightDecay: try g.number("adamw.weight_decay"))
        for s in 0..<steps {
            try grads.upload(Array(gw[s * nw ..< (s + 1) * nw]) + Array(gb[s * nb ..< (s + 1) * nb]))
            try opt.update(lr: try g.number("adamw.lr"), config: cfg, maxNorm: try g.number("adamw.clip"))
        }
        let all = try p.download(), mm = try m.download(), vv = try v.download()
        try check("adamw weights (decayed, clipped)", Array(all[..<nw]), "adamw.w")
        try check("adamw bias (no decay)", Array(all[nw...]), "adamw.b")
        try check("adamw first moment", mm, "adamw.m")
        try check("adamw second moment", vv, "adamw.v")
    }
}
