// `strata gpu-selftest`: the GPU selftest (StrataCUDA), or with --write-goldens the
// CPU side that writes the goldens it compares against.

import ArgumentParser
import Foundation
import StrataBench
import StrataCUDA

struct GPUSelftestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gpu-selftest",
        abstract: "Check every GPU kernel and a 20-step training run against the CPU backend, then time training steps.",
        discussion: "Needs an NVIDIA GPU with its driver, NVRTC and cuBLAS (see docs/gpu.md). "
            + "--write-goldens FILE runs on any machine: it writes the CPU backend's reference outputs.")

    @OptionGroup var options: GPUSelftestOptions
    @Option(help: "Write the CPU goldens to this file instead of running the selftest.") var writeGoldens: String?

    func run() throws {
        if let path = writeGoldens {
            try GPUGoldensWriter.write(to: URL(fileURLWithPath: path))
            print("wrote the CPU goldens to \(path)")
            return
        }
        let report = try GPUSelftest.run(options)
        if !report.passed { throw ExitCode(1) }
    }
}
