// strata-gpu-selftest: the GPU selftest on its own, for a GPU machine that has the
// NVIDIA driver and CUDA libraries but no Swift and no oneDNN (build it with
// `swift build -c release --product strata-gpu-selftest --static-swift-stdlib`).
// Same options as `strata gpu-selftest`; exits 1 when any check fails.

import ArgumentParser
import StrataCUDA

struct SelftestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "strata-gpu-selftest",
                                                    abstract: "Check every GPU kernel and a training run against the CPU's goldens, then time training steps.")
    @OptionGroup var options: GPUSelftestOptions

    func run() throws {
        let report = try GPUSelftest.run(options)
        if !report.passed { throw ExitCode(1) }
    }
}

SelftestCommand.main()
