// The forward and backward passes of GPT2CUDA, block by block, each line the math
// of StrataModel's GPT2 and the tape's backward for it. Weights are row-major
// [in, out] (Conv1D), so a linear layer is y = x·W + b and its backward is
// dx = dy·Wᵀ, dW += xᵀ·dy, db += Σ_rows dy.
// Attention is GPUOps+Attention.swift.
// Shapes: B, T, C, V, L, H, D = C/H, F inner, N = B·T.

import Foundation
import StrataCore

extension GPT2CUDA {
    /// A matrix operand: an fp32 activation on the device, or a parameter by name.
    enum Src {
        case act(UInt64, count: Int, transposed: Bool = false)
        case weight(String, transposed: Bool = false)
    }

    /// The operand as cuBLAS gets it: fp32 as is, or under bf16 the parameter's bf16 copy / the activation
    /// converted into `slot`.
    func operand(_ s: Src, slot: DeviceBuffer<UInt16>?) throws -> GemmOperand {
        switch (s, precision) {
        case (.act(let a, _, let tr), .fp32), (.act(let a, _, let tr), .tf32): return GemmOperand(a, transposed: tr)
        case (.weight(let name, let tr), .fp32), (.weight(let name, let tr), .tf32): return GemmOperand(p(name), transposed: tr)
        case (.act(let a, let count, let tr), .bf16):
            try ops.toBF16(slot!.address, a, count: count)
            return GemmOperand(slot!.address, transposed: tr, bf16: true)
        case (.weight(let name, let tr), .bf16):
            return GemmOperand(paramsBF16!.at(layout.offset(name)), transposed: tr, bf16: true)
        }
    }

    /// C[M, N] (+)= op(A)·op(B), row-major.
    func gemm(_ m: Int, _ n: Int, _ k: Int, _ a: Src, _ b: Src, into c: UInt64, accumulate: Bool = false, _ x: GPUActivations) throws {
        try ops.blas.gemm(m: m, n: n, k: k, try operand(a, slot: x.bf16A), try operand(b, slot: x.bf16B), c: c, beta: accumulate ? 1 : 0)
    }

    // MARK: forward

    func forward(_ batch: GPUBatch, _ x: GPUActivations) throws {
        let n = batch.b * batch.t, c = shape.embd
        try ops.embedForward(x: x.resid.address, ids: batch.ids.address, positions: batch.positions.address,
                             wte: p("transformer.wte.weight"), wpe: p("transformer.wpe.weight"), n: n, c: c)
        for l in 0..<shape.layers { try blockForward(l, batch, x) }
        let last = x.resid.at(shape.layers * n * c)
        try ops.layerNormForward(y: x.lnf.address, mean: x.meanF.address, rstd: x.rstdF.address, x: last,
                                 w: p("transformer.ln_f.weight"), b: p("transformer.ln_f.bias"), n: n, c: c, eps: shape.eps)
        // logits [N, V] = lnf [N, C] · wteᵀ
        try gemm(n, shape.vocab, c, .act(x.lnf.address, count: n * c), .weight("transformer.wte.weight", transposed: true),
                 into: x.logits.address, x)
    }

