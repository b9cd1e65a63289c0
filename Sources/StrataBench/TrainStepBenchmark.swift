// The training-step benchmark behind `strata bench`: full forward, backward,
// gradient clipping and AdamW update of a GPT-2 on random tokens, timed after
// warm-up, with the share of time spent in matmul, peak RSS, and MFU against a
// oneDNN matmul peak measured in the same process. `precision: .bf16` runs the
// products as `train.precision: bf16` does (bf16 operands, fp32 accumulation,
// weight copies refreshed after each update) and measures the bf16 peak too.
// Leaves out: data loading and tokenisation (the pretraining loop adds those).

import Foundation
import StrataCore
import StrataTensor
import StrataModel

public struct TrainStepBenchmark {
    public struct Config: Codable, Sendable {
        /// The nano configuration: 6 layers, 6 heads, d=384, context 256, vocab 8192, batch 8.
        public var model = GPT2Config(vocabSize: 8192, nPositions: 256, nEmbd: 384, nLayer: 6, nHead: 6)
        public var batch = 8
        public var context = 256
        public var warmupSteps = 2
        public var steps = 10
        /// Side of the square matmul used to measure the machine's peak.
        public var peakSize = 2048
        /// Time each op (adds a clock read per op; off for the headline figure).
        public var profile = false
        /// The attention kernel the steps run (auto: the tape's default; tiled or materialized to compare).
        public var attention: AttentionChoice = .auto
        /// Whether the LM head and cross-entropy run fused in row chunks (default) or over full [N, V] logits.
        public var chunkedLMHead = true
        /// The arithmetic of the products (fp32, or bf16 with fp32 accumulation and fp32 master weights).
        public var precision: MatmulPrecision = .fp32
        /// With bf16: attention's batched products in bf16 too (the default, as in training; see Backend+BF16.swift).
        public var bf16Attention = true
        public init() {}
    }

    /// The attention kernels `strata bench --attention` can select.
    public enum AttentionChoice: String, Codable, Sendable, CaseIterable {
        case auto, tiled, materialized
        public var kernel: AttentionKernel {
            switch self {
            case .auto: return .standard
            case .tiled: return .tiled(.standard)
            case .materialized: return .materialized
            }
        }
    }

    public struct Result: Codable, Sendable {
        public var tokensPerSecond: Double
        public var msPerStep: Double
        public var matmulShare: Double
        public var peakRSSMiB: Double
        public var peakGFLOPS: Double
        public var achievedGFLOPS: Double
        public var mfu: Double
        /// Each timed step's milliseconds, in order: the VM's speed moves within a run, and these show by how much.
        public var stepMs: [Double]
        /// MFU of the fastest step against the same peak: what the code reaches in the run's best moment (the
        /// headline `mfu` is the mean step's).
        public var fastestStepMFU: Double
        /// The median timed step (ms).
        public var medianStepMs: Double {
            let s = stepMs.sorted(), k = s.count / 2
            return s.isEmpty ? 0 : s.count % 2 == 1 ? s[k] : (s[k - 1] + s[k]) / 2
        }
        public var finalLoss: Float
        public var precision: MatmulPrecision
        /// 2048³ (peakSize³) bf16 matmul through the same path (bf16 operands, fp32 output), when the CPU has native bf16.
        public var bf16PeakGFLOPS: Double?
        /// Share of the step spent narrowing operands to bf16 (inside matmulShare).
        public var bf16ConversionShare: Double
        /// MiB of the bf16 operand arena ever touched (its share of peak RSS, OperandArena.swift); 0 in fp32.
        public var bf16ArenaMiB: Double
        /// Milliseconds per step by op and direction (plus "clip", "adamw", "zero_grad"), when profiled.
        public var breakdownMs: [String: Double]
    }

    /// The best of 5 n³ products in `precision`. In bf16, B is a registered weight (narrowed once, as a model's
    /// weights are per update) and A is narrowed per product, as activations are.
    public static func measurePeak(size n: Int, precision: MatmulPrecision = .fp32, backend: Backend = .shared) -> Double {
        let a = Tensor(uninitialized: [n, n]), b = Tensor(uninitialized: [n, n]), c = Tensor(uninitialized: [n, n])
        a.fill(0.5); b.fill(0.25)
        return backend.withPrecision(precision, cachedWeights: [b]) {
            backend.gemm(m: n, n: n, k: n, a: a.ptr, b: b.ptr, c: c.ptr)  // warm-up (JIT, caches)
            var best = Double.infinity
            for _ in 0..<5 {
                let t0 = DispatchTime.now().uptimeNanoseconds
                backend.gemm(m: n, n: n, k: n, a: a.ptr, b: b.ptr, c: c.ptr)
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
            }
            return 2 * Double(n * n * n) / best / 1e9
        }
    }

