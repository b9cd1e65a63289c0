// TensorBoardWriter: scalar logging in TensorBoard's own event-file format, for
// people who watch runs in TensorBoard instead of reading metrics.jsonl. The file
// (events.out.tfevents.<time>.<host>.strata in the given directory) starts with a
// file_version event; each `add` appends one framed Event with its scalars,
// handed to the OS in a single write like MetricsLog's lines.
// Leaves out: histograms, images, text summaries, flushing threads, rotation.

import Foundation
import StrataCore

public final class TensorBoardWriter {
    /// The event file being written.
    public let url: URL
    private let handle: FileHandle
    private let clock: () -> Double

    /// Creates `directory` if needed and a new event file in it, starting with the file_version event.
    public init(directory: URL, clock: @escaping () -> Double = { Date().timeIntervalSince1970 }) throws {
        self.clock = clock
        let now = clock()
        let host = ProcessInfo.processInfo.hostName.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }
        url = directory.appendingPathComponent("events.out.tfevents.\(Int(now)).\(host.isEmpty ? "localhost" : host).strata")
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw StrataError.io("create TensorBoard event file \(url.path)", "the file could not be created")
            }
            handle = try FileHandle(forWritingTo: url)
        } catch let e as StrataError { throw e } catch {
            throw StrataError.io("create TensorBoard event file \(url.path)", error.localizedDescription,
                                 fix: "check that \(directory.path) is writable")
        }
        try write(TensorBoardEvent(wallTime: now, step: 0, fileVersion: "brain.Event:2"))
    }

    deinit { try? handle.close() }

    /// Appends one event holding `scalars` (tag → value) at `step`; non-finite values are left out.
    public func add(step: Int, scalars: [String: Double], wallTime: Double? = nil) throws {
        let values = scalars.filter { $0.value.isFinite }.sorted { $0.key < $1.key }.map { (tag: $0.key, value: Float($0.value)) }
        guard !values.isEmpty else { return }
        try write(TensorBoardEvent(wallTime: wallTime ?? clock(), step: Int64(step), scalars: values))
    }

    /// Appends one metrics.jsonl record's numbers (see `scalars(of:)`).
    public func add(_ record: MetricsRecord) throws {
        try add(step: record.step, scalars: TensorBoardWriter.scalars(of: record))
    }

    /// A metrics record as TensorBoard tags: train/loss, train/lr, train/grad_norm, train/tokens_per_s,
    /// train/tokens_seen, val/loss, val/<source>, and each extra value under extra/<key>.
    public static func scalars(of r: MetricsRecord) -> [String: Double] {
        var s = [String: Double]()
        s["train/loss"] = r.loss
        s["train/lr"] = r.lr
        s["train/grad_norm"] = r.gradNorm
        s["train/tokens_per_s"] = r.tokensPerSecond
        s["train/tokens_seen"] = r.tokensSeen.map(Double.init)
        s["val/loss"] = r.valLoss
        for (k, v) in r.valLossBySource ?? [:] { s["val/" + k] = v }
        for (k, v) in r.extra ?? [:] { s["extra/" + k] = v }
        return s
    }

    /// Every event of an event file, checking the framing and CRCs.
    public static func read(_ url: URL) throws -> [TensorBoardEvent] {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw StrataError.io("read TensorBoard event file \(url.path)", "the file cannot be read")
        }
        return try TFRecord.records(Array(data), file: url.path).enumerated().map { i, payload in
            try TensorBoardEvent(decoding: payload, context: "\(url.lastPathComponent) record \(i)")
        }
    }

    private func write(_ event: TensorBoardEvent) throws {
        do {
            try handle.write(contentsOf: Data(TFRecord.frame(event.encoded())))
        } catch {
            throw StrataError.io("append to \(url.path)", error.localizedDescription)
        }
    }
}
