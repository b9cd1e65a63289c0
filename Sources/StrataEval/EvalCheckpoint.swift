// What evaluation needs to know about a checkpoint directory beyond its weights:
// its label and parent (from lineage.json, read leniently since only three
// fields matter here), where its parent lives on disk, the data it was trained
// on (to find the probes.jsonl next to it), and its run's validation shards.
// Layout assumed for discovery: <runs>/<run>/checkpoints/<step>, checkpoint ids
// "<run>/<step>", shards in <runs>/<run>/data/<source>.val.bin.
// Leaves out: lineage validation (StrataTrain owns the lineage format).

import Foundation
import StrataCore
import StrataModel
import StrataTokenizer

public struct EvalCheckpoint {
    public var url: URL
    public var model: any CausalLM
    public var tokenizer: BPETokenizer
    /// The checkpoint id from lineage.json, or the directory's last two path components.
    public var label: String
    /// The parent checkpoint's id, when the lineage names one.
    public var parentID: String?
    /// Data paths of every lineage stage, newest stage first.
    public var dataPaths: [String]

    /// Load model.safetensors, config.json, tokenizer.json and (if present) lineage.json from `directory`.
    public static func load(_ directory: URL) throws -> EvalCheckpoint {
        let fm = FileManager.default
        for f in ["config.json", "model.safetensors", "tokenizer.json"] where !fm.fileExists(atPath: directory.appendingPathComponent(f).path) {
            throw StrataError.io("load checkpoint \(directory.path)", "\(f) is missing",
                                 fix: "pass a checkpoint directory (model.safetensors, config.json, tokenizer.json)")
        }
        let model = try loadCausalLM(directory: directory)
        let tokenizer = try BPETokenizer(contentsOf: directory.appendingPathComponent("tokenizer.json"))
        let lineage = try LineageSketch.read(directory.appendingPathComponent("lineage.json"))
        let fallback = directory.pathComponents.suffix(2).joined(separator: "/")
        return EvalCheckpoint(url: directory, model: model, tokenizer: tokenizer, label: lineage?.entries.last?.checkpointID ?? fallback,
                              parentID: lineage?.entries.last?.parent?.id,
                              dataPaths: lineage?.entries.reversed().flatMap { $0.data?.map(\.path) ?? [] } ?? [])
    }

    /// The parent's directory, looked up beside this checkpoint's run (nil if there is no parent or it is not found).
    public func parentDirectory() -> URL? {
        guard let id = parentID else { return nil }
        let parts = id.split(separator: "/").map(String.init)
        var roots: [URL] = []
        var dir = url.deletingLastPathComponent()
        for _ in 0..<4 { roots.append(dir); dir = dir.deletingLastPathComponent() }
        var candidates = roots.map { $0.appendingPathComponent(id) }
        if parts.count == 2 {
            candidates += roots.map { $0.appendingPathComponent(parts[0]).appendingPathComponent("checkpoints").appendingPathComponent(parts[1]) }
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0.appendingPathComponent("model.safetensors").path) }?
            .standardizedFileURL
    }

    /// probes.jsonl in the folder of any data file this checkpoint was trained on (newest stage first).
    public func probeFile() -> URL? {
        for p in dataPaths {
            let candidate = URL(fileURLWithPath: p).deletingLastPathComponent().appendingPathComponent("probes.jsonl")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    /// (source name, shard) for each <source>.val.bin in the data folder of the run that wrote this checkpoint.
    public func runValidationShards() -> [(name: String, url: URL)] {
        let dataDir = url.deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("data")
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dataDir.path)) ?? []
        return files.filter { $0.hasSuffix(".val.bin") }.sorted().map {
            (String($0.dropLast(".val.bin".count)), dataDir.appendingPathComponent($0))
        }
    }
}

/// The parts of lineage.json evaluation reads; everything else is ignored.
struct LineageSketch: Decodable {
    struct Parent: Decodable {
        var id: String?
        enum CodingKeys: String, CodingKey { case id }
        init(from decoder: Decoder) throws {
            id = (try? decoder.container(keyedBy: CodingKeys.self)).flatMap { try? $0.decode(String.self, forKey: .id) }
        }
    }
    struct DataRecord: Decodable { var path: String }
    struct Entry: Decodable {
        var checkpointID: String?
        var parent: Parent?
        var data: [DataRecord]?
        enum CodingKeys: String, CodingKey { case checkpointID = "checkpoint_id", parent, data }
    }
    var entries: [Entry]

    /// nil when the file does not exist.
    static func read(_ url: URL) throws -> LineageSketch? {
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        return try StrataJSON.read(LineageSketch.self, at: url)
    }
}
