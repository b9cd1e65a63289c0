// Tape: reverse-mode automatic differentiation. Each op run through a recording
// tape appends a closure that, given the output's gradient, accumulates the
// gradients of its inputs; `backward(loss)` replays them in reverse. Gradients of
// leaf tensors (parameters) accumulate across backward calls until zeroed, which
// is what gradient accumulation needs. A non-recording tape (`Tape.noGrad`) runs
// the same ops with no bookkeeping: evaluation, reference models, generation.
// Leaves out: higher-order gradients, graph retention after backward.

import Dispatch
import StrataCore

public final class Tape {
    public let backend: Backend
    public let recording: Bool
    /// Randomness for dropout; seeded so runs are reproducible.
    public var rng: StrataRNG
    /// Whether dropout is active (training) or the identity (evaluation).
    public var training: Bool
    private var nodes: [() -> Void] = []
    /// Which causal-attention kernel `attention` runs (`.standard`: materialised under a memory budget, tiled
    /// beyond; benchmarks and tests switch it).
    public var attentionKernel: AttentionKernel = .standard
    /// Whether model losses fuse the LM head with cross-entropy in row chunks (`lmHeadCrossEntropy`) instead of
    /// materialising [N, V] logits (benchmarks switch it off for before/after comparisons).
    public var chunkedLMHeadLoss = true

    public init(recording: Bool = true, training: Bool = true, seed: UInt64 = 0, backend: Backend = .shared) {
        self.backend = backend
        self.recording = recording
        self.training = training && recording
        self.rng = StrataRNG(seed: seed)
    }

    /// A tape that records nothing and runs ops in evaluation mode.
    public static func noGrad(backend: Backend = .shared) -> Tape { Tape(recording: false, training: false, backend: backend) }

    public var nodeCount: Int { nodes.count }

    /// True when the op must record a backward node; marks `out` as requiring grad.
    @inline(__always)
    func tracks(_ inputs: Tensor?..., out: Tensor) -> Bool {
        guard recording else { return false }
        for case let t? in inputs where t.requiresGrad { out.requiresGrad = true; return true }
        return false
    }

    /// Optional per-op timing (forward: time since the previous recorded op; backward: the node itself).
    public var profile: OpProfile?
    private var lastMark = DispatchTime.now().uptimeNanoseconds

    func record(_ op: String = #function, _ node: @escaping () -> Void) {
        guard let profile else { nodes.append(node); return }
        let now = DispatchTime.now().uptimeNanoseconds
        let name = String(op.prefix { $0 != "(" })
        profile.add(name + " forward", Double(now - lastMark) * 1e-9)
        lastMark = now
        nodes.append {
            let t0 = DispatchTime.now().uptimeNanoseconds
            node()
            profile.add(name + " backward", Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
    }

    /// Back-propagate from a scalar `loss` (seeded with `seed`, default 1), then drop the graph.
    public func backward(_ loss: Tensor, seed: Float = 1) {
        precondition(loss.count == 1, "backward: loss must have one element, got shape \(loss.shape)")
        precondition(recording, "backward: this tape does not record (created with recording: false)")
        let g = loss.gradBuffer()
        g.ptr[0] += seed
        for node in nodes.reversed() { node() }
        nodes.removeAll()
        lastMark = DispatchTime.now().uptimeNanoseconds
    }

    /// Forget the recorded graph without running it (e.g. after a skipped step).
    public func reset() { nodes.removeAll() }
}

/// Accumulated seconds per op and direction, filled by tapes that carry it.
public final class OpProfile {
    public private(set) var seconds: [String: Double] = [:]
    public init() {}
    public func add(_ key: String, _ s: Double) { seconds[key, default: 0] += s }
    public func reset() { seconds.removeAll() }
}
