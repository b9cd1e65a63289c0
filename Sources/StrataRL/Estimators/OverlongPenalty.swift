// DAPO's soft overlong punishment (Yu et al. 2025, "overlong reward shaping"),
// as verl's DAPO reward manager applies it: completions that run into the last
// `buffer` tokens before the length limit L lose reward linearly,
//   penalty(n) = min(−(n − (L − buffer)) / buffer · factor, 0)
// so 0 up to L − buffer tokens and −factor at L. Added to the sequence reward
// before group advantages, it tells a truncated completion from a short wrong
// one instead of treating truncation as a plain zero.
// Leaves out: masking truncated completions out of the loss (TokenMask.turningOff).

import StrataCore

public struct OverlongPenalty: Sendable, Equatable, Codable {
    /// L: the most completion tokens a rollout may sample.
    public let maxLength: Int
    /// The width of the soft band before L.
    public let buffer: Int
    /// The penalty at L (verl's penalty_factor, 1 in DAPO).
    public let factor: Float

    public init(maxLength: Int, buffer: Int, factor: Float = 1) throws {
        let op = "OverlongPenalty"
        guard buffer > 0, buffer <= maxLength else {
            throw StrataError.config(op, "overlong buffer = \(buffer) with max completion length \(maxLength)",
                                     fix: "use 0 < buffer ≤ max completion length (DAPO: 4096 of 20480)")
        }
        guard factor >= 0, factor.isFinite else {
            throw StrataError.config(op, "overlong penalty factor = \(factor)", fix: "use a finite factor ≥ 0")
        }
        self.maxLength = maxLength; self.buffer = buffer; self.factor = factor
    }

    /// The penalty (≤ 0) of a completion of `length` tokens.
    public func callAsFunction(length: Int) -> Float {
        let exceed = Float(length - (maxLength - buffer))
        return Swift.min(-exceed / Float(buffer) * factor, 0)
    }
}
