// Parallel loops over rows for Strata's own kernels. Work is split into at most
// `Parallel.workers` contiguous chunks (the thread budget: the machine's cores, or
// its share of them per rank under mpirun, or STRATA_THREADS), and small jobs run
// inline so dispatch overhead never dominates. Where oneDNN's OpenMP runtime is loaded
// the chunks run on its threads (one team for both, see OpenMPTeam), else on Dispatch.
// Leaves out: work stealing, nested parallelism (inner calls run serially).

import Foundation
import Dispatch

public enum Parallel {
    /// Number of chunks a parallel loop splits into (read once, at the first parallel loop).
    public static let workers: Int = ThreadBudget(environment: ProcessInfo.processInfo.environment,
                                                  cores: ProcessInfo.processInfo.activeProcessorCount).threads

    /// Run `body(start, end)` over 0..<count in contiguous chunks on all cores.
    /// `minPerChunk` is the least work worth a thread (in iterations).
    @inline(__always)
    public static func rows(_ count: Int, minPerChunk: Int = 1, _ body: (Int, Int) -> Void) {
        let chunks = min(workers, max(1, count / max(1, minPerChunk)))
        if chunks <= 1 {
            body(0, count)
            return
        }
        withoutActuallyEscaping(body) { b in
            let chunk = { (c: Int) in b(count * c / chunks, count * (c + 1) / chunks) }   // chunk c's rows
            if let omp = OpenMPTeam.runtime { return omp.run(chunks: chunks, chunk) }
            let box = UnsafeSendableBox(chunk)
            DispatchQueue.concurrentPerform(iterations: chunks) { box.value($0) }
        }
    }
}

/// Strata's loops on OpenMP's own threads (libgomp, which oneDNN loads), found through the symbol table as
/// `ThreadBudget.applyToOpenMP` finds `omp_set_num_threads`. On 2 cores a Dispatch worker and oneDNN's
/// spin-waiting OpenMP worker would share one core during Strata's loops, and the worker could be asleep when the
/// next product starts; one team does both. Chunk c still covers the same rows whatever team size OpenMP grants
/// (a thread takes chunks c, c + team, …), so results do not depend on it.
struct OpenMPTeam {
    typealias Outlined = @convention(c) (UnsafeMutableRawPointer?) -> Void
    typealias ParallelFn = @convention(c) (Outlined, UnsafeMutableRawPointer?, UInt32, UInt32) -> Void
    typealias IntFn = @convention(c) () -> Int32
    let parallel: ParallelFn, threadNum: IntFn, teamSize: IntFn

    /// The team `Parallel.rows` uses, looked up at its first loop.
    static let runtime = load(environment: ProcessInfo.processInfo.environment)

    /// libgomp's entry points, nil when no OpenMP runtime is loaded or STRATA_PARALLEL=dispatch asks for Dispatch
    /// (the A/B switch docs/benchmarks.md measured with).
    static func load(environment env: [String: String]) -> OpenMPTeam? {
        if env["STRATA_PARALLEL"] == "dispatch" { return nil }
        guard let p = symbol("GOMP_parallel", as: ParallelFn.self), let t = symbol("omp_get_thread_num", as: IntFn.self),
              let n = symbol("omp_get_num_threads", as: IntFn.self) else { return nil }
        return OpenMPTeam(parallel: p, threadNum: t, teamSize: n)
    }

    /// A C function of the loaded OpenMP runtime by name (nil when none is loaded): nothing links against libgomp.
    static func symbol<F>(_ name: String, as type: F.Type) -> F? {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name).map { unsafeBitCast($0, to: type) }
    }

    private struct Job {
        let chunks: Int
        let body: (Int) -> Void
        let team: OpenMPTeam
    }

    /// Runs body(c) for c in 0..<chunks on a team of `chunks` threads (the caller is thread 0).
    func run(chunks: Int, _ body: (Int) -> Void) {
        withoutActuallyEscaping(body) { b in
            var job = Job(chunks: chunks, body: b, team: self)
            withUnsafeMutablePointer(to: &job) { ptr in
                parallel({ raw in
                    let job = raw!.assumingMemoryBound(to: Job.self).pointee
                    var c = Int(job.team.threadNum())
                    let step = max(1, Int(job.team.teamSize()))
                    while c < job.chunks { job.body(c); c += step }
                }, UnsafeMutableRawPointer(ptr), UInt32(chunks), 0)
            }
        }
    }
}

/// Wraps a non-Sendable value for use across the threads of one parallel loop,
/// where the caller guarantees the chunks touch disjoint memory.
public struct UnsafeSendableBox<T>: @unchecked Sendable {
    public let value: T
    public init(_ value: T) { self.value = value }
}

/// How many threads one process computes with: STRATA_THREADS when set; under mpirun, the cores divided among
/// the ranks on this machine (OMPI_COMM_WORLD_LOCAL_SIZE), so 2 ranks on 2 cores get 1 thread each; otherwise
/// every core. oneDNN's OpenMP threads follow the same budget unless OMP_NUM_THREADS says otherwise.
public struct ThreadBudget: Sendable, Equatable {
    public var threads: Int
    /// Where the number came from, for the run's log.
    public var source: String

    public init(environment env: [String: String], cores: Int) {
        if let s = env["STRATA_THREADS"], let n = Int(s), n >= 1 {
            threads = n; source = "STRATA_THREADS"
        } else if let s = env["OMPI_COMM_WORLD_LOCAL_SIZE"], let ranks = Int(s), ranks >= 1 {
            threads = max(1, cores / ranks); source = "\(cores) cores / \(ranks) ranks on this machine"
        } else {
            threads = max(1, cores); source = "\(cores) cores"
        }
    }

    /// Sets OpenMP's thread count (oneDNN's matrix products) to `threads` unless OMP_NUM_THREADS is set;
    /// OpenMP is reached through the symbol table (oneDNN loads it), so nothing links against it.
    /// Returns the count OpenMP now uses, nil when it is not loaded or the environment decides.
    @discardableResult
    public static func applyToOpenMP(_ threads: Int, environment env: [String: String]) -> Int? {
        typealias SetThreads = @convention(c) (Int32) -> Void
        guard env["OMP_NUM_THREADS"] == nil, let setThreads = OpenMPTeam.symbol("omp_set_num_threads", as: SetThreads.self) else { return nil }
        setThreads(Int32(threads))
        return threads
    }
}
