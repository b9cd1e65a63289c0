// Reading the checkpoint trail: the manifest format, listing complete checkpoints
// (those whose manifest parses), verifying one (every listed file present with the
// recorded size and sha256), finding the newest checkpoint that verifies, the
// `latest` pointer, and removing the hidden leftovers of interrupted writes.
// "Newest" is the manifest's sequence number (1 + the largest in the root at write
// time), so it does not depend on names or clocks.
// Leaves out: repairing a damaged checkpoint, verifying files not in the manifest.

import Foundation
import StrataCore

/// manifest.json inside every checkpoint directory.
public struct CheckpointManifest: Codable, Sendable, Equatable {
    public static let currentFormat = "strata-checkpoint-v1"
    public struct FileRecord: Codable, Sendable, Equatable {
        public var bytes: Int
        public var sha256: String
        public init(bytes: Int, sha256: String) { self.bytes = bytes; self.sha256 = sha256 }
    }

    public var format: String
    public var name: String
    public var sequence: Int
    public var files: [String: FileRecord]

    public init(name: String, sequence: Int, files: [String: FileRecord]) {
        self.format = Self.currentFormat
        self.name = name
        self.sequence = sequence
        self.files = files
    }
}

/// A verified checkpoint.
public struct Checkpoint: Sendable, Equatable {
    public let name: String
    public let url: URL
    public let manifest: CheckpointManifest

    public var fileNames: [String] { manifest.files.keys.sorted() }
    public func url(for file: String) -> URL { url.appendingPathComponent(file) }

    public init(name: String, url: URL, manifest: CheckpointManifest) {
        self.name = name; self.url = url; self.manifest = manifest
    }

    /// A directory written by another tool (e.g. transformers' save_pretrained): no manifest, so one
    /// is computed in memory from the files present (sha256 and size), giving it a content hash.
    public static func unmanaged(_ dir: URL, files: [String]) throws -> Checkpoint {
        var records: [String: CheckpointManifest.FileRecord] = [:]
        for f in files {
            let u = dir.appendingPathComponent(f)
            guard let size = FileIO.fileSize(u) else { continue }
            records[f] = .init(bytes: size, sha256: try SHA256.hex(fileAt: u))
        }
        return Checkpoint(name: dir.lastPathComponent, url: dir, manifest: CheckpointManifest(name: dir.lastPathComponent, sequence: 0, files: records))
    }
}

/// A checkpoint directory as listed (not yet verified); `sequence` is nil when its
/// manifest is missing or unreadable.
public struct CheckpointEntry: Sendable, Equatable {
    public let name: String
    public let sequence: Int?
}

extension CheckpointStore {
    var latestURL: URL { root.appendingPathComponent("latest") }

