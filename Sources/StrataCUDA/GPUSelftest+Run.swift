// Running the selftest end to end: kernel checks, the training check (fp32, plus the
// other precisions' loss curves beside the CPU's), then timed training steps of
// named sizes — the report printed and written as JSON. Timing: after `warmup`
// untimed steps, `steps` steps of zeroGrad + forward/backward + AdamW with a fresh
// random batch each, wall clock between two device synchronisations.

import Foundation
import ArgumentParser
import StrataCore

/// Model sizes the benchmark knows (GPT-2 shapes; batch × T tokens per step).
public struct GPUBenchSize: Sendable {
    public let name: String, shape: GPUModelShape, batch: Int, t: Int
    public static let all: [GPUBenchSize] = [
        GPUBenchSize(name: "nano", shape: GPUModelShape(layers: 6, heads: 6, embd: 384, vocab: 8192, positions: 256), batch: 8, t: 256),
        GPUBenchSize(name: "gpt2-small", shape: GPUModelShape(layers: 12, heads: 12, embd: 768, vocab: 50257, positions: 1024), batch: 8, t: 1024),
    ]
}

public struct GPUBenchResult: Codable {
    public var size: String, precision: String, batch: Int, t: Int, steps: Int
    public var tokensPerSecond: Double, msPerStep: Double, deviceMemoryBytes: Int, firstLoss: Double, lastLoss: Double
    /// With --profile: milliseconds per step by operation (each op synchronised, so the sum exceeds msPerStep a little).
    public var profileMs: [String: Double]?
}

public struct GPUSelftestReport: Codable {
    public var device: String, driver: Int, nvrtc: String, cublas: Int, compileSeconds: Double
    public var checks: [SelftestCheck] = []
    public var lossCurves: [String: [Double]] = [:]
    public var bench: [GPUBenchResult] = []
    public var passed: Bool { checks.allSatisfy(\.passed) }
}

/// The options shared by `strata gpu-selftest` and the standalone `strata-gpu-selftest`.
public struct GPUSelftestOptions: ParsableArguments {
    @Option(help: "Goldens written by the CPU backend (strata gpu-selftest --write-goldens).")
    public var goldens = "tools/gpu/goldens.safetensors"
    @Option(help: "Sizes to time, comma-separated (nano, gpt2-small); empty for none.")
    public var bench = "nano"
    @Option(help: "Precisions to time, comma-separated (fp32, tf32, bf16).")
    public var precision = "fp32,tf32,bf16"
    @Option(help: "Timed steps per size and precision.") public var steps = 20
    @Option(help: "Untimed steps first.") public var warmup = 3
    @Option(help: "Write the report as JSON here.") public var json: String?
    @Flag(help: "After timing, profile a few more steps op by op (each op synchronised) and print where the time goes.")
    public var profile = false
    public init() {}
}

extension GPUSelftest {
    public static func run(_ o: GPUSelftestOptions, log: (String) -> Void = { print($0) }) throws -> GPUSelftestReport {
        let device = try CUDADevice()
        let ops = try GPUOps(device: device, precision: .fp32)
        var report = GPUSelftestReport(device: "\(device.name) (\(device.architecture), \(device.multiprocessors) SMs)", driver: device.driverVersion,
                                       nvrtc: "\(ops.nvrtc.version.major).\(ops.nvrtc.version.minor)", cublas: ops.blas.version,
                                       compileSeconds: ops.compileSeconds)
        log("gpu-selftest: \(report.device), driver \(device.driverVersion), NVRTC \(report.nvrtc) (\(ops.nvrtc.library.path)), " +
            "cuBLAS \(ops.blas.version) (\(ops.blas.library.path)); kernels compiled in \(String(format: "%.2f", ops.compileSeconds)) s")
        let gold = try GPUGoldens(url: URL(fileURLWithPath: o.goldens))
        report.checks = try kernelChecks(gold, device: device)
        let train = try trainingCheck(gold, device: device)
        report.checks += train.checks
        report.lossCurves["cpu fp32"] = train.cpuLosses.map(Double.init)
        report.lossCurves["gpu fp32"] = train.gpuLosses
        for p in try precisions(o.precision) where p != .fp32 {
            let other = try trainingCheck(gold, device: device, precision: p, lossTolerance: p == .bf16 ? 5e-2 : 1e-2)
            report.checks += other.checks
            report.lossCurves["gpu \(p.rawValue)"] = other.gpuLosses
        }
        for c in report.checks {
            log(String(format: "  %@ %-52@ %.2e (tolerance %.0e)", c.passed ? "ok  " : "FAIL", c.name, c.error, c.tolerance))
        }
        for size in try sizes(o.bench) {
            for p in try precisions(o.precision) {
                let r = try benchmark(size, precision: p, device: device, steps: o.steps, warmup: o.warmup, profileSteps: o.profile ? 3 : 0)
                report.bench.append(r)
                log(String(format: "  bench %@ %@: %.0f tokens/s, %.1f ms/step, %.2f GB device memory, loss %.3f → %.3f",
                           r.size, r.precision, r.tokensPerSecond, r.msPerStep, Double(r.deviceMemoryBytes) / 1e9, r.firstLoss, r.lastLoss))
                for (name, ms) in (r.profileMs ?? [:]).sorted(by: { $0.value > $1.value }) {
                    log(String(format: "      %8.2f ms/step  %@", ms, name))
                }
            }
        }
        if let path = o.json {
            let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try enc.encode(report).write(to: URL(fileURLWithPath: path))
        }
        log(report.passed ? "gpu-selftest: all \(report.checks.count) checks passed" :
            "gpu-selftest: \(report.checks.filter { !$0.passed }.count) of \(report.checks.count) checks FAILED")
        return report
    }

