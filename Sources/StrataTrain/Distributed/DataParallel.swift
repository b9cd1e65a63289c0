// Data parallelism over MPI for the stages whose objective splits its micro-batches
// (pretrain, continue, anneal, sft, reward, dpo; ppo and grpo split their rollouts
// too, RLRanks.swift). The recipe's global batch stays
// what it says — train.grad_accum micro-batches of train.batch_size rows — and N
// ranks share it: every rank draws the same micro-batches (the stream does not
// depend on the rank) and trains micro-batch i when i % N is its rank. Losses are
// normalised by the step's global count (trained positions, or pairs), each rank's
// gradients summed over all ranks before the norm (so clipping, the spike guard's
// verdict and the update are the same everywhere), and the loss and metrics kept
// per micro-batch and summed in micro-batch order, so one process with
// grad_accum N equals N ranks with one micro-batch each.
// ZeRO-1 replaces this engine when the recipe asks (ZeROEngine.swift).
// Leaves out: overlapping the all-reduce with the backward (bucketing), GPUs.

import Foundation
import StrataCore
import StrataTensor

/// One rank's CPU engine: the update is the CPU's, after the gradients are summed over every rank.
final class DataParallelEngine: UpdateEngine {
    let inner: CPUEngine
    let world: World

    init(inner: CPUEngine, world: World) { self.inner = inner; self.world = world }

    func gradientNorm(clip: Float?) throws -> Double {
        for p in inner.trainable {   // every rank takes part for every tensor, with zeros where it has no gradient
            let g = p.gradBuffer()
            world.allReduceSum(g.ptr, count: g.count)
        }
        return try inner.gradientNorm(clip: clip)
    }
    func update(lr: Float) throws { try inner.update(lr: lr) }
    func zeroGrad() throws { try inner.zeroGrad() }
    var optimizerStep: Int { inner.optimizerStep }
    func pullToHost() throws {}
    func pushFromHost() throws {}
}

extension World: RankExchange {}

extension World {
    /// The step's outcome as one process would have it: each micro-batch's terms live on the rank that trained it
    /// (the others hold zeros, so the element-wise sum over ranks is exact), then loss, metrics and tokens are
    /// summed in micro-batch order. Every rank runs the same stage, so the metric names agree.
    func combine(_ out: StepOutcome) -> StepOutcome {
        guard out.loss != nil, !out.terms.isEmpty else { return out }
        let keys = Set(out.terms.compactMap { $0?.metrics.keys }.joined()).sorted()
        let width = 2 + keys.count
        var v = [Double](repeating: 0, count: out.terms.count * width)
        for (i, t) in out.terms.enumerated() {
            guard let t else { continue }
            v[i * width] = t.loss
            v[i * width + 1] = Double(t.tokens)
            for (k, key) in keys.enumerated() { v[i * width + 2 + k] = t.metrics[key] ?? 0 }
        }
        let sum = allReduceSum(v)
        let terms: [MicroBatchTerms?] = out.terms.indices.map { i in
            let metrics = Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($0.element, sum[i * width + 2 + $0.offset]) })
            return MicroBatchTerms(loss: sum[i * width], metrics: metrics, tokens: Int(sum[i * width + 1]))
        }
        return StepOutcome(terms: terms, flops: out.flops)
    }

    /// Rank 0's copy of every tensor, on every rank.
    func broadcast(_ tensors: [Tensor]) {
        for t in tensors { broadcast(t.ptr, count: t.count) }
    }

    /// Refuses to start when any rank was launched differently from rank 0 (stage, recipe, options).
    func requireSameLaunch(_ fingerprint: String, stage: String) throws {
        let root = String(decoding: broadcast(Data(fingerprint.utf8)), as: UTF8.self)
        let differs = allReduceMax(root == fingerprint ? 0 : 1) == 1
        guard differs else { return }
        let field = zip(fingerprint.components(separatedBy: "; "), root.components(separatedBy: "; ")).first { $0 != $1 }
        let mine = field.map { "rank \(rank) has \($0.0) where rank 0 has \($0.1)" } ?? "another rank differs from rank 0"
        throw StrataError.config("\(stage) on \(size) ranks", "the ranks were not launched with the same stage, recipe and options (\(mine))",
                                 fix: "start every rank with the same command line and recipe file (mpirun -n \(size) strata \(stage) ...)")
    }
}
