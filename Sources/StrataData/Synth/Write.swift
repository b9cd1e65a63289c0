// Writes a generated world to a directory: one JSONL file per corpus
// ({"text": ...} per line), probes.jsonl, qa.jsonl, preferences.jsonl and
// preferences_test.jsonl (TRL explicit-prompt pairs with a "type", from the QA
// train and test splits; see Preferences.swift), attacks.jsonl (safety attack
// families over the held-out harmful requests; Attacks.swift) and world.json, all with sorted
// keys so the same seed gives the same bytes.
// Leaves out: compression, sharding large corpora across files.

import Foundation
import StrataCore

extension SyntheticWorld.Output {
    private struct TextLine: Encodable { var text: String }

    /// Write every file into `directory` (created if missing); returns (file name, bytes) in write order.
    @discardableResult
    public func write(to directory: URL) throws -> [(file: String, bytes: Int)] {
        do { try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true) } catch {
            throw StrataError.file("synth", path: directory.path, error)
        }
        var written: [(file: String, bytes: Int)] = []
        func record(_ name: String) {
            let size = (try? FileManager.default.attributesOfItem(atPath: directory.appendingPathComponent(name).path)[.size]) as? Int
            written.append((name, size ?? 0))
        }
        for c in corpora {
            try JSONLines.write(c.documents.map { TextLine(text: $0) }, to: directory.appendingPathComponent(c.file))
            record(c.file)
        }
        try JSONLines.write(probes, to: directory.appendingPathComponent("probes.jsonl"))
        record("probes.jsonl")
        try JSONLines.write(qa, to: directory.appendingPathComponent("qa.jsonl"))
        record("qa.jsonl")
        let prefs = preferences()
        try PreferenceDataset.write(prefs.train, to: directory.appendingPathComponent("preferences.jsonl"))
        record("preferences.jsonl")
        try PreferenceDataset.write(prefs.test, to: directory.appendingPathComponent("preferences_test.jsonl"))
        record("preferences_test.jsonl")
        try JSONLines.write(attacks(), to: directory.appendingPathComponent("attacks.jsonl"))
        record("attacks.jsonl")
        let url = directory.appendingPathComponent("world.json")
        do { try StrataJSON.encode(world).write(to: url) } catch {
            throw StrataError.file("synth", path: url.path, error)
        }
        record("world.json")
        return written
    }
}