    /// x_{l+1} = x' + proj(gelu(fc(ln2(x')))),  x' = x_l + proj(attention(qkv(ln1(x_l))))
    func blockForward(_ l: Int, _ batch: GPUBatch, _ x: GPUActivations) throws {
        let n = batch.b * batch.t, c = shape.embd, f = shape.inner, pre = "transformer.h.\(l)."
        let xin = x.resid.at(l * n * c), xout = x.resid.at((l + 1) * n * c), xmid = x.resid2.at(l * n * c)
        let ln1 = x.ln1.at(l * n * c), ln2 = x.ln2.at(l * n * c), qkv = x.qkv.at(l * n * 3 * c), atty = x.atty.at(l * n * c)
        let fch = x.fch.at(l * n * f), gelu = x.gelu.at(l * n * f)
        try ops.layerNormForward(y: ln1, mean: x.mean1.at(l * n), rstd: x.rstd1.at(l * n), x: xin, w: p(pre + "ln_1.weight"),
                                 b: p(pre + "ln_1.bias"), n: n, c: c, eps: shape.eps)
        try gemm(n, 3 * c, c, .act(ln1, count: n * c), .weight(pre + "attn.c_attn.weight"), into: qkv, x)
        try ops.addBias(y: qkv, b: p(pre + "attn.c_attn.bias"), n: n, c: 3 * c)
        try ops.attentionForward(qkv: qkv, out: atty, probs: x.probs.at(l * batch.b * shape.heads * batch.t * batch.t), scores: x.scores.address,
                                 docStart: batch.docStart?.address ?? 0, b: batch.b, t: batch.t, c: c, heads: shape.heads)
        try gemm(n, c, c, .act(atty, count: n * c), .weight(pre + "attn.c_proj.weight"), into: x.outNC.address, x)
        try ops.addBias(y: x.outNC.address, b: p(pre + "attn.c_proj.bias"), n: n, c: c)
        try ops.add(y: xmid, xin, x.outNC.address, count: n * c)
        try ops.layerNormForward(y: ln2, mean: x.mean2.at(l * n), rstd: x.rstd2.at(l * n), x: xmid, w: p(pre + "ln_2.weight"),
                                 b: p(pre + "ln_2.bias"), n: n, c: c, eps: shape.eps)
        try gemm(n, f, c, .act(ln2, count: n * c), .weight(pre + "mlp.c_fc.weight"), into: fch, x)
        try ops.addBias(y: fch, b: p(pre + "mlp.c_fc.bias"), n: n, c: f)
        try ops.geluForward(y: gelu, x: fch, count: n * f)
        try gemm(n, c, f, .act(gelu, count: n * f), .weight(pre + "mlp.c_proj.weight"), into: x.outNC.address, x)
        try ops.addBias(y: x.outNC.address, b: p(pre + "mlp.c_proj.bias"), n: n, c: c)
        try ops.add(y: xout, xmid, x.outNC.address, count: n * c)
    }

    // MARK: backward

    /// Back-propagates from the logits' gradient (left in x.logits by the cross-entropy kernel) into `grads`.
    func backward(_ batch: GPUBatch, _ x: GPUActivations) throws {
        let n = batch.b * batch.t, c = shape.embd, v = shape.vocab
        // logits = lnf·wteᵀ:  dwte += dlogitsᵀ·lnf,  dlnf = dlogits·wte
        try gemm(v, c, n, .act(x.logits.address, count: n * v, transposed: true), .act(x.lnf.address, count: n * c),
                 into: g("transformer.wte.weight"), accumulate: true, x)
        try gemm(n, c, v, .act(x.logits.address, count: n * v), .weight("transformer.wte.weight"), into: x.dln.address, x)
        try x.dresid.fill32()
        try ops.layerNormBackward(dx: x.dresid.address, dw: g("transformer.ln_f.weight"), db: g("transformer.ln_f.bias"), dy: x.dln.address,
                                  x: x.resid.at(shape.layers * n * c), mean: x.meanF.address, rstd: x.rstdF.address,
                                  w: p("transformer.ln_f.weight"), n: n, c: c)
        for l in (0..<shape.layers).reversed() { try blockBackward(l, batch, x) }
        // x_0 = wte[ids] + wpe[pos]: scatter the residual gradient into both tables (fixed order, no atomics).
        try ops.scatterRows(dtable: g("transformer.wte.weight"), dx: x.dresid.address, groups: batch.byToken, c: c)
        try ops.scatterRows(dtable: g("transformer.wpe.weight"), dx: x.dresid.address, groups: batch.byPosition, c: c)
    }

    func qkv(_ l: Int, _ batch: GPUBatch, _ x: GPUActivations) -> UInt64 { x.qkv.at(l * batch.b * batch.t * 3 * shape.embd) }

