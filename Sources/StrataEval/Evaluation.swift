// Evaluation: the `strata eval` job. Loads a checkpoint and its baseline (given,
// or the parent its lineage names), finds the probes (given, or probes.jsonl next
// to the training data) and the validation shards (given as name=path, or the
// runs' own <source>.val.bin), evaluates both models on the same material, adds
// forgetting to the checkpoint's report, renders the table and writes JSON.
// `evaluate(model:...)` is the in-memory core the training stages call.
// Leaves out: writing results into lineage.json (the training stages do that).

import Foundation
import StrataCore
import StrataModel
import StrataData

public enum Evaluation {
    /// A named validation shard, written "name=path" on the command line.
    public struct DataSpec: Codable, Equatable, Sendable {
        public var name: String
        public var path: String
        public init(name: String, path: String) { self.name = name; self.path = path }

        public static func parse(_ text: String) throws -> DataSpec {
            guard let eq = text.firstIndex(of: "="), eq != text.startIndex, text.index(after: eq) != text.endIndex else {
                throw StrataError.config("eval --data", "'\(text)' is not name=path", fix: "write e.g. --data general=runs/x/data/general.val.bin")
            }
            return DataSpec(name: String(text[..<eq]), path: String(text[text.index(after: eq)...]))
        }
    }

    public struct Config: Sendable {
        /// Checkpoint directory to evaluate.
        public var checkpoint: String
        /// Baseline checkpoint directory; nil uses the parent named in the checkpoint's lineage, if found.
        public var baseline: String? = nil
        /// Whether to look up the parent when no baseline is given.
        public var parentBaseline = true
        /// Probe JSONL; nil uses probes.jsonl beside the checkpoint's training data, if any.
        public var probes: String? = nil
        /// Evaluate at most this many probes (a seeded subset balanced over period × domain); nil = all.
        public var maxProbes: Int? = nil
        public var probeSeed: UInt64 = 0
        /// Validation shards; empty uses <source>.val.bin of the checkpoint's and the baseline's runs.
        public var data: [DataSpec] = []
        public var probe = ProbeEval.Config()
        public var validation = ValidationLoss.Config()
        /// Write the reports (baseline first) as JSON here.
        public var json: String? = nil

        public init(checkpoint: String) { self.checkpoint = checkpoint }
    }

    public struct Outcome {
        /// The baseline's report (if any) first, then the checkpoint's (with forgetting).
        public var reports: [EvalReport]
        public var table: String
    }

    /// Everything measured for one model: probes (if given) and loss per source.
    public static func evaluate(model: any CausalLM, codec: some TextCodec, label: String, checkpoint: String? = nil, probes: [Probe]?,
                                sources: [(name: String, shard: Shard)], probeConfig: ProbeEval.Config = ProbeEval.Config(),
                                validationConfig: ValidationLoss.Config = ValidationLoss.Config()) throws -> EvalReport {
        let probeReport = try probes.map { try ProbeEval.evaluate(model: model, codec: codec, probes: $0, config: probeConfig) }
        let losses = try ValidationLoss.evaluate(model: model, sources: sources, config: validationConfig)
        return EvalReport(label: label, checkpoint: checkpoint, probes: probeReport, validation: losses)
    }