    /// Visible directories in the root, complete ones by sequence (oldest first), then the rest.
    public func list() -> [CheckpointEntry] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root.path) else { return [] }
        let entries = names.filter { !$0.hasPrefix(".") && FileIO.isDirectory(url(of: $0)) }.map { name in
            CheckpointEntry(name: name, sequence: try? readManifest(name).sequence)
        }
        return entries.sorted { a, b in
            switch (a.sequence, b.sequence) {
            case let (x?, y?): return (x, a.name) < (y, b.name)
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return a.name < b.name
            }
        }
    }

    /// The name the `latest` pointer holds (it may name a damaged checkpoint).
    public func latestPointer() -> String? {
        guard let data = FileManager.default.contents(atPath: latestURL.path),
              let s = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), !s.isEmpty else { return nil }
        return s
    }

    func readManifest(_ name: String) throws -> CheckpointManifest {
        let op = "verify checkpoint \(name) in \(root.path)"
        let dir = url(of: name)
        guard FileIO.isDirectory(dir) else { throw StrataError.io(op, "no checkpoint named '\(name)'") }
        let murl = dir.appendingPathComponent(Self.manifestName)
        guard FileIO.fileSize(murl) != nil else {
            throw StrataError.format(op, "incomplete checkpoint: '\(name)' has no \(Self.manifestName) (its write was interrupted)",
                                     fix: "resume from an earlier checkpoint (latestValid) or delete this directory")
        }
        let m = try StrataJSON.read(CheckpointManifest.self, at: murl)
        guard m.format == CheckpointManifest.currentFormat else {
            throw StrataError.format(op, "manifest format '\(m.format)' is not '\(CheckpointManifest.currentFormat)'")
        }
        return m
    }

    /// Checks every file of the manifest: present, same size, same sha256.
    @discardableResult
    public func verify(_ name: String) throws -> Checkpoint {
        let op = "verify checkpoint \(name) in \(root.path)"
        let manifest = try readManifest(name)
        guard !manifest.files.isEmpty else { throw StrataError.format(op, "manifest lists no files") }
        for (file, record) in manifest.files.sorted(by: { $0.key < $1.key }) {
            guard Self.isPlainName(file), file != Self.manifestName else {
                throw StrataError.format(op, "manifest lists an invalid file name '\(file)'")
            }
            let furl = url(of: name).appendingPathComponent(file)
            guard let size = FileIO.fileSize(furl) else {
                throw StrataError.format(op, "file '\(file)' listed in the manifest is missing")
            }
            guard size == record.bytes else {
                throw StrataError.format(op, "file '\(file)' is \(size) bytes but the manifest records \(record.bytes)")
            }
            let digest = try SHA256.hex(fileAt: furl)
            guard digest == record.sha256 else {
                throw StrataError.format(op, "file '\(file)' is corrupted: sha256 \(digest) does not match the manifest's \(record.sha256)",
                                         fix: "resume from an earlier checkpoint")
            }
        }
        return Checkpoint(name: name, url: url(of: name), manifest: manifest)
    }

    /// Same as `verify`: a checkpoint is only handed out after its files check out.
    public func load(_ name: String) throws -> Checkpoint { try verify(name) }

    /// The newest checkpoint that verifies, after removing leftovers of interrupted
    /// writes. Checkpoints that fail are reported through `onSkip` and passed over.
    /// A directory whose manifest is missing or unreadable has no place in the order, so it is
    /// reported first (with why) and never chosen.
    public func latestValid(onSkip: (String, StrataError) -> Void = { _, _ in }) -> Checkpoint? {
        cleanLeftovers()
        let entries = list()
        for entry in entries where entry.sequence == nil {
            do {
                _ = try readManifest(entry.name)
            } catch let e as StrataError {
                onSkip(entry.name, e)
            } catch {
                onSkip(entry.name, StrataError.format("verify checkpoint \(entry.name)", "\(error)"))
            }
        }
        for entry in entries.reversed() where entry.sequence != nil {
            do {
                return try verify(entry.name)
            } catch let e as StrataError {
                onSkip(entry.name, e)
            } catch {
                onSkip(entry.name, StrataError.io("verify checkpoint \(entry.name)", "\(error)"))
            }
        }
        return nil
    }

    /// Removes hidden leftovers (`.tmp-*` directories, `*.tmp-*` files) and restores a
    /// checkpoint moved aside (`.old-<name>-<pid>`) when its replacement never arrived.
    @discardableResult
    public func cleanLeftovers() -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root.path) else { return [] }
        var removed: [String] = []
        for n in names.sorted() where n.hasPrefix(".") {
            let u = root.appendingPathComponent(n)
            if n.hasPrefix(".tmp-") || n.contains(".tmp-") {
                if (try? FileManager.default.removeItem(at: u)) != nil { removed.append(n) }
            } else if n.hasPrefix(".old-"), let name = Self.nameMovedAside(n) {
                if FileIO.isDirectory(url(of: name)) {
                    if (try? FileManager.default.removeItem(at: u)) != nil { removed.append(n) }
                } else {
                    try? FileIO.renameItem(u, to: url(of: name))
                }
            }
        }
        try? FileIO.sync(root, directory: true)
        return removed
    }

    /// `.old-step-1-123` → `step-1`.
    static func nameMovedAside(_ entry: String) -> String? {
        let body = entry.dropFirst(".old-".count)
        guard let dash = body.lastIndex(of: "-"), body[body.index(after: dash)...].allSatisfy(\.isNumber) else { return nil }
        let name = String(body[..<dash])
        return isPlainName(name) ? name : nil
    }
}
