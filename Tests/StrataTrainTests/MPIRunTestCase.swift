// Shared fixture for data-parallel tests: launches the built `strata` binary under
// `mpirun -n N` (as root in CI: Open MPI's allow-root variables, oversubscription,
// the shared-memory transport, binding off) or alone, one thread per process, and
// reads what a run wrote (losses, checkpoint tensors as bytes). A machine without
// mpirun skips these tests, saying why.
// Leaves out: several machines (every rank runs here, on one file system).

import XCTest
import Foundation
import StrataCore
import StrataCheckpoint
@testable import StrataTrain

class MPIRunTestCase: WorldTestCase {
    /// Environment of every launched process: one thread each (same count alone and per rank), root allowed.
    static let environment = ["STRATA_THREADS": "1", "OMP_NUM_THREADS": "1", "OMPI_ALLOW_RUN_AS_ROOT": "1",
                              "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1", "OMPI_MCA_rmaps_base_oversubscribe": "1"]
    static let mpirunOptions = ["--oversubscribe", "--bind-to", "none", "--mca", "btl", "self,vader", "-x", "STRATA_THREADS", "-x", "OMP_NUM_THREADS"]

    func strataBinary() throws -> URL { try StrataBinary.url() }

    func mpirun() throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for d in path.split(separator: ":") {
            let url = URL(fileURLWithPath: String(d)).appendingPathComponent("mpirun")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        let why = "mpirun is not on PATH: install Open MPI (bash scripts/setup.sh installs openmpi-bin) to run the data-parallel tests"
        print("note: " + why)
        throw XCTSkip(why)
    }

    /// Starts strata with `args` on `ranks` processes under mpirun (nil: one process, no launcher); output goes to `log`.
    func start(ranks: Int?, _ args: [String], log: URL, mpmd: [String]? = nil) throws -> Process {
        let p = Process()
        let strata = try strataBinary()
        if let ranks {
            p.executableURL = try mpirun()
            var a = Self.mpirunOptions + ["-n", "\(mpmd == nil ? ranks : 1)", strata.path] + args
            if let mpmd { a += [":", "-n", "\(ranks - 1)", strata.path] + mpmd }
            p.arguments = a
        } else {
            p.executableURL = strata
            p.arguments = args
        }
        p.environment = ProcessInfo.processInfo.environment.merging(Self.environment) { $1 }
        p.currentDirectoryURL = dir
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let out = try FileHandle(forWritingTo: log)
        p.standardOutput = out; p.standardError = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        return p
    }

    /// Runs strata to the end; its exit status and output.
    @discardableResult
    func strata(ranks: Int?, _ args: [String], mpmd: [String]? = nil) throws -> (status: Int32, output: String) {
        let log = dir.appendingPathComponent("log-\(UUID().uuidString).txt")
        let p = try start(ranks: ranks, args, log: log, mpmd: mpmd)
        p.waitUntilExit()
        return (p.terminationStatus, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
    }

    /// Training losses of a run, one per step, from its metrics.jsonl.
    func losses(_ run: String) throws -> [Double] {
        let text = try String(contentsOf: runDir(run).appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").compactMap { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return object?["val_loss"] == nil ? object?["loss"] as? Double : nil
        }
    }

    /// A run's latest valid checkpoint.
    func latest(_ run: String) throws -> URL {
        let store = try CheckpointStore(root: runDir(run).appendingPathComponent("checkpoints"))
        return try XCTUnwrap(store.latestValid(), "\(run) has no valid checkpoint").url
    }

    /// Weights and AdamW moments of a run's latest checkpoint.
    func finalTensors(_ run: String) throws -> [String: [Float]] { try tensorsBytes(try latest(run)) }

    /// The processes mpirun started (its children), by rank.
    func ranks(of mpirun: Process) throws -> [Int: Int32] {
        var out: [Int: Int32] = [:]
        for pid in try FileManager.default.contentsOfDirectory(atPath: "/proc").compactMap({ Int32($0) }) {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == mpirun.processIdentifier else { continue }
            guard let env = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
            for entry in env.split(separator: 0) {
                let s = String(decoding: entry, as: UTF8.self)
                if s.hasPrefix("OMPI_COMM_WORLD_RANK="), let r = Int(s.dropFirst(21)) { out[r] = pid }
            }
        }
        return out
    }

    /// Waits (polling) until `run`'s metrics.jsonl has at least `lines` lines; false after `seconds`.
    func waitForMetrics(_ run: String, lines: Int, seconds: Double = 120) -> Bool {
        let url = runDir(run).appendingPathComponent("metrics.jsonl")
        let end = Date().addingTimeInterval(seconds)
        while Date() < end {
            if let t = try? String(contentsOf: url, encoding: .utf8), t.split(separator: "\n").count >= lines { return true }
            usleep(50_000)
        }
        return false
    }
}