    static func precisions(_ s: String) throws -> [GPUPrecision] {
        try s.split(separator: ",").map { p in
            guard let v = GPUPrecision(rawValue: String(p)) else {
                throw StrataError.config("gpu-selftest", "unknown precision '\(p)'", fix: "use fp32, tf32 or bf16")
            }
            return v
        }
    }

    static func sizes(_ s: String) throws -> [GPUBenchSize] {
        try s.split(separator: ",").map { n in
            guard let v = GPUBenchSize.all.first(where: { $0.name == n }) else {
                throw StrataError.config("gpu-selftest", "unknown size '\(n)'", fix: "use \(GPUBenchSize.all.map(\.name).joined(separator: " or "))")
            }
            return v
        }
    }

    /// Random GPT-2 weights (N(0, 0.02), residual projections scaled by 1/√(2L), LayerNorm gains 1), random tokens.
    public static func benchmark(_ size: GPUBenchSize, precision: GPUPrecision, device: CUDADevice, steps: Int, warmup: Int,
                                 profileSteps: Int = 0) throws -> GPUBenchResult {
        let free0 = try device.memoryInfo().free
        let ops = try GPUOps(device: device, precision: precision)
        let model = try GPT2CUDA(size.shape, ops: ops, precision: precision)
        var rng = StrataRNG(seed: 7)
        var weights: [String: [Float]] = [:]
        for (name, shape) in size.shape.parameters {
            let n = shape.reduce(1, *)
            if shape.count == 1 { weights[name] = [Float](repeating: name.hasSuffix("weight") ? 1 : 0, count: n); continue }
            let std: Float = name.hasSuffix("c_proj.weight") ? 0.02 / (2 * Float(size.shape.layers)).squareRoot() : 0.02
            weights[name] = (0..<n).map { _ in rng.normal() * std }
        }
        try model.load(weights)
        let n = size.batch * size.t
        func batch() -> ([Int32], [Int32]) {
            let row = (0..<(n + 1)).map { _ in Int32(rng.int(below: size.shape.vocab)) }
            return (Array(row[..<n]), Array(row[1...]))
        }
        var first = 0.0, last = 0.0, start = Date()
        func step() throws -> Double {
            let (ids, targets) = batch()
            try model.zeroGrad()
            let loss = try model.forwardBackward(ids: ids, targets: targets, batch: size.batch, time: size.t)
            try model.update(lr: 3e-4, config: GPUAdamW(), maxNorm: 1)
            return loss
        }
        for s in 0..<(warmup + steps) {
            if s == warmup { try device.synchronize(); start = Date() }
            last = try step()
            if s == 0 { first = last }
        }
        try device.synchronize()
        let seconds = Date().timeIntervalSince(start)
        let used = free0 - (try device.memoryInfo().free)
        var result = GPUBenchResult(size: size.name, precision: precision.rawValue, batch: size.batch, t: size.t, steps: steps,
                                    tokensPerSecond: Double(steps * n) / seconds, msPerStep: 1000 * seconds / Double(steps),
                                    deviceMemoryBytes: used, firstLoss: first, lastLoss: last)
        if profileSteps > 0 {
            let profile = GPUProfile()
            device.profile = profile
            defer { device.profile = nil }
            let t0 = Date()
            for _ in 0..<profileSteps { _ = try step() }
            let wall = Date().timeIntervalSince(t0)
            var ms = profile.seconds.mapValues { 1000 * $0 / Double(profileSteps) }
            ms["host (everything outside kernels and cuBLAS, synchronised run)"] = 1000 * (wall - profile.seconds.values.reduce(0, +)) / Double(profileSteps)
            result.profileMs = ms
        }
        return result
    }
}
