// Retention of the checkpoint trail and the marks it honours. marks.json in the
// root (written atomically) holds the `best` checkpoint (lowest validation loss
// recorded so far) and the list of `stable` checkpoints (marked by the user or a
// stage boundary, or by the trainer whenever the spike guard is quiet — in a quiet run
// that is every checkpoint). `prune()` keeps the newest `keepLast` complete checkpoints,
// the best one, the newest `keepStable` stable ones and the one `latest` names, so a run
// holds at most keepLast + keepStable + 2 checkpoints however long it runs; others are
// renamed to a hidden `.tmp-` name first (so a crash mid-delete leaves only a leftover)
// and removed, and their stable marks dropped. Also the name rules for checkpoints and
// their files.
// Leaves out: retention by age or disk budget, several "best" metrics.

import Foundation
import StrataCore

/// marks.json: which checkpoints retention must keep besides the newest ones.
public struct CheckpointMarks: Codable, Sendable, Equatable {
    public var best: String?
    public var bestValidationLoss: Double?
    public var stable: [String]

    public init(best: String? = nil, bestValidationLoss: Double? = nil, stable: [String] = []) {
        self.best = best
        self.bestValidationLoss = bestValidationLoss
        self.stable = stable
    }
}

extension CheckpointStore {
    var marksURL: URL { root.appendingPathComponent("marks.json") }

    /// The current marks (empty when marks.json does not exist yet).
    public func marks() throws -> CheckpointMarks {
        guard FileIO.fileSize(marksURL) != nil else { return CheckpointMarks() }
        do {
            return try StrataJSON.read(CheckpointMarks.self, at: marksURL)
        } catch let e as StrataError {
            throw StrataError(e.kind, e.operation, "\(e.message) (\(marksURL.lastPathComponent) lists the best and stable checkpoints)",
                              fix: "repair or delete \(marksURL.path); without it retention keeps the newest checkpoints "
                                + "and the best/stable marks start afresh")
        }
    }

    private func saveMarks(_ m: CheckpointMarks) throws {
        try FileIO.writeAtomically(try StrataJSON.encode(m), to: marksURL, op: "write \(marksURL.path)")
    }

    /// Marks a checkpoint `stable`, so retention never removes it.
    public func markStable(_ name: String) throws {
        try requireListed(name, op: "mark checkpoint \(name) stable")
        var m = try marks()
        if !m.stable.contains(name) { m.stable = (m.stable + [name]).sorted() }
        try saveMarks(m)
    }

    public func unmarkStable(_ name: String) throws {
        var m = try marks()
        m.stable.removeAll { $0 == name }
        try saveMarks(m)
    }

    /// Records a checkpoint's validation loss; returns true when it becomes `best`.
    @discardableResult
    public func recordValidationLoss(_ loss: Double, for name: String) throws -> Bool {
        let op = "record validation loss of checkpoint \(name)"
        guard loss.isFinite else { throw StrataError(.numeric, op, "validation loss is \(loss)", fix: "only finite losses can rank checkpoints") }
        try requireListed(name, op: op)
        var m = try marks()
        let bestGone = m.best.map { !FileIO.isDirectory(url(of: $0)) } ?? true
        guard bestGone || loss < (m.bestValidationLoss ?? .infinity) else { return false }
        m.best = name
        m.bestValidationLoss = loss
        try saveMarks(m)
        return true
    }

    /// Removes complete checkpoints that nothing keeps; returns their names.
    @discardableResult
    public func prune() throws -> [String] {
        let complete = list().filter { $0.sequence != nil }
        var m = try marks()
        let keep = retained(complete.map(\.name), marks: m)
        var removed: [String] = []
        for e in complete where !keep.contains(e.name) {
            let doomed = root.appendingPathComponent(".tmp-deleting-\(e.name)-\(getpid())", isDirectory: true)
            try FileIO.renameItem(url(of: e.name), to: doomed)
            do {
                try FileManager.default.removeItem(at: doomed)
            } catch {
                throw StrataError.io("prune checkpoints in \(root.path)", "cannot remove \(doomed.path): \(error)")
            }
            removed.append(e.name)
        }
        if !removed.isEmpty { try FileIO.sync(root, directory: true) }
        let present = Set(complete.map(\.name)).subtracting(removed)
        let stillStable = m.stable.filter { present.contains($0) }
        if stillStable != m.stable {
            m.stable = stillStable
            try saveMarks(m)
        }
        return removed
    }

    /// What retention keeps of `complete` (names, oldest first): the newest keepLast, the newest
    /// keepStable stable ones, the best and the one `latest` names.
    func retained(_ complete: [String], marks m: CheckpointMarks) -> Set<String> {
        var keep = Set(complete.suffix(config.keepLast))
        let stable = Set(m.stable)
        keep.formUnion(complete.filter { stable.contains($0) }.suffix(config.keepStable))
        if let b = m.best { keep.insert(b) }
        if let p = latestPointer() { keep.insert(p) }
        return keep
    }

    private func requireListed(_ name: String, op: String) throws {
        guard list().contains(where: { $0.name == name && $0.sequence != nil }) else {
            throw StrataError.config(op, "no complete checkpoint named '\(name)' in \(root.path)")
        }
    }
}

extension CheckpointStore {
    /// Letters, digits, '.', '_', '-'; not starting with '.' or '-'; at most 128 characters.
    static func isPlainName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, s.unicodeScalars.count <= 128 else { return false }
        let ok = { (c: Unicode.Scalar) in c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || "._-".unicodeScalars.contains(c)) }
        return first != "." && first != "-" && s.unicodeScalars.allSatisfy(ok)
    }

    static func checkName(_ name: String, op: String) throws {
        guard isPlainName(name), !reservedNames.contains(name) else {
            throw StrataError.config(op, "invalid checkpoint name '\(name)'",
                                     fix: "use letters, digits, '.', '_' and '-' (e.g. step-0000100), not 'latest' or 'marks.json'")
        }
    }

    static func checkFileNames(_ names: [String], op: String) throws {
        guard !names.isEmpty else { throw StrataError.config(op, "a checkpoint needs at least one file") }
        var seen = Set<String>()
        for n in names {
            guard isPlainName(n), n != manifestName else {
                throw StrataError.config(op, "invalid file name '\(n)'", fix: "use a plain name such as model.safetensors (not manifest.json)")
            }
            guard seen.insert(n).inserted else { throw StrataError.config(op, "file '\(n)' is listed twice") }
        }
    }

    static func makeDirectory(_ url: URL, op: String) throws {
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw StrataError.io(op, "cannot create directory \(url.path): \(error.localizedDescription)")
        }
    }
}
