// Lineage: how a checkpoint came to be. A lineage file holds the whole ancestry
// chain, oldest stage first: for each stage its checkpoint, parent (by id and
// content hash, or random init), data (with hashes and token counts), resolved
// recipe, compute (this stage and cumulative), evaluations and events. Each new
// checkpoint copies its parent's chain and appends one entry.
// Leaves out: rendering (Lineage+Render.swift), signing.

import Foundation
import StrataRL
import StrataCore

/// The full ancestry of one checkpoint.
public struct Lineage: Codable, Equatable, Sendable {
    /// File format tag.
    public var format = Lineage.formatTag
    /// Stages, oldest first; the last entry describes the checkpoint this file belongs to.
    public var entries: [LineageEntry]

    public static let formatTag = "strata-lineage/1"
    public static let fileName = "lineage.json"

    public init(entries: [LineageEntry] = []) {
        self.entries = entries
    }

    /// The newest stage (the checkpoint's own), if any.
    public var head: LineageEntry? { entries.last }

    /// This chain with `entry` appended: its parent must be the current head's checkpoint
    /// (or, for an empty chain, anything), and its cumulative compute is the parent's plus its own.
    public func appending(_ entry: LineageEntry) throws -> Lineage {
        var e = entry
        if let head {
            guard case let .checkpoint(id, _) = e.parent, id == head.checkpointID else {
                throw StrataError.config("append lineage", "stage '\(e.stage.rawValue)' names parent \(e.parent.summary), "
                                         + "but the chain ends at checkpoint '\(head.checkpointID)'",
                                         fix: "start the stage from the checkpoint whose lineage is being extended")
            }
        }
        e.compute.accumulate(onto: head?.compute)
        var out = self
        out.entries.append(e)
        return out
    }

    /// Checks the chain: parents link up and cumulative compute adds up.
    public func validate(file: String = Lineage.fileName) throws {
        guard format == Lineage.formatTag else {
            throw StrataError.format("read \(file)", "format is '\(format)', expected '\(Lineage.formatTag)'")
        }
        for (i, e) in entries.enumerated() where i > 0 {
            let prev = entries[i - 1]
            guard case let .checkpoint(id, _) = e.parent, id == prev.checkpointID else {
                throw StrataError.format("read \(file)", "entries[\(i)] (\(e.stage.rawValue)) names parent \(e.parent.summary), "
                                         + "but entries[\(i - 1)] is checkpoint '\(prev.checkpointID)'")
            }
            var expected = e.compute
            expected.accumulate(onto: prev.compute)
            if expected.cumulativeTokens != e.compute.cumulativeTokens {
                throw StrataError.format("read \(file)", "entries[\(i)].compute.cumulative_tokens is \(e.compute.cumulativeTokens), "
                                         + "expected \(expected.cumulativeTokens) (parent's plus this stage's)")
            }
        }
    }

    public static func read(at url: URL) throws -> Lineage {
        let l = try StrataJSON.read(Lineage.self, at: url)
        try l.validate(file: url.path)
        return l
    }

    public func write(to url: URL) throws {
        do {
            try StrataJSON.encode(self).write(to: url, options: .atomic)
        } catch let e as StrataError {
            throw e
        } catch {
            throw StrataError.io("write \(url.path)", error.localizedDescription)
        }
    }
}

/// One stage of training.
public struct LineageEntry: Codable, Equatable, Sendable {
    public var stage: Stage
    /// The checkpoint this stage produced.
    public var checkpointID: String
    public var parent: ParentRef
    /// The frozen reference model a stage was anchored to (DPO), when it had one.
    public var reference: ParentRef?
    /// The reward sources an RL stage (GRPO, PPO) scored replies with; absent for other stages and in older files.
    public var rewardSources: [RewardSourceIdentity]?
    public var data: [DataRecord]
    /// The stage's resolved recipe.
    public var recipe: JSONValue
    public var compute: ComputeRecord
    /// Evaluation name → metric name → value.
    public var evaluations: [String: [String: Double]]
    public var events: [TrainingEvent]
    /// ISO 8601 UTC time the checkpoint was written.
    public var created: String

    public init(stage: Stage, checkpointID: String, parent: ParentRef, data: [DataRecord] = [], recipe: JSONValue = .null,
                compute: ComputeRecord, evaluations: [String: [String: Double]] = [:], events: [TrainingEvent] = [],
                created: String = LineageEntry.timestamp(Date())) {
        self.stage = stage
        self.checkpointID = checkpointID
        self.parent = parent
        self.data = data
        self.recipe = recipe
        self.compute = compute
        self.evaluations = evaluations
        self.events = events
        self.created = created
    }

    enum CodingKeys: String, CodingKey {
        case stage, checkpointID = "checkpoint_id", parent, reference, rewardSources = "reward_sources", data, recipe, compute, evaluations, events, created
    }

    /// ISO 8601 UTC, seconds precision.
    public static func timestamp(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.timeZone = TimeZone(identifier: "UTC")
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }
}

