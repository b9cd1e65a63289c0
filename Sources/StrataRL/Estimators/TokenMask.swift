// TokenMask: which positions of a [B, T] grid are completion tokens. Every RL
// quantity (log-probs, values, rewards, advantages, KL) is a flat row-major
// [B, T] array of Float laid out on the same grid as a ResponseBatch: position t
// of row b holds the quantity of the token ids[b, t+1] predicted there, and the
// mask is on where targets[b, t] != -100. Prompt and padding positions are off.
// The checks here (counts, finite values at active positions) are shared by the
// estimators and losses, so bad input is a thrown StrataError naming the field.
// Leaves out: left padding and packed rows (positions are per row, contiguous).

import StrataCore
import StrataModel
import StrataTensor

public struct TokenMask: Sendable, Equatable {
    public let rows: Int
    public let time: Int
    /// [rows · time], row-major; true at completion tokens.
    public let active: [Bool]
    /// Active tokens per row.
    public let rowCounts: [Int]

    public init(rows: Int, time: Int, active: [Bool]) throws {
        guard rows > 0, time > 0, active.count == rows * time else {
            throw StrataError.shape("TokenMask", "\(active.count) flags for rows=\(rows), time=\(time)",
                                    fix: "give rows·time flags (rows, time > 0)")
        }
        self.init(checked: rows, time, active)
    }

    /// The completion positions of a ResponseBatch (targets that are not -100); its shape is already valid.
    public init(_ batch: ResponseBatch) {
        self.init(checked: batch.rows, batch.time, batch.targets.map { $0 != -100 })
    }

    private init(checked rows: Int, _ time: Int, _ active: [Bool]) {
        self.rows = rows; self.time = time; self.active = active
        rowCounts = (0..<rows).map { r in (0..<time).reduce(0) { $0 + (active[r * time + $1] ? 1 : 0) } }
    }

    public var count: Int { rows * time }
    /// Active tokens in the whole grid.
    public var tokenCount: Int { rowCounts.reduce(0, +) }
    /// Rows with at least one active token.
    public var sequenceCount: Int { rowCounts.filter { $0 > 0 }.count }

    /// The last active position of `row` (where the sequence score is placed), nil for an empty row.
    public func lastActive(row: Int) -> Int? {
        (0..<time).last { active[row * time + $0] }
    }

    /// Rows `range` as their own mask (a micro-batch of this grid).
    public func rows(_ range: Range<Int>) throws -> TokenMask {
        guard range.lowerBound >= 0, range.upperBound <= rows, !range.isEmpty else {
            throw StrataError.shape("TokenMask.rows", "rows \(range) of a \(rows)-row mask", fix: "pick a non-empty range inside 0..<\(rows)")
        }
        return try TokenMask(rows: range.count, time: time, active: Array(active[(range.lowerBound * time)..<(range.upperBound * time)]))
    }

    /// The entries of a per-token array [rows, time] that belong to rows `range` (a micro-batch's share).
    public func rows(_ range: Range<Int>, of values: [Float]) throws -> [Float] {
        try check(values, "values", "TokenMask.rows(of:)")
        _ = try rows(range)
        return Array(values[(range.lowerBound * time)..<(range.upperBound * time)])
    }

    /// This mask with every token of the flagged rows turned off (`rows` flags, e.g. truncated completions for
    /// TRL's mask_truncated_completions): those rows then add nothing to any loss or token count.
    public func turningOff(rows off: [Bool]) throws -> TokenMask {
        guard off.count == rows else {
            throw StrataError.shape("TokenMask.turningOff", "\(off.count) row flags for \(rows) rows", fix: "give one flag per row")
        }
        return TokenMask(checked: rows, time, active.indices.map { active[$0] && !off[$0 / time] })
    }

    /// Throws unless `values` has one entry per grid position and is finite wherever the mask is on.
    func check(_ values: [Float], _ field: String, _ op: String) throws {
        guard values.count == count else {
            throw StrataError.shape(op, "\(field) has \(values.count) values for a [\(rows), \(time)] mask",
                                    fix: "give \(field) one value per position (rows·time, row-major)")
        }
        if let i = values.indices.first(where: { active[$0] && !values[$0].isFinite }) {
            throw StrataError(.numeric, op, "\(field) is \(values[i]) at row \(i / time) position \(i % time)",
                              fix: "find where the non-finite value came from (log-probs of a zero-probability token, a diverged value head)")
        }
    }

    /// Throws unless `tensor` has shape [rows, time].
    func check(_ tensor: Tensor, _ field: String, _ op: String) throws {
        guard tensor.shape == [rows, time] else {
            throw StrataError.shape(op, "\(field) has shape \(tensor.shape), the mask is [\(rows), \(time)]",
                                    fix: "give \(field) as a [rows, time] tensor on the mask's grid")
        }
        try check(tensor.toArray(), field, op)
    }
}
