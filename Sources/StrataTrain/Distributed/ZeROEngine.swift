// ZeRO-1 (train.zero_stage: 1): AdamW's moments sharded over the ranks of a
// data-parallel world. The flat parameter vector (the trainable tensors in order)
// is cut into N contiguous shards at tensor boundaries, balanced by element
// count; rank r keeps the moments of shard r only. Per step:
//   reduce-scatter   each tensor's gradient is summed over the ranks into its
//                    owner (MPI_Reduce to the owner: with 2 ranks each element is
//                    the one addition the plain all-reduce makes, so the bits agree)
//   global norm      each owner takes Σg² of its whole tensors (as AdamW.gradNorm
//                    does per tensor); the per-tensor sums are all-reduced (the
//                    others add zeros) and added in tensor order, in Double — the
//                    norm, the clip factor and the spike guard's input are the
//                    plain run's bits
//   update           each owner applies AdamW to its tensors (the same element-wise
//                    arithmetic as one process)
//   all-gather       each tensor is broadcast from its owner, so every rank holds
//                    every weight for the next forward.
// Cutting at tensor boundaries is what keeps the norm bit-exact (a tensor's Σg² is
// never split); its price is balance: each cut lies within half the largest tensor
// (the token embedding) of the ideal one, so a shard is off P/N by at most that tensor.
// Checkpoints keep the single-process format: before a write the owners send their
// moments to rank 0, which writes them as one process would, so a ZeRO run resumes
// on one process and back. Moments restored from a checkpoint (resume, rollback)
// are read by each rank for its own tensors.
// Leaves out: sharding gradients or weights (ZeRO-2/3), one flat buffer per
// collective (a call per tensor, as the plain all-reduce makes), the memory peak at
// start (every rank reads the whole state once before it keeps its shard).

import Foundation
import StrataCore
import StrataTensor

/// Which rank owns each trainable tensor: contiguous runs of whole tensors, each going to the rank whose equal
/// share of the flat vector holds the tensor's middle element.
struct ShardLayout: Equatable {
    let owner: [Int]
    let counts: [Int]
    let ranks: Int

    init(counts: [Int], ranks: Int) {
        self.counts = counts; self.ranks = ranks
        let total = max(1, counts.reduce(0, +))
        var start = 0, owner: [Int] = []
        for c in counts {
            owner.append(min(ranks - 1, (2 * start + c) * ranks / (2 * total)))
            start += c
        }
        self.owner = owner
    }

    /// Elements whose moments rank `r` keeps.
    func elements(of r: Int) -> Int { zip(owner, counts).reduce(0) { $0 + ($1.0 == r ? $1.1 : 0) } }
    var total: Int { counts.reduce(0, +) }
}

/// ZeRO-1's optimizer step on one rank: gradients reduced to their owners, the global norm and clip, the owners'
/// AdamW, weights broadcast back. Every rank calls each method with the same arguments (they are collectives).
public final class ZeROOptimizer {
    public let parameters: [Tensor]
    let world: World
    let layout: ShardLayout
    /// Indices (into `parameters`) of the tensors this rank owns.
    let owned: [Int]
    /// AdamW over the owned tensors only: the moments this rank keeps.
    public let shard: AdamW

    /// Takes this rank's moments and step from `host` (AdamW over `parameters`, same order), which the caller then drops.
    public init(_ parameters: [Tensor], host: AdamW, world: World) {
        let layout = ShardLayout(counts: parameters.map(\.count), ranks: world.size)
        let owned = parameters.indices.filter { layout.owner[$0] == world.rank }
        let decay = Dictionary(uniqueKeysWithValues: owned.map { (ObjectIdentifier(parameters[$0]), host.decays[$0]) })
        self.parameters = parameters; self.world = world; self.layout = layout; self.owned = owned
        shard = AdamW(owned.map { parameters[$0] }, config: host.config) { decay[ObjectIdentifier($0)]! }
        for (k, i) in owned.enumerated() {
            shard.expAvg[k].copy(from: host.expAvg[i]); shard.expAvgSq[k].copy(from: host.expAvgSq[i])
        }
        shard.step = host.step
    }

