// MetricsLog: the run's `metrics.jsonl`, one JSON object per line, each line
// handed to the OS in a single write (no user-space buffer), so a crash of the
// process loses at most the line in flight. On resume, lines past the checkpoint's step are cut so the resumed
// run does not duplicate them. Non-finite numbers are written as null.
// Leaves out: log rotation, reading while another process writes.

import Foundation
import StrataCore

/// One line of metrics.jsonl.
public struct MetricsRecord: Codable, Equatable, Sendable {
    /// Optimizer steps completed when the line was written.
    public var step: Int
    public var loss: Double?
    public var lr: Double?
    public var gradNorm: Double?
    public var tokensPerSecond: Double?
    public var tokensSeen: Int?
    public var elapsedSeconds: Double?
    /// Things that happened since the last line ("skip: ...", "rollback: ...", "checkpoint step 200").
    public var events: [String]
    /// Mean validation loss over all sources.
    public var valLoss: Double?
    /// Validation loss per data source name.
    public var valLossBySource: [String: Double]?
    /// Other named values (stage-specific: reward accuracy, DPO margins...).
    public var extra: [String: Double]?

    public init(step: Int, loss: Double? = nil, lr: Double? = nil, gradNorm: Double? = nil,
                tokensPerSecond: Double? = nil, tokensSeen: Int? = nil, elapsedSeconds: Double? = nil,
                events: [String] = [], valLoss: Double? = nil, valLossBySource: [String: Double]? = nil,
                extra: [String: Double]? = nil) {
        self.step = step
        self.loss = loss
        self.lr = lr
        self.gradNorm = gradNorm
        self.tokensPerSecond = tokensPerSecond
        self.tokensSeen = tokensSeen
        self.elapsedSeconds = elapsedSeconds
        self.events = events
        self.valLoss = valLoss
        self.valLossBySource = valLossBySource
        self.extra = extra
    }

    enum CodingKeys: String, CodingKey {
        case step, loss, lr, gradNorm = "grad_norm", tokensPerSecond = "tokens_per_s", tokensSeen = "tokens_seen"
        case elapsedSeconds = "elapsed_s", events, valLoss = "val_loss", valLossBySource = "val_loss_by_source", extra
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        step = try c.decode(Int.self, forKey: .step)
        loss = try c.decodeIfPresent(Double.self, forKey: .loss)
        lr = try c.decodeIfPresent(Double.self, forKey: .lr)
        gradNorm = try c.decodeIfPresent(Double.self, forKey: .gradNorm)
        tokensPerSecond = try c.decodeIfPresent(Double.self, forKey: .tokensPerSecond)
        tokensSeen = try c.decodeIfPresent(Int.self, forKey: .tokensSeen)
        elapsedSeconds = try c.decodeIfPresent(Double.self, forKey: .elapsedSeconds)
        events = try c.decodeIfPresent([String].self, forKey: .events) ?? []
        valLoss = try c.decodeIfPresent(Double.self, forKey: .valLoss)
        valLossBySource = try c.decodeIfPresent([String: Double].self, forKey: .valLossBySource)
        extra = try c.decodeIfPresent([String: Double].self, forKey: .extra)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        func finite(_ x: Double?) -> Double? { x.flatMap { $0.isFinite ? $0 : nil } }
        try c.encode(step, forKey: .step)
        try c.encodeIfPresent(finite(loss), forKey: .loss)
        try c.encodeIfPresent(finite(lr), forKey: .lr)
        try c.encodeIfPresent(finite(gradNorm), forKey: .gradNorm)
        try c.encodeIfPresent(finite(tokensPerSecond), forKey: .tokensPerSecond)
        try c.encodeIfPresent(tokensSeen, forKey: .tokensSeen)
        try c.encodeIfPresent(finite(elapsedSeconds), forKey: .elapsedSeconds)
        try c.encode(events, forKey: .events)
        try c.encodeIfPresent(finite(valLoss), forKey: .valLoss)
        try c.encodeIfPresent(valLossBySource?.filter { $0.value.isFinite }, forKey: .valLossBySource)
        try c.encodeIfPresent(extra?.filter { $0.value.isFinite }, forKey: .extra)
    }
}

/// Appends records to a metrics.jsonl file.
public final class MetricsLog {
    public let url: URL
    private var handle: FileHandle

    /// Opens (creating if needed) `url` for appending.
    public init(url: URL) throws {
        self.url = url
        handle = try MetricsLog.openForAppend(url)
    }

    deinit { try? handle.close() }

    private static func openForAppend(_ url: URL) throws -> FileHandle {
        let fm = FileManager.default
        do {
            try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            if !fm.fileExists(atPath: url.path) { _ = fm.createFile(atPath: url.path, contents: nil) }
            let h = try FileHandle(forWritingTo: url)
            try h.seekToEnd()
            return h
        } catch {
            throw StrataError.io("open metrics log \(url.path)", error.localizedDescription,
                                 fix: "check that the run directory is writable")
        }
    }

    /// Writes one record as a line, straight to the file.
    public func append(_ record: MetricsRecord) throws {
        var line = try StrataJSON.encode(record, pretty: false)
        line.append(0x0A)
        do {
            try handle.write(contentsOf: line)
        } catch {
            throw StrataError.io("append to \(url.path)", error.localizedDescription)
        }
    }

    /// Keeps only lines with `step <= step` (and drops any unreadable, half-written line),
    /// then continues appending after them. Returns how many lines were removed.
    @discardableResult
    public func truncate(keepingThrough step: Int) throws -> Int {
        try handle.close()
        let lines = try MetricsLog.readLines(url)
        var kept = [String]()
        for line in lines {
            guard let rec = try? StrataJSON.decode(MetricsRecord.self, from: Data(line.utf8), file: url.path) else { continue }
            if rec.step <= step { kept.append(line) }
        }
        let text = kept.map { $0 + "\n" }.joined()
        do {
            try Data(text.utf8).write(to: url, options: .atomic)
        } catch {
            throw StrataError.io("rewrite \(url.path)", error.localizedDescription)
        }
        handle = try MetricsLog.openForAppend(url)
        return lines.count - kept.count
    }

    /// All readable records of a metrics file, in order (unreadable lines are skipped).
    public static func read(_ url: URL) throws -> [MetricsRecord] {
        try readLines(url).compactMap { try? StrataJSON.decode(MetricsRecord.self, from: Data($0.utf8), file: url.path) }
    }

    private static func readLines(_ url: URL) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: url.path) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
    }
}
