// swift-tools-version:6.0
// Strata: train language models through the whole relay, one checkpoint format.
// Targets follow concerns: core utilities, tensors+autograd, model, checkpoint I/O,
// tokenizer, data, training stages, and the thin `strata` CLI on top.
import PackageDescription
import Foundation

// Release builds are tuned for the machine they are built on (CI and users build from source):
// -target-cpu native lets LLVM use AVX-512/AVX2 in the vectorised kernels. -O (not -Ounchecked)
// keeps bounds and overflow checks and every precondition in release builds: a corrupt file or a
// bad option must stop with an error, never read or write outside a buffer (docs/benchmarks.md
// has the measured cost).
// STRATA_PORTABLE=1 leaves out -target-cpu native, for a binary that runs on another machine
// (the GPU selftest copied to a GPU host).
let portable = ProcessInfo.processInfo.environment["STRATA_PORTABLE"] != nil
let optimize: [SwiftSetting] = [
    .unsafeFlags(["-O", "-wmo"], .when(configuration: .release)),
] + (portable ? [] : [.unsafeFlags(["-target-cpu", "native"], .when(platforms: [.linux], configuration: .release))])

let package = Package(
    name: "Strata",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "strata", targets: ["strata"]),
        .executable(name: "strata-gpu-selftest", targets: ["strata-gpu-selftest"]),
        .library(name: "Strata", targets: ["StrataCore", "StrataTensor", "StrataModel", "StrataCheckpoint",
                                           "StrataTokenizer", "StrataData", "StrataEval", "StrataRL", "StrataTrain"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    ],
    targets: [
        .systemLibrary(name: "CDNNL", path: "Sources/CDNNL"),
        .systemLibrary(name: "CVectorMath", path: "Sources/CVectorMath"),
        // Open MPI for data-parallel training (`mpirun -n N strata pretrain ...`); linked, started only under mpirun.
        .systemLibrary(name: "CMPI", path: "Sources/CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "StrataCore", swiftSettings: optimize),
        .target(name: "StrataTensor", dependencies: ["StrataCore", "CDNNL", "CVectorMath"], swiftSettings: optimize),
        .target(name: "StrataCheckpoint", dependencies: ["StrataCore"], swiftSettings: optimize),
        // The CUDA backend: driver, NVRTC and cuBLAS opened with dlopen at run time (nothing CUDA at build time);
        // it links neither oneDNN nor the CPU model, so its selftest binary runs on a GPU machine without them.
        .target(name: "StrataCUDA", dependencies: ["StrataCore", "StrataCheckpoint", .product(name: "ArgumentParser", package: "swift-argument-parser")],
                swiftSettings: optimize),
        // The selftest alone (built with --static-swift-stdlib to run on a GPU machine without Swift or oneDNN).
        .executableTarget(name: "strata-gpu-selftest", dependencies: ["StrataCUDA"], swiftSettings: optimize),
        .target(name: "StrataModel", dependencies: ["StrataCore", "StrataTensor", "StrataCheckpoint"], swiftSettings: optimize),
        .target(name: "StrataTokenizer", dependencies: ["StrataCore"], swiftSettings: optimize),
        .target(name: "StrataData", dependencies: ["StrataCore"], swiftSettings: optimize),
        .target(name: "StrataEval", dependencies: ["StrataCore", "StrataTensor", "StrataModel", "StrataTokenizer", "StrataData"],
                swiftSettings: optimize),
        .target(name: "StrataRL", dependencies: ["StrataCore", "StrataTensor", "StrataModel", "StrataCheckpoint", "StrataTokenizer",
                                                 "StrataData", "StrataEval"], swiftSettings: optimize),
        .target(name: "StrataTrain", dependencies: ["StrataCore", "StrataTensor", "StrataModel", "StrataCheckpoint",
                                                    "StrataTokenizer", "StrataData", "StrataEval", "StrataRL", "StrataCUDA", "CMPI", "Yams"], swiftSettings: optimize),
        // Benchmarks live outside the libraries: only the command line (strata bench) links them.
        .target(name: "StrataBench", dependencies: ["StrataCore", "StrataTensor", "StrataModel", "StrataCheckpoint", "StrataTokenizer", "StrataData",
                                                    "StrataRL", "StrataTrain"], swiftSettings: optimize),
        .executableTarget(name: "strata", dependencies: [
            "StrataCore", "StrataTensor", "StrataModel", "StrataCheckpoint", "StrataTokenizer", "StrataData", "StrataEval", "StrataRL", "StrataTrain", "StrataBench", "StrataCUDA",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], swiftSettings: optimize),
        .target(name: "StrataTestSupport", dependencies: ["StrataCore", "StrataTensor"], path: "Tests/StrataTestSupport"),
        .testTarget(name: "StrataCoreTests", dependencies: ["StrataCore"]),
        .testTarget(name: "StrataTensorTests", dependencies: ["StrataTensor", "StrataTestSupport"]),
        .testTarget(name: "StrataCheckpointTests", dependencies: ["StrataCheckpoint", "StrataTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "StrataModelTests", dependencies: ["StrataModel", "StrataCheckpoint", "StrataTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "StrataTokenizerTests", dependencies: ["StrataTokenizer"], resources: [.copy("Fixtures")]),
        .testTarget(name: "StrataDataTests", dependencies: ["StrataData", "StrataTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "StrataEvalTests", dependencies: ["StrataEval", "StrataData", "StrataTestSupport"]),
        .testTarget(name: "StrataRLTests", dependencies: ["StrataRL", "StrataTestSupport"], resources: [.copy("Fixtures")]),
        .testTarget(name: "StrataCUDATests", dependencies: ["StrataCUDA"]),
        .testTarget(name: "StrataTrainTests", dependencies: ["StrataTrain", "StrataEval", "StrataBench", "StrataTestSupport"]),
    ]
)
