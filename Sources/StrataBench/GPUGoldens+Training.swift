// The training golden: a tiny GPT-2 trained 20 steps on the CPU with AdamW and
// global-norm clipping at a constant learning rate, on seeded random batches.
// Written: the initial weights, every batch, every step's loss, the first step's
// gradients and the final weights — what GPUSelftest.trainingCheck replays.

import Foundation
import StrataCore
import StrataTensor
import StrataModel

extension GPUGoldensWriter {
    static func training(_ s: inout Sink, seed: UInt64) {
        let cfg = GPT2Config(vocabSize: 96, nPositions: 16, nEmbd: 32, nLayer: 2, nHead: 2)
        let model = GPT2(cfg, seed: seed)
        model.setDropout(0)
        let (b, t, steps) = (3, 16, 20)
        let adam = AdamW.Config(lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1)
        let opt = AdamW(model.parameters, config: adam)
        for p in model.parameters { s.put("train.init." + p.name!, p) }
        var rng = StrataRNG(seed: seed &+ 1)
        // A learnable stream: each row counts up from a random start (mod V), so the loss falls visibly.
        var ids: [Int32] = [], targets: [Int32] = [], losses: [Float] = []
        for step in 0..<steps {
            var bi: [Int32] = [], bt: [Int32] = []
            for _ in 0..<b {
                let start = rng.int(below: cfg.vocabSize), stride = 1 + rng.int(below: 3)
                let row = (0...t).map { Int32((start + $0 * stride) % cfg.vocabSize) }
                bi += row[0..<t]; bt += row[1...t]
            }
            if step == 2 { bt[5] = -100 }   // an ignored position
            ids += bi; targets += bt
            model.zeroGrad()
            let tape = Tape(recording: true, training: true)
            let loss = model.loss(bi, targets: bt, batch: b, time: t, tape: tape)
            tape.backward(loss)
            losses.append(loss.ptr[0])
            if step == 0 { for p in model.parameters { s.put("train.grad0." + p.name!, p.grad!) } }
            AdamW.clipGradNorm(model.parameters, maxNorm: 1)
            opt.update()
        }
        for p in model.parameters { s.put("train.final." + p.name!, p) }
        s.put("train.ids", ints: ids); s.put("train.targets", ints: targets); s.put("train.losses", losses)
        s.meta["train.model"] = "\(cfg.nLayer),\(cfg.nHead),\(cfg.nEmbd),\(cfg.vocabSize),\(cfg.nPositions)"
        s.meta["train.batch"] = "\(b),\(t),\(steps)"
        for (k, v) in [("lr", adam.lr), ("beta1", adam.beta1), ("beta2", adam.beta2), ("eps", adam.eps), ("weight_decay", adam.weightDecay),
                       ("clip", 1)] {
            s.meta["train." + k] = "\(v)"
        }
    }
}