/// A training stage name. Open-ended: new stages need no change here.
public struct Stage: RawRepresentable, Codable, Hashable, Sendable, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }

    public static let pretrain: Stage = "pretrain"
    public static let `continue`: Stage = "continue"
    public static let anneal: Stage = "anneal"
    public static let sft: Stage = "sft"
    public static let reward: Stage = "reward"
    public static let dpo: Stage = "dpo"
    public static let ppo: Stage = "ppo"
    public static let grpo: Stage = "grpo"
    public static let `import`: Stage = "import"

    public init(from decoder: Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}

/// Where a stage started: random initialisation, or a checkpoint identified by id and content hash.
public enum ParentRef: Codable, Equatable, Sendable {
    case randomInit
    case checkpoint(id: String, sha256: String)

    static let randomInitText = "random init"

    public var summary: String {
        switch self {
        case .randomInit: return "random initialisation"
        case let .checkpoint(id, sha): return "checkpoint '\(id)' (sha256 \(sha.prefix(12)))"
        }
    }

    enum CodingKeys: String, CodingKey { case id, sha256 }

    public init(from decoder: Decoder) throws {
        if let s = try? decoder.singleValueContainer().decode(String.self) {
            guard s == ParentRef.randomInitText else {
                throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                        debugDescription: "expected \"random init\" or {id, sha256}, got \"\(s)\""))
            }
            self = .randomInit
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self = .checkpoint(id: try c.decode(String.self, forKey: .id), sha256: try c.decode(String.self, forKey: .sha256))
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .randomInit:
            var c = encoder.singleValueContainer()
            try c.encode(ParentRef.randomInitText)
        case let .checkpoint(id, sha):
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(sha, forKey: .sha256)
        }
    }
}

/// One data source a stage trained on.
public struct DataRecord: Codable, Equatable, Sendable {
    public var name: String
    public var path: String
    public var sha256: String
    /// Tokens of this source the stage consumed.
    public var tokens: Int

    public init(name: String, path: String, sha256: String, tokens: Int) {
        self.name = name
        self.path = path
        self.sha256 = sha256
        self.tokens = tokens
    }
}

/// Compute of one stage and of the whole ancestry up to and including it.
public struct ComputeRecord: Codable, Equatable, Sendable {
    public var flops: Double
    public var wallSeconds: Double
    public var tokens: Int
    public var cumulativeFLOPs: Double
    public var cumulativeWallSeconds: Double
    public var cumulativeTokens: Int
    /// Processes that trained this stage together (data parallel over MPI); absent for one process.
    public var worldSize: Int?

    /// A stage's own compute; cumulative figures start equal to it until `accumulate(onto:)`.
    public init(flops: Double, wallSeconds: Double, tokens: Int) {
        self.flops = flops
        self.wallSeconds = wallSeconds
        self.tokens = tokens
        cumulativeFLOPs = flops
        cumulativeWallSeconds = wallSeconds
        cumulativeTokens = tokens
    }

    /// Sets the cumulative figures to the parent's cumulative plus this stage's.
    public mutating func accumulate(onto parent: ComputeRecord?) {
        cumulativeFLOPs = (parent?.cumulativeFLOPs ?? 0) + flops
        cumulativeWallSeconds = (parent?.cumulativeWallSeconds ?? 0) + wallSeconds
        cumulativeTokens = (parent?.cumulativeTokens ?? 0) + tokens
    }

    enum CodingKeys: String, CodingKey {
        case flops, wallSeconds = "wall_seconds", tokens, cumulativeFLOPs = "cumulative_flops"
        case cumulativeWallSeconds = "cumulative_wall_seconds", cumulativeTokens = "cumulative_tokens", worldSize = "world_size"
    }
}

/// Something notable during a stage.
public struct TrainingEvent: Codable, Equatable, Sendable {
    public var step: Int
    public var kind: Kind
    public var detail: String

    public init(step: Int, kind: Kind, detail: String) {
        self.step = step
        self.kind = kind
        self.detail = detail
    }

    /// Event kinds; open-ended like Stage.
    public struct Kind: RawRepresentable, Codable, Hashable, Sendable, ExpressibleByStringLiteral {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(stringLiteral value: String) { rawValue = value }
        public static let spike: Kind = "spike"
        public static let rollback: Kind = "rollback"
        public static let interrupt: Kind = "interrupt"
        public static let resume: Kind = "resume"
        /// Data a stage could not use (too long, bad lines).
        public static let data: Kind = "data"
        /// Epochs in the recipe resolved into steps.
        public static let epochs: Kind = "epochs"
        /// Tokens added to the tokenizer (chat templates).
        public static let vocabulary: Kind = "vocabulary"
        /// A step whose batches carried no trained position (no update).
        public static let emptyBatch: Kind = "empty_batch"
        /// A setting the recipe decided over the starting checkpoint's (e.g. dropout).
        public static let config: Kind = "config"
        /// A finished run extended with more steps on resume.
        public static let extended: Kind = "extended"
        /// A run resumed after its recipe.yaml was edited, accepted explicitly.
        public static let recipeEdited: Kind = "recipe_edited"
        /// The processes a stage trains on (data parallel over MPI), and a change of their number on resume.
        public static let worldSize: Kind = "world_size"

        public init(from decoder: Decoder) throws { rawValue = try decoder.singleValueContainer().decode(String.self) }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(rawValue)
        }
    }
}
