// Summary of a batch of rollouts for the per-step metrics: completion lengths
// (mean, min, max, and over replies that ended on their own) and the share cut
// off by the token budget, under the names TRL logs. Leaves out: reward,
// KL and entropy statistics (the stages compute those).

import Foundation

public struct RolloutStats: Codable, Equatable, Sendable {
    public var count: Int
    public var meanLength: Double
    public var minLength: Int
    public var maxLength: Int
    /// Mean length of replies that ended with end-of-turn (0 when none did).
    public var meanTerminatedLength: Double
    /// Share of replies cut off by max_new_tokens (TRL: completions/clipped_ratio).
    public var truncatedShare: Double

    public init(_ rollouts: [Rollout]) {
        count = rollouts.count
        let lengths = rollouts.map(\.completionLength)
        meanLength = lengths.isEmpty ? 0 : Double(lengths.reduce(0, +)) / Double(lengths.count)
        minLength = lengths.min() ?? 0
        maxLength = lengths.max() ?? 0
        let done = rollouts.filter { !$0.isTruncated }.map(\.completionLength)
        meanTerminatedLength = done.isEmpty ? 0 : Double(done.reduce(0, +)) / Double(done.count)
        truncatedShare = rollouts.isEmpty ? 0 : Double(rollouts.count - done.count) / Double(rollouts.count)
    }

    /// The metrics under TRL's names.
    public func metricsDictionary() -> [String: Double] {
        ["completions/mean_length": meanLength, "completions/min_length": Double(minLength),
         "completions/max_length": Double(maxLength), "completions/mean_terminated_length": meanTerminatedLength,
         "completions/clipped_ratio": truncatedShare]
    }
}