    public static func run(_ cfg: Config, log: (String) -> Void = { print($0) }) -> Result {
        let backend = Backend.shared
        let peakBefore = measurePeak(size: cfg.peakSize)
        log(String(format: "oneDNN f32 matmul peak (%d³): %.0f GFLOP/s", cfg.peakSize, peakBefore))
        let native = CPUMatmulFeatures.detected.nativeBF16
        let bf16Peak = native ? measurePeak(size: cfg.peakSize, precision: .bf16) : nil
        if let bf16Peak { log(String(format: "oneDNN bf16 matmul peak (%d³, fp32 output): %.0f GFLOP/s", cfg.peakSize, bf16Peak)) }
        let model = GPT2(cfg.model, seed: 1)
        let opt = AdamW(model.parameters, config: .init(lr: 3e-4))
        var rng = StrataRNG(seed: 2)
        let n = cfg.batch * cfg.context
        let ids = (0..<n).map { _ in Int32(rng.int(below: cfg.model.vocabSize)) }
        let targets = (0..<n).map { _ in Int32(rng.int(below: cfg.model.vocabSize)) }
        var loss: Float = 0
        var stepMs: [Double] = []
        let profile: OpProfile? = cfg.profile ? OpProfile() : nil
        func timed(_ name: String, _ body: () -> Void) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            body()
            profile?.add(name, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
        }
        func step() {
            let tape = Tape()
            tape.profile = profile
            tape.attentionKernel = cfg.attention.kernel
            tape.chunkedLMHeadLoss = cfg.chunkedLMHead
            let l = model.loss(ids, targets: targets, batch: cfg.batch, time: cfg.context, tape: tape)
            tape.backward(l)
            var scale: Float = 1   // clipping's factor, applied on the way into AdamW as training does
            timed("clip") { scale = AdamW.clipScale(norm: AdamW.gradNorm(model.parameters), maxNorm: 1) }
            timed("adamw") { opt.update(gradScale: scale); backend.invalidateBF16Weights() }
            timed("zero_grad") { model.zeroGrad() }
            loss = l.item()
        }
        let savedBatched = backend.bf16BatchedProducts
        backend.bf16BatchedProducts = cfg.bf16Attention
        defer { backend.bf16BatchedProducts = savedBatched }
        let seconds = backend.withPrecision(cfg.precision, cachedWeights: model.parameters) { () -> Double in
            for _ in 0..<cfg.warmupSteps { step() }
            backend.resetCounters()
            profile?.reset()
            let t0 = DispatchTime.now().uptimeNanoseconds
            for i in 0..<cfg.steps {
                let s0 = DispatchTime.now().uptimeNanoseconds
                step()
                stepMs.append(Double(DispatchTime.now().uptimeNanoseconds - s0) * 1e-6)
                log(String(format: "step %d/%d loss %.4f", i + 1, cfg.steps, loss))
            }
            return Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        }
        // Read before the second peak measurement, whose products would otherwise count as the steps' own.
        let matmulSeconds = backend.matmulSeconds, narrowingSeconds = backend.bf16ConversionSeconds
        // The machine's speed can drift during a run (shared hosts): take the better of two peak readings.
        let peakAfter = measurePeak(size: cfg.peakSize)
        if peakAfter > peakBefore { log(String(format: "peak re-measured after the steps: %.0f GFLOP/s", peakAfter)) }
        let peak = max(peakBefore, peakAfter)
        let flopsPerStep = 3 * model.forwardFlopsPerToken(context: cfg.context) * Double(n)
        let achieved = flopsPerStep * Double(cfg.steps) / seconds / 1e9
        let ceiling = cfg.precision == .bf16 ? bf16Peak ?? peak : peak
        let fastest = stepMs.min().map { flopsPerStep / ($0 * 1e-3) / 1e9 } ?? 0
        return Result(tokensPerSecond: Double(n * cfg.steps) / seconds, msPerStep: seconds * 1000 / Double(cfg.steps),
                      matmulShare: matmulSeconds / seconds, peakRSSMiB: peakRSSMiB(), peakGFLOPS: peak,
                      achievedGFLOPS: achieved, mfu: achieved / ceiling, stepMs: stepMs, fastestStepMFU: fastest / ceiling,
                      finalLoss: loss, precision: cfg.precision,
                      bf16PeakGFLOPS: bf16Peak, bf16ConversionShare: narrowingSeconds / seconds,
                      bf16ArenaMiB: Double(OperandArena.shared.currentStats.touchedBytes) / 1_048_576,
                      breakdownMs: (profile?.seconds ?? [:]).mapValues { $0 * 1000 / Double(cfg.steps) })
    }

    /// Peak resident set size of this process in MiB. On Linux this reads VmHWM from /proc/self/status:
    /// getrusage's ru_maxrss keeps the parent's high-water mark across exec, which would be misleading
    /// when a benchmark script launches strata.
    public static func peakRSSMiB() -> Double {
        #if os(Linux)
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kb = Double(line.split(separator: " ").dropFirst().first ?? "") {
            return kb / 1024
        }
        #endif
        var usage = rusage()
        #if os(Linux)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_maxrss) / 1024       // kilobytes on Linux
        #else
        getrusage(RUSAGE_SELF, &usage)
        return Double(usage.ru_maxrss) / 1_048_576  // bytes on macOS
        #endif
    }
}
