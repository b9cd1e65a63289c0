// The recipe's `data` section: named sources with a fixed mixture weight or a
// weight schedule over steps, and how validation data is held out. Also the
// pure mixture arithmetic (weight of a source at a step, normalised mixture).
// Leaves out: reading the sources (StrataData does that).

import Foundation

/// Training data: a weighted mixture of sources plus a validation split.
public struct DataConfig: Codable, Equatable, Sendable {
    /// The sources to mix. Default: none (a run needs at least one).
    public var sources: [DataSource] = []
    /// How validation data is chosen.
    public var validation = ValidationSplit()

    public init(sources: [DataSource] = [], validation: ValidationSplit = ValidationSplit()) {
        self.sources = sources
        self.validation = validation
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case sources, validation }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.fill(&sources, .sources)
        try c.fill(&validation, .validation)
    }

    /// Each source's share of the batch at `step` (sums to 1; all zero only if every weight is zero).
    public func mixture(at step: Int) -> [Double] {
        let w = sources.map { $0.weight(at: step) }
        let total = w.reduce(0, +)
        return total > 0 ? w.map { $0 / total } : w
    }

    /// Steps where some source's weight curve bends; the mixture is linear (or constant) between them.
    public var scheduleBreakpoints: [Int] {
        var steps: Set<Int> = [0]
        for s in sources { for k in s.schedule ?? [] { steps.insert(k.step) } }
        return steps.sorted()
    }
}

/// One data source.
public struct DataSource: Codable, Equatable, Sendable {
    /// Short name used in logs, metrics (`val_loss` per source) and lineage. Required.
    public var name: String
    /// A token shard file, or a .txt / .jsonl text file (tokenized on first use). Required.
    public var path: String
    /// Fixed mixture weight (relative; weights need not sum to 1). Default 1.0 when there is no schedule.
    public var weight: Double?
    /// Weight keypoints over steps, instead of a fixed weight. Default: none.
    public var schedule: [WeightKeypoint]?
    /// How the schedule moves between keypoints. Default `linear`.
    public var interpolation: Interpolation = .linear

    public init(name: String, path: String, weight: Double? = nil, schedule: [WeightKeypoint]? = nil,
                interpolation: Interpolation = .linear) {
        self.name = name
        self.path = path
        self.weight = weight
        self.schedule = schedule
        self.interpolation = interpolation
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case name, path, weight, schedule, interpolation }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        path = try c.decode(String.self, forKey: .path)
        try c.fill(&weight, .weight)
        try c.fill(&schedule, .schedule)
        try c.fill(&interpolation, .interpolation)
    }

    /// The source's (unnormalised) weight at `step`. Before the first keypoint the
    /// first weight holds, after the last the last weight holds.
    public func weight(at step: Int) -> Double {
        guard let points = schedule, let first = points.first, let last = points.last else { return weight ?? 1.0 }
        if step <= first.step { return first.weight }
        if step >= last.step { return last.weight }
        guard let hi = points.firstIndex(where: { $0.step > step }), hi > 0 else { return last.weight }
        let a = points[hi - 1], b = points[hi]
        switch interpolation {
        case .piecewise:
            return a.weight
        case .linear:
            let t = Double(step - a.step) / Double(b.step - a.step)
            return a.weight + (b.weight - a.weight) * t
        }
    }
}

/// A (step, weight) point of a weight schedule.
public struct WeightKeypoint: Codable, Equatable, Sendable {
    /// Optimizer step at which the weight applies. Required.
    public var step: Int
    /// Relative weight at that step. Required.
    public var weight: Double

    public init(step: Int, weight: Double) {
        self.step = step
        self.weight = weight
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case step, weight }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        step = try c.decode(Int.self, forKey: .step)
        weight = try c.decode(Double.self, forKey: .weight)
    }
}

/// How a weight schedule moves between keypoints.
public enum Interpolation: String, RecipeChoice {
    /// Straight line between neighbouring keypoints.
    case linear
    /// Hold each keypoint's weight until the next keypoint.
    case piecewise

    public init(from decoder: Decoder) throws { self = try Self.decodeChoice(from: decoder) }
}

/// Held-out validation data: a fraction of every source, or a separate shard.
public struct ValidationSplit: Codable, Equatable, Sendable {
    /// Fraction of each source's documents held out. Default 0.01, or 0 when `shard` is set.
    public var fraction: Double?
    /// A separate validation shard or text file instead of held-out fractions. Default: none.
    public var shard: String?

    public init(fraction: Double? = nil, shard: String? = nil) {
        self.fraction = fraction
        self.shard = shard
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case fraction, shard }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        try c.fill(&fraction, .fraction)
        try c.fill(&shard, .shard)
    }

    /// The fraction actually held out from each source.
    public var effectiveFraction: Double { fraction ?? (shard == nil ? 0.01 : 0) }
}
