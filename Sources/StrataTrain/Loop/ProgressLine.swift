// ProgressLine: the one-line training status. On a terminal it rewrites one
// line in place (carriage return + clear-to-end); otherwise (logs, pipes) it
// prints a plain line every `interval` steps and at the last step. The text
// itself comes from a pure formatting function.
// Leaves out: multi-line dashboards, colours.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct ProgressLine: Sendable {
    /// What one status line shows.
    public struct Status: Equatable, Sendable {
        public var step: Int
        public var totalSteps: Int
        public var loss: Double?
        public var lr: Double?
        public var tokensPerSecond: Double?
        /// Seconds since this session started.
        public var elapsedSeconds: Double
        /// Step this session started from (0 for a fresh run), so the ETA uses this session's pace.
        public var sessionStartStep: Int

        public init(step: Int, totalSteps: Int, loss: Double? = nil, lr: Double? = nil, tokensPerSecond: Double? = nil,
                    elapsedSeconds: Double, sessionStartStep: Int = 0) {
            self.step = step
            self.totalSteps = totalSteps
            self.loss = loss
            self.lr = lr
            self.tokensPerSecond = tokensPerSecond
            self.elapsedSeconds = elapsedSeconds
            self.sessionStartStep = sessionStartStep
        }
    }

    /// Rewrite one line in place (terminal) or print plain lines.
    public var inPlace: Bool
    /// Steps between plain lines when not in place.
    public var interval: Int
    /// Where `emit` writes: standard error (true) or standard output.
    public var toStandardError: Bool

    public init(inPlace: Bool, interval: Int, toStandardError: Bool = true) {
        self.inPlace = inPlace
        self.interval = max(1, interval)
        self.toStandardError = toStandardError
    }

    /// A progress line on standard error, in place when it is a terminal.
    public static func forStandardError(interval: Int) -> ProgressLine {
        ProgressLine(inPlace: isatty(STDERR_FILENO) == 1, interval: interval, toStandardError: true)
    }

    /// A progress line on standard output, in place when it is a terminal.
    public static func forStandardOutput(interval: Int) -> ProgressLine {
        ProgressLine(inPlace: isatty(STDOUT_FILENO) == 1, interval: interval, toStandardError: false)
    }

    /// The text to write for this status, or nil when nothing should be written now.
    public func render(_ s: Status) -> String? {
        if inPlace { return "\r" + ProgressLine.format(s) + "\u{1B}[K" }
        guard s.step % interval == 0 || s.step >= s.totalSteps else { return nil }
        return ProgressLine.format(s) + "\n"
    }

    /// Text that ends the in-place line (a newline), or "" for plain output.
    public var finish: String { inPlace ? "\n" : "" }

    /// Writes `render(s)`, if there is anything to write.
    public func emit(_ s: Status) {
        if let text = render(s) { write(text) }
    }

    /// Ends the in-place line, if any.
    public func end() { if !finish.isEmpty { write(finish) } }

    private func write(_ text: String) {
        (toStandardError ? FileHandle.standardError : FileHandle.standardOutput).write(Data(text.utf8))
    }

    /// "step 120/5000 (2.4%) | loss 3.2145 | lr 6.00e-04 | 12.3k tok/s | 1m02s elapsed | ETA 41m10s"
    public static func format(_ s: Status) -> String {
        var parts = [String]()
        let pct = s.totalSteps > 0 ? 100 * Double(s.step) / Double(s.totalSteps) : 0
        parts.append("step \(s.step)/\(s.totalSteps) (\(String(format: "%.1f", pct))%)")
        if let l = s.loss { parts.append("loss " + (l.isFinite ? String(format: "%.4f", l) : "\(l)")) }
        if let lr = s.lr { parts.append("lr " + String(format: "%.2e", lr)) }
        if let t = s.tokensPerSecond { parts.append(rate(t) + " tok/s") }
        parts.append(duration(s.elapsedSeconds) + " elapsed")
        parts.append("ETA " + (eta(s).map(duration) ?? "--"))
        return parts.joined(separator: " | ")
    }

    /// Seconds left at this session's pace, or nil before any step of this session finished.
    public static func eta(_ s: Status) -> Double? {
        let done = s.step - s.sessionStartStep
        guard done > 0, s.elapsedSeconds > 0 else { return nil }
        return s.elapsedSeconds / Double(done) * Double(max(0, s.totalSteps - s.step))
    }

    /// 950 → "950", 12_345 → "12.3k", 1_234_567 → "1.23M".
    public static func rate(_ x: Double) -> String {
        guard x.isFinite else { return "--" }
        if x >= 1e6 { return String(format: "%.2fM", x / 1e6) }
        if x >= 1e4 { return String(format: "%.1fk", x / 1e3) }
        return String(format: "%.0f", x)
    }

    /// 42 → "42s", 62 → "1m02s", 3725 → "1h02m", 90000 → "1d01h".
    public static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "--" }
        let t = max(0, Int(seconds.rounded()))
        if t < 60 { return "\(t)s" }
        if t < 3600 { return String(format: "%dm%02ds", t / 60, t % 60) }
        if t < 86400 { return String(format: "%dh%02dm", t / 3600, (t % 3600) / 60) }
        return String(format: "%dd%02dh", t / 86400, (t % 86400) / 3600)
    }
}