    /// Run the job. `resolve` turns a path into a checkpoint directory (the CLI passes one that also accepts
    /// run directories and verifies manifests); `log` receives progress lines.
    public static func run(_ config: Config, resolve: (String) throws -> URL = { URL(fileURLWithPath: $0).standardizedFileURL },
                           log: (String) -> Void = { Console.line($0) }) throws -> Outcome {
        let target = try EvalCheckpoint.load(try resolve(config.checkpoint))
        var base: EvalCheckpoint?
        if let b = config.baseline {
            base = try EvalCheckpoint.load(try resolve(b))
        } else if config.parentBaseline, target.parentID != nil {
            if let dir = target.parentDirectory() {
                base = try EvalCheckpoint.load(try resolve(dir.path))
            } else {
                log("note: parent checkpoint '\(target.parentID!)' not found beside \(target.url.path); pass --baseline to measure forgetting")
            }
        }
        let probes = try loadProbes(config, target: target, base: base, log: log)
        let sources = try loadShards(config, checkpoints: [target] + (base.map { [$0] } ?? []), log: log)
        guard probes != nil || !sources.isEmpty else {
            throw StrataError.config("eval", "nothing to evaluate: no probe file and no validation shards were given or found",
                                     fix: "pass --probes probes.jsonl and/or --data name=shard.bin")
        }
        var reports: [EvalReport] = []
        for ckpt in (base.map { [$0] } ?? []) + [target] {
            let t0 = Date()
            let report = try evaluate(model: ckpt.model, codec: ckpt.tokenizer, label: ckpt.label, checkpoint: ckpt.url.path,
                                      probes: probes, sources: sources, probeConfig: config.probe, validationConfig: config.validation)
            log(String(format: "evaluated %@ in %.1f s", ckpt.label, Date().timeIntervalSince(t0)))
            reports.append(report)
        }
        if reports.count == 2 { reports[1] = reports[1].comparing(to: reports[0]) }
        if let json = config.json {
            let url = URL(fileURLWithPath: json)
            do { try StrataJSON.encode(reports).write(to: url, options: .atomic) } catch let e as StrataError { throw e } catch {
                throw StrataError.io("write \(url.path)", error.localizedDescription, fix: "check that the directory exists and is writable")
            }
        }
        return Outcome(reports: reports, table: EvalTable.render(reports))
    }

    static func loadProbes(_ config: Config, target: EvalCheckpoint, base: EvalCheckpoint?, log: (String) -> Void) throws -> [Probe]? {
        let url: URL
        if let p = config.probes {
            url = URL(fileURLWithPath: p)
        } else if let found = target.probeFile() ?? base?.probeFile() {
            url = found
        } else {
            log("note: no probe file given or found beside the training data; skipping probes")
            return nil
        }
        let all = try ProbeSet.read(url)
        if let cap = config.maxProbes, cap < 1 {
            throw StrataError.config("eval", "max probes is \(cap)", fix: "pass a positive --max-probes, or leave it out for all")
        }
        let chosen = config.maxProbes.map { ProbeSet.subset(all, limit: $0, seed: config.probeSeed) } ?? all
        log("probes: \(chosen.count) of \(all.count) from \(url.path)")
        return chosen
    }

    static func loadShards(_ config: Config, checkpoints: [EvalCheckpoint], log: (String) -> Void) throws -> [(name: String, shard: Shard)] {
        var specs = config.data.map { ($0.name, URL(fileURLWithPath: $0.path)) }
        if specs.isEmpty {
            for c in checkpoints { for s in c.runValidationShards() where !specs.contains(where: { $0.0 == s.name }) { specs.append(s) } }
            if !specs.isEmpty { log("validation shards: " + specs.map { "\($0.0)=\($0.1.path)" }.joined(separator: " ")) }
        }
        let discovered = config.data.isEmpty
        var seen = Set<String>()
        return try specs.compactMap { name, url in
            guard seen.insert(name).inserted else {
                throw StrataError.config("eval --data", "source name '\(name)' appears twice", fix: "give every shard its own name")
            }
            let shard = try Shard(contentsOf: url)
            for c in checkpoints { try checkTokenizer(shard, name: name, checkpoint: c) }
            // A discovered shard too short for one window is skipped with a note; one the user named is an error later.
            let context = config.validation.context ?? checkpoints.map(\.model.contextLength).min() ?? 1
            if discovered && shard.count < context + 1 {
                log("skipping validation shard \(name): \(shard.count) tokens is too short for one window")
                return nil
            }
            return (name, shard)
        }
    }

    /// A shard whose sidecar names another tokenizer cannot be scored by this checkpoint; one prepared with
    /// the same tokenizer before special tokens were appended (e.g. SFT's chat tokens) can.
    static func checkTokenizer(_ shard: Shard, name: String, checkpoint: EvalCheckpoint) throws {
        guard FileManager.default.fileExists(atPath: shard.sidecarURL.path) else { return }
        let sidecar = try ShardSidecar.read(at: shard.sidecarURL)
        let base = checkpoint.tokenizer.truncatingAddedTokens(toSize: sidecar.vocabSize)
        guard sidecar.tokenizerHash == checkpoint.tokenizer.hash || sidecar.tokenizerHash == base?.hash else {
            throw StrataError.data("eval --data \(name)", "\(shard.url.path) was tokenized with another tokenizer than \(checkpoint.label)'s",
                                   fix: "prepare the shard with the checkpoint's tokenizer.json")
        }
    }
}
