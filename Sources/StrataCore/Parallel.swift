// Parallel loops over rows for Strata's own kernels. Work is split into at most
// `Parallel.workers` contiguous chunks (the thread budget: the machine's cores, or
// its share of them per rank under mpirun, or STRATA_THREADS), and small jobs run
// inline so dispatch overhead never dominates. oneDNN runs its own OpenMP threads
// between these loops; the two never run at the same time.
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
            let box = UnsafeSendableBox(b)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let start = count * c / chunks
                let end = count * (c + 1) / chunks
                box.value(start, end)
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
        guard env["OMP_NUM_THREADS"] == nil, let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "omp_set_num_threads") else { return nil }
        typealias SetThreads = @convention(c) (Int32) -> Void
        unsafeBitCast(sym, to: SetThreads.self)(Int32(threads))
        return threads
    }
}
