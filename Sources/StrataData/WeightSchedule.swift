// A mixture weight as a function of the training step: keypoints (step, weight)
// held piecewise-constant ("step") or linearly interpolated ("linear"), clamped
// before the first and after the last keypoint. Codable; a bare number decodes
// as a constant weight, so recipes can write `weight: 0.3`.
// Leaves out: cosine or other curve shapes (approximate them with keypoints).

import StrataCore

public struct WeightSchedule: Codable, Equatable, Sendable {
    public enum Interpolation: String, Codable, Sendable {
        /// The weight of the last keypoint at or before the step.
        case step
        /// Straight lines between keypoints.
        case linear
    }

    public struct Keypoint: Codable, Equatable, Sendable {
        public var step: Int
        public var weight: Double
        public init(step: Int, weight: Double) { self.step = step; self.weight = weight }
    }

    public var interpolation: Interpolation
    public var keypoints: [Keypoint]

    public init(_ keypoints: [Keypoint], interpolation: Interpolation = .linear) {
        self.keypoints = keypoints
        self.interpolation = interpolation
    }

    /// Keypoints as (step, weight) pairs.
    public init(_ pairs: [(Int, Double)], interpolation: Interpolation = .linear) {
        self.init(pairs.map { Keypoint(step: $0.0, weight: $0.1) }, interpolation: interpolation)
    }

    public static func constant(_ weight: Double) -> WeightSchedule {
        WeightSchedule([Keypoint(step: 0, weight: weight)], interpolation: .step)
    }

    /// Check keypoints are present, strictly increasing in step, finite and non-negative.
    public func validate(name: String) throws {
        let op = "weight schedule for '\(name)'"
        guard !keypoints.isEmpty else {
            throw StrataError.config(op, "has no keypoints", fix: "give at least one {step, weight} keypoint or a constant number")
        }
        for (i, k) in keypoints.enumerated() {
            guard k.weight.isFinite, k.weight >= 0 else {
                throw StrataError.config(op, "keypoint \(i) has weight \(k.weight)", fix: "weights must be finite and ≥ 0")
            }
            guard k.step >= 0 else {
                throw StrataError.config(op, "keypoint \(i) has negative step \(k.step)")
            }
            if i > 0, k.step <= keypoints[i - 1].step {
                throw StrataError.config(op, "keypoint steps must increase strictly; keypoint \(i) has step \(k.step) after \(keypoints[i - 1].step)",
                                         fix: "sort the keypoints by step and remove duplicates")
            }
        }
    }

    /// The weight at `step` (keypoints assumed valid).
    public func weight(at step: Int) -> Double {
        guard let first = keypoints.first, let last = keypoints.last else { return 0 }
        if step <= first.step { return first.weight }
        if step >= last.step { return last.weight }
        // Last keypoint with k.step <= step (binary search).
        var lo = 0, hi = keypoints.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if keypoints[mid].step <= step { lo = mid } else { hi = mid - 1 }
        }
        let a = keypoints[lo]
        guard interpolation == .linear, lo + 1 < keypoints.count else { return a.weight }
        let b = keypoints[lo + 1]
        let t = Double(step - a.step) / Double(b.step - a.step)
        return a.weight + (b.weight - a.weight) * t
    }

    private enum CodingKeys: String, CodingKey { case interpolation, keypoints }

    public init(from decoder: Decoder) throws {
        if let single = try? decoder.singleValueContainer(), let w = try? single.decode(Double.self) {
            self = .constant(w)
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        interpolation = try c.decodeIfPresent(Interpolation.self, forKey: .interpolation) ?? .linear
        keypoints = try c.decode([Keypoint].self, forKey: .keypoints)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(interpolation, forKey: .interpolation)
        try c.encode(keypoints, forKey: .keypoints)
    }
}
