// Where a step's gradients and optimizer update live. The loop asks an engine for
// the gradient norm (clipping when the recipe says), to apply or drop the update,
// and to hand the weights and AdamW moments over to the host before anything
// reads them there (validation, evaluations, checkpoints) or after the host
// changed them (start, resume, rollback). On the CPU every one of those is the
// host tensors themselves; on a GPU (GPUEngine.swift) they are copies.
// Data parallel engines (Distributed/) sum the gradients over the ranks; a ZeRO-1
// engine also keeps only its shard of the moments and gathers them for checkpoints.
// With train.precision bf16 on the CPU, `CPUBF16Engine` wraps whichever CPU engine
// the run has: its products run in bf16 (Backend+BF16.swift) and every change to
// the fp32 master weights (update, push from the host) marks their cached bf16
// copies stale, so each is narrowed once per update, not once per micro-batch.
// Leaves out: several GPUs.

import StrataCore
import StrataTensor

/// Which hardware a run computes on.
public enum ComputeDevice: String, CaseIterable, Sendable { case cpu, cuda }

protocol UpdateEngine: AnyObject {
    /// The global gradient norm before clipping; with `clip`, gradients are (or will be, in `update`) scaled to it.
    func gradientNorm(clip: Float?) throws -> Double
    func update(lr: Float) throws
    func zeroGrad() throws
    /// AdamW updates applied so far.
    var optimizerStep: Int { get }
    /// Make the host's model and optimizer tensors current (before reading them).
    func pullToHost() throws
    /// Send the host's model and optimizer tensors to where the steps run (after the host changed them).
    func pushFromHost() throws
    /// The whole AdamW state a checkpoint saves, when it is not the run's own optimizer: every rank calls this
    /// before a checkpoint (a sharded engine gathers the moments to rank 0, where it returns them); nil otherwise.
    func checkpointOptimizer() throws -> AdamW?
}

extension UpdateEngine {
    func checkpointOptimizer() throws -> AdamW? { nil }
}

/// The CPU: gradients are the trainable tensors' own, the optimizer is StrataTensor's AdamW.
final class CPUEngine: UpdateEngine {
    let trainable: [Tensor]
    let optimizer: AdamW
    /// Clipping's factor for the coming update: the gradients are scaled on their way into AdamW, not in place.
    private var clipScale: Float = 1
    init(trainable: [Tensor], optimizer: AdamW) { self.trainable = trainable; self.optimizer = optimizer }

    func gradientNorm(clip: Float?) throws -> Double {
        let norm = AdamW.gradNorm(trainable)
        clipScale = AdamW.clipScale(norm: norm, maxNorm: clip)
        return Double(norm)
    }
    func update(lr: Float) throws {
        optimizer.update(lr: lr, gradScale: clipScale)
        clipScale = 1
    }
    func zeroGrad() throws { for p in trainable { p.zeroGrad() } }
    var optimizerStep: Int { optimizer.step }
    func pullToHost() throws {}
    func pushFromHost() throws {}
}

/// A CPU engine (one process, data parallel or ZeRO-1) whose matrix products run in bf16: the fp32 master weights
/// and AdamW state are the inner engine's; after anything that changes the weights, the backend's bf16 copies are stale.
final class CPUBF16Engine: UpdateEngine {
    let inner: UpdateEngine
    let backend: Backend
    init(inner: UpdateEngine, backend: Backend = .shared) { self.inner = inner; self.backend = backend }

    func gradientNorm(clip: Float?) throws -> Double { try inner.gradientNorm(clip: clip) }
    func update(lr: Float) throws {
        try inner.update(lr: lr)
        backend.invalidateBF16Weights()
    }
    func zeroGrad() throws { try inner.zeroGrad() }
    var optimizerStep: Int { inner.optimizerStep }
    func pullToHost() throws { try inner.pullToHost() }
    func pushFromHost() throws {
        try inner.pushFromHost()
        backend.invalidateBF16Weights()
    }
    func checkpointOptimizer() throws -> AdamW? { try inner.checkpointOptimizer() }
}
