// Parallel loops over rows for Strata's own kernels. Work is split into at most
// `Parallel.workers` contiguous chunks (the machine's cores), and small jobs run
// inline so dispatch overhead never dominates. oneDNN runs its own OpenMP threads
// between these loops; the two never run at the same time.
// Leaves out: work stealing, nested parallelism (inner calls run serially).

import Foundation
import Dispatch

public enum Parallel {
    /// Number of chunks a parallel loop splits into.
    public static let workers: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

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
