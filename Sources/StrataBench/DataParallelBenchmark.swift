// `strata bench data-parallel`: timed training steps of the nano GPT-2 as one
// process, or as one rank of `mpirun -n N` (each rank trains its micro-batches,
// then the gradients are summed over the ranks and every rank applies AdamW).
// Reports global tokens per second and the share of the step spent in the
// gradient all-reduce (on rank 0, which includes waiting for the slowest rank).
// With --zero (ZeRO-1) the gradients are reduced to the rank that owns each tensor,
// which alone keeps its AdamW moments and updates it, and the weights are then
// broadcast from their owners; the result adds that broadcast's time and the bytes
// of moments each rank keeps.
// Random token ids; the same model on every rank (same seed).
// Leaves out: data loading, checkpoints, validation (TrainStepBenchmark times the bare step too).

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataTrain

public enum DataParallelBenchmark {
    public struct Config: Sendable {
        public var model = GPT2Config(vocabSize: 8192, nPositions: 256, nEmbd: 384, nLayer: 6, nHead: 6)
        public var batch = 8
        public var context = 256
        /// Micro-batches each rank trains per step (one process × accum 2 = two ranks × 1 in global batch).
        public var accum = 1
        public var warmupSteps = 2
        public var steps = 10
        /// ZeRO-1: AdamW moments sharded over the ranks (needs a world).
        public var zero = false
        public init() {}
    }

    public struct Result: Codable, Sendable {
        public var ranks: Int
        public var threadsPerRank: Int
        public var globalRowsPerStep: Int
        public var tokensPerSecond: Double
        public var msPerStep: Double
        public var allReduceMsPerStep: Double
        public var allReduceShare: Double
        public var gradientMiB: Double
        public var zeroStage: Int
        /// AdamW moments this rank keeps (rank 0's shard under ZeRO-1).
        public var optimizerStateMiBPerRank: Double
        /// ZeRO-1's broadcast of the updated weights from their owners.
        public var allGatherMsPerStep: Double
        /// This process's resident memory after the timed steps (Linux /proc; 0 where unreadable).
        public var residentMiB: Double
    }

    /// Resident set size of this process, from /proc/self/statm (pages × page size).
    static func residentMiB() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Double(fields[1]) else { return 0 }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
    }

    public static func run(_ cfg: Config, world: World?) -> Result {
        let model = GPT2(cfg.model, seed: 1)
        let adamW = AdamW.Config(lr: 3e-4)
        let zero = cfg.zero ? world.map { ZeROOptimizer(model.parameters, host: AdamW(model.parameters, config: adamW), world: $0) } : nil
        let opt = zero == nil ? AdamW(model.parameters, config: adamW) : nil   // ZeRO-1: only the shard's moments are kept
        let sums = MicroBatchGradients(model.parameters)
        let ranks = world?.size ?? 1, rank = world?.rank ?? 0
        var rng = StrataRNG(seed: 2 &+ UInt64(rank))
        let n = cfg.batch * cfg.context
        let micro = (0..<cfg.accum).map { _ in
            StepBatch(rows: cfg.batch, time: cfg.context, inputs: (0..<n).map { _ in Int32(rng.int(below: cfg.model.vocabSize)) },
                      targets: (0..<n).map { _ in Int32(rng.int(below: cfg.model.vocabSize)) })
        }
        func step() {
            for b in micro {
                sums.beginMicroBatch()
                let tape = Tape()
                tape.backward(model.loss(b, tape: tape, normalizer: Float(n * cfg.accum * ranks)))
                sums.endMicroBatch()
            }
            sums.endStep()
            if let zero {
                _ = zero.gradientNorm(clip: 1)
                zero.update(lr: adamW.lr)
            } else {
                if let world { for p in model.parameters { world.allReduceSum(p.gradBuffer().ptr, count: p.count) } }
                let norm = AdamW.gradNorm(model.parameters)   // clipped on the way into AdamW, as training does
                opt?.update(gradScale: AdamW.clipScale(norm: norm, maxNorm: 1))
            }
            model.zeroGrad()
        }
        for _ in 0..<cfg.warmupSteps { step() }
        world?.barrier()
        let reduceBefore = world?.reduceSeconds ?? 0, gatherBefore = world?.gatherSeconds ?? 0
        let t0 = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<cfg.steps { step() }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        let reduce = (world?.reduceSeconds ?? 0) - reduceBefore
        let gather = (world?.gatherSeconds ?? 0) - gatherBefore
        let rows = cfg.batch * cfg.accum * ranks
        let moments = zero?.momentBytes.rank ?? 8 * cfg.model.parameterCount
        return Result(ranks: ranks, threadsPerRank: Parallel.workers, globalRowsPerStep: rows,
                      tokensPerSecond: Double(rows * cfg.context * cfg.steps) / seconds, msPerStep: seconds * 1000 / Double(cfg.steps),
                      allReduceMsPerStep: reduce * 1000 / Double(cfg.steps), allReduceShare: reduce / seconds,
                      gradientMiB: Double(cfg.model.parameterCount * 4) / 1_048_576, zeroStage: zero == nil ? 0 : 1,
                      optimizerStateMiBPerRank: Double(moments) / 1_048_576, allGatherMsPerStep: gather * 1000 / Double(cfg.steps),
                      residentMiB: residentMiB())
    }
}