    /// Clipping's factor for the coming update (scaled on the way into AdamW, as the one-process engine does).
    private var clipScale: Float = 1

    /// Reduce-scatter and the global norm before clipping; with `clip`, the next update scales the owned gradients to it.
    public func gradientNorm(clip: Float?) -> Float {
        for (i, p) in parameters.enumerated() {   // every rank takes part for every tensor, with zeros where it has no gradient
            let g = p.gradBuffer()
            world.reduceSum(g.ptr, count: g.count, to: layout.owner[i])
        }
        var squares = [Double](repeating: 0, count: parameters.count)
        for i in owned { let g = parameters[i].grad!; squares[i] = Double(VMath.sumSquares(g.ptr, g.count)) }
        var total = 0.0
        for s in world.allReduceSum(squares) { total += s }   // tensor order, as AdamW.gradNorm
        let norm = Float(total.squareRoot())
        clipScale = AdamW.clipScale(norm: norm, maxNorm: clip)
        return norm
    }

    /// The owners' AdamW update, then the all-gather of the weights.
    public func update(lr: Float) {
        shard.update(lr: lr, gradScale: clipScale)
        clipScale = 1
        for (i, p) in parameters.enumerated() { world.gather(p.ptr, count: p.count, from: layout.owner[i]) }
    }

    /// Bytes of AdamW moments this rank keeps, and one process would keep.
    public var momentBytes: (rank: Int, whole: Int) { (8 * layout.elements(of: world.rank), 8 * layout.total) }

    /// Rank 0: a whole AdamW (every parameter, the checkpoint format of one process) filled with every owner's
    /// moments; the other ranks send theirs and get nil.
    public func gatherMoments() -> AdamW? {
        guard world.isRoot else {
            for k in owned.indices {
                world.send(shard.expAvg[k].ptr, count: shard.expAvg[k].count, to: 0)
                world.send(shard.expAvgSq[k].ptr, count: shard.expAvgSq[k].count, to: 0)
            }
            return nil
        }
        let whole = AdamW(parameters, config: shard.config)   // only written out: its decay flags are not used
        var mine = 0
        for i in parameters.indices {
            let m = whole.expAvg[i], v = whole.expAvgSq[i]
            if layout.owner[i] == 0 {
                m.copy(from: shard.expAvg[mine]); v.copy(from: shard.expAvgSq[mine]); mine += 1
            } else {
                world.receive(m.ptr, count: m.count, from: layout.owner[i])
                world.receive(v.ptr, count: v.count, from: layout.owner[i])
            }
        }
        whole.step = shard.step
        return whole
    }

    /// What the run records: how the moments are split and the bytes the largest shard holds.
    var summary: String {
        let full = 8 * layout.total, most = (0..<layout.ranks).map { 8 * layout.elements(of: $0) }.max() ?? full
        return "ZeRO-1: AdamW moments sharded over \(layout.ranks) ranks at tensor boundaries; the largest shard holds "
            + "\(most / 8) of \(layout.total) parameters' moments (\(most) bytes per rank instead of \(full))"
    }
}

/// The training loop's engine under ZeRO-1.
final class ZeROEngine: UpdateEngine {
    let zero: ZeROOptimizer
    init(trainable: [Tensor], host: AdamW, world: World) { zero = ZeROOptimizer(trainable, host: host, world: world) }

    func gradientNorm(clip: Float?) throws -> Double { Double(zero.gradientNorm(clip: clip)) }
    func update(lr: Float) throws { zero.update(lr: lr) }
    func zeroGrad() throws { for p in zero.parameters { p.zeroGrad() } }
    var optimizerStep: Int { zero.shard.step }
    func pullToHost() throws {}
    func pushFromHost() throws {}
    func checkpointOptimizer() throws -> AdamW? { zero.gatherMoments() }
    var shard: AdamW { zero.shard }
    var summary: String { zero.summary }
}
