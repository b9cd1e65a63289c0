// MemoryBudget: refuse an allocation that cannot fit before trying it. Sizes are
// estimated in Double (so absurd options such as n_embd 3037000500, whose square
// overflows Int, are measured, not trapped on) and compared with the machine's
// physical memory; the error names what was estimated, the estimate and the memory.
// Leaves out: free memory right now (other processes, swap), GPU memory.

import Foundation

public enum MemoryBudget {
    /// The machine's physical memory in bytes.
    public static var physicalBytes: Double { Double(ProcessInfo.processInfo.physicalMemory) }

    /// "1.5 GB", "640 MB", "12 KB" (powers of 1024, as `free -h` prints).
    public static func describe(_ bytes: Double) -> String {
        let units = ["bytes", "KB", "MB", "GB", "TB", "PB", "EB"]
        var v = bytes, u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        if u == units.count - 1 && v >= 1024 { return String(format: "%.3g bytes", bytes) }
        return u == 0 ? "\(Int(v)) bytes" : String(format: v < 10 ? "%.1f %@" : "%.0f %@", v, units[u])
    }

    /// Throws when `bytes` (an estimate of `what`) exceeds `available` (default: physical memory).
    public static func check(_ bytes: Double, for what: String, op: String, fix: String,
                             available: Double = MemoryBudget.physicalBytes) throws {
        guard bytes.isFinite, bytes <= available else {
            throw StrataError.config(op, "\(what) needs about \(describe(bytes)) but this machine has \(describe(available)) of memory",
                                     fix: fix)
        }
    }
}
