// `strata bench`: the training-step benchmark (default), tokenizer, SFT and rollout benchmarks.
import ArgumentParser
import Foundation
import StrataBench
import StrataCore
import StrataModel
import StrataTensor
import StrataTrain

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks (run from a release build: swift build -c release).",
        subcommands: [BenchTrain.self, BenchDataParallel.self, BenchTokenizer.self, BenchSFT.self, BenchRollout.self, BenchGenerate.self, BenchKernels.self],
        defaultSubcommand: BenchTrain.self)
}

struct BenchDataParallel: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "data-parallel",
        abstract: "Time nano GPT-2 training steps alone or as one rank of mpirun -n N: global tokens/s and the all-reduce's share of the step.")

    @Option(help: "Micro-batches of --batch rows each process trains per step.") var accum = 1
    @Option(help: "Timed steps.") var steps = 10
    @Option(help: "Warm-up steps (not timed).") var warmup = 2
    @Option(help: "Batch size of one micro-batch.") var batch = 8
    @Flag(help: "ZeRO-1: shard the AdamW moments over the ranks (under mpirun only).") var zero = false
    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        guard steps >= 1, warmup >= 0, accum >= 1, batch >= 1 else { throw ValidationError("--steps, --accum and --batch must be ≥ 1, --warmup ≥ 0") }
        let env = ProcessInfo.processInfo.environment
        ThreadBudget.applyToOpenMP(Parallel.workers, environment: env)
        let world = try World.fromLauncher(env)
        var cfg = DataParallelBenchmark.Config()
        cfg.accum = accum; cfg.steps = steps; cfg.warmupSteps = warmup; cfg.batch = batch
        guard !zero || (world?.size ?? 1) > 1 else {
            world?.finish()
            throw ValidationError("--zero shards the optimizer over the ranks of mpirun -n N (N ≥ 2); one process keeps it whole")
        }
        cfg.zero = zero
        let r = DataParallelBenchmark.run(cfg, world: world)
        defer { world?.finish() }
        guard world?.isRoot ?? true else { return }
        if json { return print(String(decoding: try JSONEncoder().encode(r), as: UTF8.self)) }
        print(String(format: """
            %d rank%@ × %d thread%@, %d rows of %d tokens per step (gradients %.1f MiB)
            tokens/s: %.0f   ms/step: %.1f   %@: %.1f ms/step (%.1f%% of the step)
            AdamW moments on this rank: %.1f MiB%@   resident: %.0f MiB
            """, r.ranks, r.ranks == 1 ? "" : "s", r.threadsPerRank, r.threadsPerRank == 1 ? "" : "s", r.globalRowsPerStep, cfg.context,
            r.gradientMiB, r.tokensPerSecond, r.msPerStep, zero ? "reduce to owners" : "all-reduce", r.allReduceMsPerStep, r.allReduceShare * 100,
            r.optimizerStateMiBPerRank, zero ? String(format: " (ZeRO-1)   weight broadcast: %.1f ms/step", r.allGatherMsPerStep) : "",
            r.residentMiB))
    }
}

struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train",
        abstract: "Time full training steps of the nano GPT-2 (6L, 6H, d=384, T=256, V=8192, B=8, fp32 or bf16, AdamW).")

    @Option(help: "Timed steps.") var steps = 10
    @Option(help: "Warm-up steps (not timed).") var warmup = 2
    @Option(help: "Batch size.") var batch = 8
    @Option(help: "Context length.") var context = 256
    @Option(help: "Layers.") var layers = 6
    @Option(help: "Embedding width.") var embd = 384
    @Option(help: "Heads.") var heads = 6
    @Option(help: "Vocabulary size.") var vocab = 8192
    @Flag(help: "Print the result as JSON.") var json = false
    @Flag(help: "Also print where the time goes, op by op.") var profile = false
    @Option(help: "Attention kernel: auto (default: materialized while B·H·T² floats fit 64 MiB, tiled beyond), tiled (online softmax) or materialized (full T×T scores).") var attention = "auto"
    @Option(help: "LM head + loss: chunked (fused in row chunks, default) or full ([N, V] logits materialised).") var lmHead = "chunked"
    @Option(help: "Matrix products: fp32, or bf16 (bf16 operands, fp32 accumulation and master weights; needs AVX-512 BF16 or AMX).") var precision = "fp32"
    @Flag(help: "With --precision bf16: keep attention's batched products in fp32 (to compare).") var fp32Attention = false

    func run() throws {
        var cfg = TrainStepBenchmark.Config()
        guard let p = MatmulPrecision(rawValue: precision) else {
            throw ValidationError("--precision is '\(precision)'; expected fp32 or bf16")
        }
        if p == .bf16 { try CPUMatmulFeatures.detected.requireNativeBF16("strata bench --precision bf16") }
        cfg.precision = p; cfg.bf16Attention = !fp32Attention
        guard let kernel = TrainStepBenchmark.AttentionChoice(rawValue: attention) else {
            throw ValidationError("--attention is '\(attention)'; expected one of: \(TrainStepBenchmark.AttentionChoice.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        cfg.attention = kernel
        guard ["chunked", "full"].contains(lmHead) else { throw ValidationError("--lm-head is '\(lmHead)'; expected chunked or full") }
        cfg.chunkedLMHead = lmHead == "chunked"
        cfg.steps = steps; cfg.warmupSteps = warmup; cfg.profile = profile; cfg.batch = batch; cfg.context = context
        cfg.model = .init(vocabSize: vocab, nPositions: context, nEmbd: embd, nLayer: layers, nHead: heads)
        guard steps >= 1, warmup >= 0 else { throw ValidationError("--steps must be ≥ 1 and --warmup ≥ 0 (got \(steps), \(warmup))") }
        try cfg.model.validate(source: "options")
        try cfg.model.checkTrainingMemory(batch: batch, context: context, source: "options")
        let r = TrainStepBenchmark.run(cfg, log: json ? { _ in } : { print($0) })
        if json {
            let data = try JSONEncoder().encode(r)
            print(String(decoding: data, as: UTF8.self))
            return
        }
        print(String(format: """
            model: %d layers, %d heads, d=%d, T=%d, V=%d, batch %d (%.2fM parameters)
            tokens/s: %.0f   ms/step: %.1f (median %.1f, fastest %.1f)
            time in matmul: %.0f%%, everything else: %.0f%%
            peak RSS: %.0f MiB
            achieved %.0f GFLOP/s: MFU %.0f%% of the measured %@ peak (f32 %.0f GFLOP/s, bf16 %@); the fastest step's %.0f%%
            """, layers, heads, embd, context, vocab, batch, Double(cfg.model.parameterCount) / 1e6,
            r.tokensPerSecond, r.msPerStep, r.medianStepMs, r.stepMs.min() ?? 0, r.matmulShare * 100, (1 - r.matmulShare) * 100,
            r.peakRSSMiB, r.achievedGFLOPS, r.mfu * 100, p.rawValue, r.peakGFLOPS,
            r.bf16PeakGFLOPS.map { String(format: "%.0f GFLOP/s", $0) } ?? "n/a", r.fastestStepMFU * 100))
        if p == .bf16 {
            print(String(format: "precision bf16: narrowing operands to bf16 took %.0f%% of the step; their arena touched %.0f MiB",
                         r.bf16ConversionShare * 100, r.bf16ArenaMiB))
        }
        if profile {
            print("time per step by op (ms):")
            for (k, v) in r.breakdownMs.sorted(by: { $0.value > $1.value }) { print(String(format: "  %8.1f  %@", v, k)) }
        }
    }
}

struct BenchSFT: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sft",
        abstract: "Packing vs padding: SFT training steps on chat data, tokens/s and the share of useful tokens.")
    @Option(help: "Checkpoint (or run directory) whose model and tokenizer are used.") var checkpoint: String
    @Option(help: "SFT JSONL (TRL formats).") var data: String
    @Option(help: "Row length.") var context = 128
    @Option(help: "Rows per step.") var batch = 16
    @Option(help: "Timed steps per mode per round.") var steps = 5
    @Option(help: "Rounds (modes alternate each round).") var rounds = 3

    func run() throws {
        var c = SFTBenchmark.Config()
        c.checkpoint = checkpoint; c.data = data; c.context = context; c.batch = batch; c.steps = steps; c.rounds = rounds
        let results = try SFTBenchmark.run(c) { print($0) }
        print("mode  rows  useful  trained  ms/step  positions/s  useful tok/s  trained tok/s")
        for r in results {
            print(String(format: "%-4@  %4d  %5.1f%%  %6.1f%%  %7.1f  %11.0f  %12.0f  %13.0f", r.mode, r.rows, 100 * r.usefulShare,
                         100 * r.trainedShare, r.msPerStep, r.positionsPerSecond, r.usefulTokensPerSecond, r.trainedTokensPerSecond))
        }
    }
}
