// How much memory a GPT-2 needs, estimated from its config alone (in Double, so absurd
// sizes are measured rather than overflowing Int): fp32 weights for inference, and for
// training weights + gradients + AdamW's two moments (16 bytes a parameter) plus the
// activations the tape keeps for a batch. `checkTrainingMemory` refuses, before anything
// is allocated, a model and batch that cannot fit in this machine's memory.
// Leaves out: allocator slack and oneDNN scratch space (the estimate is a lower bound, so
// it refuses only what certainly cannot fit), LoRA (frozen base: fewer optimizer bytes).

import Foundation
import StrataCore

extension GPT2Config {
    /// Parameters (tied embeddings counted once), in Double.
    public var parameterEstimate: Double {
        let c = Double(nEmbd), f = nInner.map(Double.init) ?? 4 * Double(nEmbd), l = Double(nLayer)
        let perBlock = 4 * c + (3 * c * c + 3 * c) + (c * c + c) + (c * f + f) + (f * c + c)
        return Double(vocabSize) * c + Double(nPositions) * c + l * perBlock + 2 * c
    }

    /// fp32 weights.
    public var weightBytes: Double { 4 * parameterEstimate }

    /// Activations the tape keeps for one forward/backward over `batch` × `context` tokens: per
    /// layer and token ~12·C for the residual stream, norms and projections, 2·F for the MLP,
    /// 2·H·T for attention probabilities; plus logits and their gradient (2·V per token).
    public func activationBytes(batch: Int, context: Int) -> Double {
        let c = Double(nEmbd), f = nInner.map(Double.init) ?? 4 * Double(nEmbd), t = Double(context)
        let tokens = Double(batch) * t
        let perToken = Double(nLayer) * (12 * c + 2 * f + 2 * Double(nHead) * t) + 2 * Double(vocabSize) + 4 * c
        return 4 * tokens * perToken
    }

    /// Weights, gradients, AdamW moments and the activations of one micro-batch.
    public func trainingBytes(batch: Int, context: Int) -> Double {
        16 * parameterEstimate + activationBytes(batch: batch, context: context)
    }

    /// Refuses training this model on `batch` × `context` micro-batches when the estimate exceeds
    /// `available` (default: physical memory). Call before building the model and the loader.
    public func checkTrainingMemory(batch: Int, context: Int, source: String = "recipe",
                                    available: Double = MemoryBudget.physicalBytes) throws {
        let op = "check memory for training (\(source))"
        guard batch > 0, context > 0 else {
            throw StrataError.config(op, "batch \(batch) and context \(context) must be positive")
        }
        let what = "training a GPT-2 of \(Self.count(parameterEstimate)) parameters on batches of \(batch) × \(context) tokens "
            + "(weights, gradients and AdamW moments \(MemoryBudget.describe(16 * parameterEstimate)), activations "
            + "\(MemoryBudget.describe(activationBytes(batch: batch, context: context))))"
        try MemoryBudget.check(trainingBytes(batch: batch, context: context), for: what, op: op,
                               fix: "lower train.batch_size (train.grad_accum keeps the effective batch), train.context, "
                                + "or the model size in \(source)", available: available)
    }

    /// "124M", "1.2B", "1.8T", "2.4e+19".
    static func count(_ n: Double) -> String {
        switch n {
        case ..<1e4: return String(Int(n))
        case ..<1e6: return String(format: "%.0fK", n / 1e3)
        case ..<1e9: return String(format: "%.1fM", n / 1e6)
        case ..<1e12: return String(format: "%.1fB", n / 1e9)
        case ..<1e15: return String(format: "%.1fT", n / 1e12)
        default: return String(format: "%.2g", n)
        }
    }
}
