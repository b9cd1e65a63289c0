// The recipe's `data` section: named sources with a fixed mixture weight or a
// weight schedule over steps, and how validation data is held out. Also the
// pure mixture arithmetic (weight of a source at a step, normalised mixture).
// Leaves out: reading the sources (StrataData does that).

import Foundation

/// Training data: a weighted mixture of sources plus a validation split.
public struct DataConfig: Codable, RecipeSection, Equatable, Sendable {
    public var sources: [DataSource] = []
    public var validation = ValidationSplit()

    public init() {}

    public init(sources: [DataSource] = [], validation: ValidationSplit = ValidationSplit()) {
        self.sources = sources
        self.validation = validation
    }

    enum CodingKeys: String, RecipeKey {
        case sources, validation

        var help: String {
            switch self {
            case .sources: return "The sources to mix; a run needs at least one (SFT and preference recipes none)."
            case .validation: return "How validation data is held out."
            }
        }
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
public struct DataSource: Codable, RecipeSection, Equatable, Sendable {
    public var name: String
    public var path: String
    public var weight: Double?
    public var schedule: [WeightKeypoint]?
    public var interpolation: Interpolation = .linear

    static let requiredKeys: Set<String> = ["name", "path"]

    init() { self.init(name: "", path: "") }

    public init(name: String, path: String, weight: Double? = nil, schedule: [WeightKeypoint]? = nil,
                interpolation: Interpolation = .linear) {
        self.name = name
        self.path = path
        self.weight = weight
        self.schedule = schedule
        self.interpolation = interpolation
    }

    enum CodingKeys: String, RecipeKey {
        case name, path, weight, schedule, interpolation

        var help: String {
            switch self {
            case .name: return "Short name used in logs, metrics (val_loss per source) and lineage."
            case .path: return "A token shard, or a .txt / .jsonl text file (tokenized on first use)."
            case .weight: return "Fixed mixture weight (relative; weights need not sum to 1); absent means 1 unless schedule is set."
            case .schedule: return "Weight keypoints over steps, instead of a fixed weight."
            case .interpolation: return "How the schedule moves between keypoints."
            }
        }
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
public struct WeightKeypoint: Codable, RecipeSection, Equatable, Sendable {
    public var step: Int
    public var weight: Double

    static let requiredKeys: Set<String> = ["step", "weight"]

    init() { self.init(step: 0, weight: 0) }

    public init(step: Int, weight: Double) {
        self.step = step
        self.weight = weight
    }

    enum CodingKeys: String, RecipeKey {
        case step, weight

        var help: String {
            switch self {
            case .step: return "Optimizer step at which the weight applies."
            case .weight: return "Relative weight at that step."
            }
        }
    }
}

/// How a weight schedule moves between keypoints.
public enum Interpolation: String, RecipeChoice {
    /// Straight line between neighbouring keypoints.
    case linear
    /// Hold each keypoint's weight until the next keypoint.
    case piecewise
}

/// Held-out validation data: a fraction of every source, or a separate shard.
public struct ValidationSplit: Codable, RecipeSection, Equatable, Sendable {
    public var fraction: Double?
    public var shard: String?

    public init() {}

    public init(fraction: Double? = nil, shard: String? = nil) {
        self.fraction = fraction
        self.shard = shard
    }

    enum CodingKeys: String, RecipeKey {
        case fraction, shard

        var help: String {
            switch self {
            case .fraction: return "Fraction of each source's documents held out; absent means 0.01, or 0 when shard is set."
            case .shard: return "A separate validation shard or text file instead of held-out fractions."
            }
        }
    }

    /// The fraction actually held out from each source.
    public var effectiveFraction: Double { fraction ?? (shard == nil ? 0.01 : 0) }
}
