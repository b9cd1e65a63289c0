// The checkpoint trail of a run: `root` (runDir/checkpoints) holds one directory per
// checkpoint, each complete or absent, never half-written. A write goes to
// `.tmp-<name>-<pid>`; each file is hashed while streamed, then fsynced; then
// manifest.json (size + sha256 of every file) is written and fsynced, the temp
// directory fsynced, renamed to `<name>` (an existing `<name>` is moved aside to
// `.old-<name>-<pid>` first and removed after), the root fsynced, and the `latest`
// pointer file replaced atomically. A crash at any point leaves the previous
// checkpoints loadable; leftovers are hidden entries that `cleanLeftovers` removes.
// Layout:  root/latest, root/marks.json, root/<name>/{manifest.json, files...}
// Leaves out: concurrent writers to one root (one trainer per run directory),
// nested directories inside a checkpoint, remote storage.

import Foundation
import StrataCore

/// Points in a checkpoint write where the test hook throws, imitating a crash.
public enum FaultPoint: String, Sendable, CaseIterable, Codable {
    case midFile            // half of the first file's first write reached the disk
    case afterFilesWritten  // all files written, none fsynced, no manifest
    case afterFsync         // files fsynced, no manifest yet
    case beforeRename       // manifest written, temp directory complete, not renamed
    case afterRename        // checkpoint renamed into place, `latest` not yet updated
}

/// One file of a checkpoint: its name and a closure that streams its bytes.
public struct CheckpointFile {
    public let name: String
    let body: (ByteSink) throws -> Void

    public init(name: String, write body: @escaping (ByteSink) throws -> Void) {
        self.name = name
        self.body = body
    }

    public static func data(_ name: String, _ data: Data) -> CheckpointFile {
        CheckpointFile(name: name) { try $0.write(data) }
    }

    /// A safetensors file streamed from lent buffers (no copy of the model).
    public static func safetensors(_ name: String, sources: [TensorSource], metadata: [String: String] = [:],
                                   dtype: DType = .f32) -> CheckpointFile {
        CheckpointFile(name: name) { sink in
            try SafeTensors.write(sources: sources, metadata: metadata, dtype: dtype, into: sink, label: name)
        }
    }
}

public struct CheckpointStore: Sendable {
    public struct Config: Sendable {
        /// How many of the newest checkpoints retention keeps (at least 2).
        public var keepLast: Int = 3
        /// How many of the newest *stable* checkpoints retention keeps besides those (at least 1):
        /// the newest is the spike guard's rollback target, the one before it a fallback should it
        /// fail to verify. Older stable marks are pruned with their checkpoints.
        public var keepStable: Int = 2
        /// Run `prune()` after each successful write.
        public var pruneAfterWrite: Bool = true
        /// Test hook: throw at this point of every write, imitating a crash. Never set in training.
        public var fault: FaultPoint?

        public init(keepLast: Int = 3, keepStable: Int = 2, pruneAfterWrite: Bool = true, fault: FaultPoint? = nil) {
            self.keepLast = keepLast
            self.keepStable = keepStable
            self.pruneAfterWrite = pruneAfterWrite
            self.fault = fault
        }
    }

    /// The operation name carried by errors that the fault hook throws.
    public static let faultOperation = "checkpoint fault injection"
    static let manifestName = "manifest.json"
    static let reservedNames: Set<String> = ["latest", "marks.json"]

    public let root: URL
    public let config: Config

    public init(root: URL, config: Config = Config()) throws {
        guard config.keepLast >= 2 else {
            throw StrataError.config("checkpoint store \(root.path)", "keepLast is \(config.keepLast); retention needs at least 2",
                                     fix: "set keepLast to 2 or more")
        }
        guard config.keepStable >= 1 else {
            throw StrataError.config("checkpoint store \(root.path)", "keepStable is \(config.keepStable); a rollback needs at least 1 stable checkpoint",
                                     fix: "set keepStable to 1 or more")
        }
        self.root = root
        self.config = config
        _ = try marks()  // a damaged marks.json stops the run now, not at its first checkpoint
    }

    public func url(of name: String) -> URL { root.appendingPathComponent(name, isDirectory: true) }

