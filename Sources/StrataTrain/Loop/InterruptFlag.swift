// InterruptFlag: SIGINT and SIGTERM routed to a flag the training loop checks
// between steps, so a run finishes its step, writes a checkpoint and exits 0.
// Leaves out: signals other than SIGINT/SIGTERM.

import Foundation

/// A flag raised by SIGINT/SIGTERM so the loop can finish its step, save and exit cleanly.
public final class InterruptFlag: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private var raised: Int32?

    public init() {}

    /// Route SIGINT and SIGTERM to this flag (instead of terminating the process).
    public func install() {
        for sig in [SIGINT, SIGTERM] {
            Foundation.signal(sig, SIG_IGN)
            let src = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            src.setEventHandler { [weak self] in self?.raise(sig) }
            src.resume()
            sources.append(src)
        }
    }

    public func raise(_ sig: Int32) { lock.lock(); raised = sig; lock.unlock() }
    public var signal: Int32? { lock.lock(); defer { lock.unlock() }; return raised }

    /// Restore default signal handling.
    public func uninstall() {
        for s in sources { s.cancel() }
        sources.removeAll()
        Foundation.signal(SIGINT, SIG_DFL); Foundation.signal(SIGTERM, SIG_DFL)
    }
}
