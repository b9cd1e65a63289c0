// The `strata` executable the tests launch: the one in the build folder holding
// the test bundle (on Linux the bundle URL is that folder, on macOS the .xctest
// bundle inside it), and a runner that returns its exit status and combined
// output. Leaves out: mpirun launches (MPIRunTestCase builds its own command line).

import XCTest
import Foundation

enum StrataBinary {
    private final class BundleToken {}

    static func url() throws -> URL {
        let bundle = Bundle(for: BundleToken.self).bundleURL
        let candidates = [bundle, bundle.deletingLastPathComponent()].map { $0.appendingPathComponent("strata") }
        return try XCTUnwrap(candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) }, "run `swift build` first")
    }

    /// Runs `strata args` in `cwd` with stdout and stderr in one pipe; returns (exit status, output).
    static func run(_ args: [String], in cwd: URL) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = try url()
        p.arguments = args
        p.currentDirectoryURL = cwd
        let out = Pipe()
        p.standardOutput = out; p.standardError = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }
}
