// `strata bench kernels --blocked`: the nano model's weight products with the
// weight passed plain (row-major, transposes as strides; oneDNN packs it per
// call) against the weight kept in the layout oneDNN's matmul chose for the
// product (Backend+Blocked.swift, filled once by a reorder), in fp32 and bf16.
// Shapes (nano: L = 6 layers, C = 384, N = B·T = 2,048 token rows, V = 8,192):
// per layer qkv W[C,3C], attention proj W[C,C], fc W[C,4C], mlp proj W[4C,C]
// (Conv1D layout [in, out]: forward x·W, dX = g·Wᵀ), and the tied head E[V,C]
// in 4 chunks of 512 rows (forward h·Eᵀ, dX = g·E). The two variants alternate
// call by call; best and median per shape, and their sum over one step's
// products, in wall time and in process CPU time (which other processes on a
// shared machine do not inflate; run with OMP_NUM_THREADS=1 OMP_WAIT_POLICY=passive
// so that it counts only the product's work). Operand narrowing in bf16 is kept out of the timing (A is narrowed
// once before, as a backward node shares it), so only the products compare.
// Leaves out: dW products (their B is an activation), attention's batched products.

import Foundation
import StrataCore
import StrataTensor

extension KernelBenchmark {
    /// One weight product of the nano step.
    public struct WeightProduct: Sendable {
        public var name: String
        /// The weight's stored shape.
        public var weight: [Int]
        /// Rows of A per call, calls per step (all layers or chunks), and whether the weight is the tied head.
        public var rows: Int, callsPerStep: Int, head: Bool
    }

    /// The nano step's weight products (each timed forward and dX).
    public static func nanoWeightProducts(layers: Int = 6, embd c: Int = 384, vocab: Int = 8192, tokens: Int = 2048,
                                          headChunkRows: Int = 512) -> [WeightProduct] {
        [WeightProduct(name: "qkv", weight: [c, 3 * c], rows: tokens, callsPerStep: layers, head: false),
         WeightProduct(name: "attn proj", weight: [c, c], rows: tokens, callsPerStep: layers, head: false),
         WeightProduct(name: "fc", weight: [c, 4 * c], rows: tokens, callsPerStep: layers, head: false),
         WeightProduct(name: "mlp proj", weight: [4 * c, c], rows: tokens, callsPerStep: layers, head: false),
         WeightProduct(name: "lm head chunk", weight: [vocab, c], rows: headChunkRows, callsPerStep: tokens / headChunkRows, head: true)]
    }

    /// Best and median of one variant of one product, in ms.
    public struct BlockedLine: Codable, Sendable {
        public var precision: String, product: String, direction: String, variant: String
        public var bestMs: Double, medianMs: Double, gflops: Double, callsPerStep: Int
        /// Process CPU time (all threads) per call: robust to other processes taking the cores, but it counts
        /// oneDNN's threads spinning at barriers too (compare with OMP_NUM_THREADS=1 for the work alone).
        public var bestCPUMs: Double, medianCPUMs: Double
        public var layout: String
    }

    /// Plain against blocked weights for every nano product, direction and precision (bf16 only where native).
    public static func blockedWeights(repeats: Int, log: (String) -> Void) -> [BlockedLine] {
        let backend = Backend.shared
        let saved = backend.blockedWeights
        defer { backend.blockedWeights = saved }
        var precisions: [MatmulPrecision] = [.fp32]
        if CPUMatmulFeatures.detected.nativeBF16 { precisions.append(.bf16) } else { log("bf16: not native on this CPU, skipped") }
        var lines = [BlockedLine]()
        var rng = StrataRNG(seed: 3)
        for p in precisions {
            for wp in nanoWeightProducts() {
                for forward in [true, false] {
                    lines += timeProduct(wp, forward: forward, precision: p, repeats: repeats, rng: &rng, log: log)
                }
            }
        }
        for p in precisions {
            for variant in ["plain", "blocked"] {
                let mine = lines.filter { $0.precision == p.rawValue && $0.variant == variant }
                let best = mine.reduce(0) { $0 + $1.bestMs * Double($1.callsPerStep) }
                let median = mine.reduce(0) { $0 + $1.medianMs * Double($1.callsPerStep) }
                let cpuMedian = mine.reduce(0) { $0 + $1.medianCPUMs * Double($1.callsPerStep) }
                log(String(format: "%@ one nano step's weight products (fwd + dX, 6 layers + head), %@: wall best %.1f ms, median %.1f ms; CPU median %.1f ms",
                           p.rawValue, variant, best, median, cpuMedian))
            }
        }
        return lines
    }