    /// Writes a complete checkpoint atomically, points `latest` at it, then prunes.
    @discardableResult
    public func write(name: String, files: [CheckpointFile]) throws -> Checkpoint {
        let op = "write checkpoint \(name) in \(root.path)"
        try Self.checkName(name, op: op)
        try Self.checkFileNames(files.map(\.name), op: op)
        try Self.makeDirectory(root, op: op)
        let tmp = root.appendingPathComponent(".tmp-\(name)-\(getpid())", isDirectory: true)
        try? FileManager.default.removeItem(at: tmp)
        try Self.makeDirectory(tmp, op: op)
        let manifest: CheckpointManifest
        do {
            manifest = try writeContents(name: name, files: files, in: tmp, op: op)
            try fault(.beforeRename, name)
            try install(tmp, as: name)
            try fault(.afterRename, name)
            try FileIO.writeAtomically(Data((name + "\n").utf8), to: latestURL, op: op)
        } catch {
            // A real failure (disk full, permissions) cleans up; an injected crash leaves its debris.
            if !Self.isInjectedFault(error) { try? FileManager.default.removeItem(at: tmp) }
            throw error
        }
        if config.pruneAfterWrite {
            do {
                try prune()
            } catch let e as StrataError {
                throw StrataError(e.kind, op, "checkpoint '\(name)' was written, but pruning old ones failed: \(e.operation): \(e.message)",
                                  fix: e.fix)
            }
        }
        return Checkpoint(name: name, url: url(of: name), manifest: manifest)
    }

    /// Files streamed and hashed, fsynced, then the manifest and the directory fsynced.
    private func writeContents(name: String, files: [CheckpointFile], in tmp: URL, op: String) throws -> CheckpointManifest {
        var records: [String: CheckpointManifest.FileRecord] = [:]
        for (i, f) in files.enumerated() {
            let armed = i == 0 && config.fault == .midFile
            records[f.name] = try writeFile(f, to: tmp.appendingPathComponent(f.name), armMidFile: armed, checkpoint: name)
        }
        try fault(.afterFilesWritten, name)
        for f in files { try FileIO.sync(tmp.appendingPathComponent(f.name)) }
        try fault(.afterFsync, name)
        let manifest = CheckpointManifest(name: name, sequence: nextSequence(), files: records)
        let file = try FileSink(creating: tmp.appendingPathComponent(Self.manifestName).path, op: op)
        try file.write(try StrataJSON.encode(manifest))
        try file.sync()
        try file.close()
        try FileIO.sync(tmp, directory: true)
        return manifest
    }

    private func writeFile(_ f: CheckpointFile, to url: URL, armMidFile: Bool, checkpoint: String) throws -> CheckpointManifest.FileRecord {
        let sink = HashingFileSink(file: try FileSink(creating: url.path, op: "write checkpoint \(checkpoint)"))
        if armMidFile { sink.midFileFault = injectedFault(.midFile, checkpoint) }
        try f.body(sink)
        if let pending = sink.midFileFault { throw pending }  // an empty file: crash after it
        try sink.file.close()
        return CheckpointManifest.FileRecord(bytes: sink.bytes, sha256: sink.hash.hexDigest())
    }

    /// Renames the finished temp directory to its final name and fsyncs the root.
    private func install(_ tmp: URL, as name: String) throws {
        let final = url(of: name)
        if FileManager.default.fileExists(atPath: final.path) {
            let aside = root.appendingPathComponent(".old-\(name)-\(getpid())", isDirectory: true)
            try? FileManager.default.removeItem(at: aside)
            try FileIO.renameItem(final, to: aside)
            try FileIO.renameItem(tmp, to: final)
            try FileIO.sync(root, directory: true)
            try? FileManager.default.removeItem(at: aside)
        } else {
            try FileIO.renameItem(tmp, to: final)
            try FileIO.sync(root, directory: true)
        }
    }

    private func nextSequence() -> Int { (list().compactMap(\.sequence).max() ?? 0) + 1 }

    private func injectedFault(_ point: FaultPoint, _ name: String) -> StrataError {
        StrataError.io(Self.faultOperation, "injected fault '\(point.rawValue)' while writing checkpoint '\(name)'")
    }

    private func fault(_ point: FaultPoint, _ name: String) throws {
        if config.fault == point { throw injectedFault(point, name) }
    }

    public static func isInjectedFault(_ error: Error) -> Bool {
        (error as? StrataError)?.operation == faultOperation
    }
}

/// A checkpoint file being written: counts and hashes bytes as they pass, and can
/// imitate a crash halfway through the first write.
final class HashingFileSink: ByteSink {
    let file: FileSink
    var hash = SHA256()
    var bytes = 0
    var midFileFault: StrataError?

    init(file: FileSink) { self.file = file }

    func write(_ chunk: UnsafeRawBufferPointer) throws {
        if let fault = midFileFault {
            try file.write(UnsafeRawBufferPointer(rebasing: chunk[0..<(chunk.count / 2)]))
            midFileFault = nil
            throw fault
        }
        try file.write(chunk)
        hash.update(chunk)
        bytes += chunk.count
    }
}