    /// dresid holds d(x_{l+1}) on entry and d(x_l) on return.
    func blockBackward(_ l: Int, _ batch: GPUBatch, _ x: GPUActivations) throws {
        let n = batch.b * batch.t, c = shape.embd, f = shape.inner, pre = "transformer.h.\(l)."
        let dres = x.dresid.address
        // MLP half: x_{l+1} = x' + gelu(ln2(x')·Wfc + bfc)·Wp + bp
        try gemm(n, f, c, .act(dres, count: n * c), .weight(pre + "mlp.c_proj.weight", transposed: true), into: x.dfc.address, x)
        try gemm(f, c, n, .act(x.gelu.at(l * n * f), count: n * f, transposed: true), .act(dres, count: n * c),
                 into: g(pre + "mlp.c_proj.weight"), accumulate: true, x)
        try ops.biasBackward(db: g(pre + "mlp.c_proj.bias"), dy: dres, n: n, c: c)
        try ops.geluBackward(dx: x.dfc.address, x: x.fch.at(l * n * f), dy: x.dfc.address, count: n * f)
        try gemm(n, c, f, .act(x.dfc.address, count: n * f), .weight(pre + "mlp.c_fc.weight", transposed: true), into: x.dln.address, x)
        try gemm(c, f, n, .act(x.ln2.at(l * n * c), count: n * c, transposed: true), .act(x.dfc.address, count: n * f),
                 into: g(pre + "mlp.c_fc.weight"), accumulate: true, x)
        try ops.biasBackward(db: g(pre + "mlp.c_fc.bias"), dy: x.dfc.address, n: n, c: f)
        try ops.layerNormBackward(dx: dres, dw: g(pre + "ln_2.weight"), db: g(pre + "ln_2.bias"), dy: x.dln.address,
                                  x: x.resid2.at(l * n * c), mean: x.mean2.at(l * n), rstd: x.rstd2.at(l * n), w: p(pre + "ln_2.weight"), n: n, c: c)
        // Attention half: x' = x_l + atty·Wproj + bproj,  atty = attention(ln1(x_l)·Wattn + battn)
        try gemm(n, c, c, .act(dres, count: n * c), .weight(pre + "attn.c_proj.weight", transposed: true), into: x.datty.address, x)
        try gemm(c, c, n, .act(x.atty.at(l * n * c), count: n * c, transposed: true), .act(dres, count: n * c),
                 into: g(pre + "attn.c_proj.weight"), accumulate: true, x)
        try ops.biasBackward(db: g(pre + "attn.c_proj.bias"), dy: dres, n: n, c: c)
        try ops.attentionBackward(dOut: x.datty.address, dqkv: x.dqkv.address, qkv: qkv(l, batch, x),
                                  probs: x.probs.at(l * batch.b * shape.heads * batch.t * batch.t), scores: x.scores.address,
                                  b: batch.b, t: batch.t, c: c, heads: shape.heads)
        try gemm(n, c, 3 * c, .act(x.dqkv.address, count: n * 3 * c), .weight(pre + "attn.c_attn.weight", transposed: true),
                 into: x.dln.address, x)
        try gemm(c, 3 * c, n, .act(x.ln1.at(l * n * c), count: n * c, transposed: true), .act(x.dqkv.address, count: n * 3 * c),
                 into: g(pre + "attn.c_attn.weight"), accumulate: true, x)
        try ops.biasBackward(db: g(pre + "attn.c_attn.bias"), dy: x.dqkv.address, n: n, c: 3 * c)
        try ops.layerNormBackward(dx: dres, dw: g(pre + "ln_1.weight"), db: g(pre + "ln_1.bias"), dy: x.dln.address,
                                  x: x.resid.at(l * n * c), mean: x.mean1.at(l * n), rstd: x.rstd1.at(l * n), w: p(pre + "ln_1.weight"), n: n, c: c)
    }
}