    /// CPU time of this process, all threads (CLOCK_PROCESS_CPUTIME_ID).
    static func processCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Times one product both ways, alternating call by call, and logs both with the saving.
    static func timeProduct(_ wp: WeightProduct, forward: Bool, precision: MatmulPrecision, repeats: Int,
                            rng: inout StrataRNG, log: (String) -> Void) -> [BlockedLine] {
        let backend = Backend.shared
        let (r, k) = (wp.weight[0], wp.weight[1])
        // Linear [in, out]: forward A[M,in]·W, dX A[M,out]·Wᵀ. Head [V, C]: forward A[M,C]·Eᵀ, dX A[M,V]·E.
        let aCols = forward == wp.head ? k : r, cCols = forward == wp.head ? r : k
        let transB = forward == wp.head
        let w = Tensor((0..<(r * k)).map { _ in rng.normal() * 0.02 }, shape: wp.weight)
        let a = Tensor((0..<(wp.rows * aCols)).map { _ in rng.normal() }, shape: [wp.rows, aCols])
        let bias = Tensor((0..<cCols).map { _ in rng.normal() }, shape: [cCols])
        let c = Tensor(zeros: [wp.rows, cCols])
        // As the ops call them: linear forward with bias, linear dX accumulating, head products plain.
        let useBias = forward && !wp.head, accumulate = !forward && !wp.head
        func product() {
            backend.gemm(transB: transB, m: wp.rows, n: cCols, k: aCols, a: a.ptr, b: w.ptr, c: c.ptr,
                         bias: useBias ? bias.ptr : nil, accumulate: accumulate)
        }
        var times: [[Double]] = [[], []], cpu: [[Double]] = [[], []]
        var layout = ""
        backend.withPrecision(precision, cachedWeights: [w]) {
            backend.sharingNarrowed([(a.ptr, a.count)]) {
                for v in 0..<2 { backend.blockedWeights = v == 1 ? .all : .off; product() }   // warm-up: primitives, copies, narrowing
                layout = backend.blockedLayouts(of: w).joined(separator: ", ")
                for _ in 0..<repeats {
                    for v in 0..<2 {
                        backend.blockedWeights = v == 1 ? .all : .off
                        let c0 = processCPUSeconds()
                        times[v].append(seconds(product) * 1000)
                        cpu[v].append((processCPUSeconds() - c0) * 1000)
                    }
                }
            }
        }
        let flop = 2.0 * Double(wp.rows * aCols * cCols)
        let what = "\(wp.name) \(forward ? "fwd" : "dX ") A[\(wp.rows),\(aCols)]·\(transB ? "Wᵀ" : "W")[\(aCols),\(cCols)]"
        let lines = (0..<2).map { v -> BlockedLine in
            let sorted = times[v].sorted(), cpuSorted = cpu[v].sorted()
            return BlockedLine(precision: precision.rawValue, product: wp.name, direction: forward ? "forward" : "dX",
                               variant: v == 0 ? "plain" : "blocked", bestMs: sorted[0], medianMs: sorted[sorted.count / 2],
                               gflops: flop / sorted[0] / 1e6, callsPerStep: wp.callsPerStep,
                               bestCPUMs: cpuSorted[0], medianCPUMs: cpuSorted[cpuSorted.count / 2], layout: v == 0 ? "plain strided" : layout)
        }
        log(String(format: "%@ %-44@ wall best/median: plain %6.3f / %6.3f ms, blocked %6.3f / %6.3f ms; CPU median: plain %6.3f, blocked %6.3f ms (%+5.1f%%)  layout %@",
                   precision.rawValue, what, lines[0].bestMs, lines[0].medianMs, lines[1].bestMs, lines[1].medianMs,
                   lines[0].medianCPUMs, lines[1].medianCPUMs, 100 * (lines[1].medianCPUMs / lines[0].medianCPUMs - 1), layout))
        return lines
    }
}
