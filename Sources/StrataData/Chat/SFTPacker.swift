// Packs rendered SFT samples into fixed-length rows of T tokens without mixing
// attention between samples: each row carries positions that restart at 0 per
// sample and, per position, the row index where its sample starts (the first
// key it may attend to). Best-fit packing or one sample per row (padding).
// Samples longer than T are dropped and counted, never truncated.
// Leaves out: shuffling (callers shuffle with StrataRNG first) and batching rows.

import Foundation
import StrataCore

/// One training row of length T.
public struct PackedRow: Codable, Sendable, Equatable {
    public var ids: [Int32]
    /// Next-token targets; -100 on padding and untrained positions.
    public var targets: [Int32]
    /// Position within the sample (restarts at 0 at each sample; 0 on padding).
    public var positions: [Int32]
    /// Index within the row of the first token of the position's sample; a padding position
    /// points at itself, so it attends only to itself.
    public var docStart: [Int32]
    /// Number of samples in the row.
    public var sampleCount: Int
    /// Positions holding sample tokens (the rest, at the end, is padding).
    public var used: Int
}

public struct PackResult: Sendable, Equatable {
    public var rows: [PackedRow]
    /// Samples longer than the row length, dropped.
    public var droppedTooLong: Int
    /// Non-padding positions over all positions (1 when there are no rows).
    public var usefulShare: Double
    /// Positions with a loss over all positions.
    public var trainedShare: Double
}

public enum SFTPacker {
    public enum Mode: String, Codable, Sendable, CaseIterable {
        /// Several samples per row (best fit, in input order among equals).
        case pack
        /// One sample per row, the rest padding.
        case pad
    }

    /// Arrange `samples` into rows of `rowLength` tokens, padding ids with `padID`.
    public static func arrange(_ samples: [RenderedSample], rowLength: Int, mode: Mode,
                               padID: Int32) throws -> PackResult {
        guard rowLength > 0 else {
            throw StrataError.config("pack SFT samples", "row length \(rowLength) is not positive",
                                     fix: "use a sequence length of at least 1")
        }
        let kept = samples.filter { $0.count > 0 && $0.count <= rowLength }
        let dropped = samples.filter { $0.count > rowLength }.count
        let groups = mode == .pad ? kept.indices.map { [$0] } : bestFit(kept.map(\.count), capacity: rowLength)
        let rows = groups.map { row($0.map { kept[$0] }, rowLength: rowLength, padID: padID) }
        let total = Double(rows.count * rowLength)
        let useful = Double(kept.reduce(0) { $0 + $1.count })
        let trained = Double(kept.reduce(0) { $0 + $1.trainedCount })
        return PackResult(rows: rows, droppedTooLong: dropped,
                          usefulShare: rows.isEmpty ? 1 : useful / total,
                          trainedShare: rows.isEmpty ? 0 : trained / total)
    }

    /// Best-fit: each sample (in order) goes to the open row with the least room that holds it,
    /// lowest row index among equals; a new row when none does. Returns sample indices per row.
    static func bestFit(_ lengths: [Int], capacity: Int) -> [[Int]] {
        var rows: [[Int]] = []
        var byFree: [[Int]] = Array(repeating: [], count: capacity + 1)   // free room → rows (ascending)
        var free: [Int] = []
        for (i, len) in lengths.enumerated() {
            var target: Int?
            if len <= capacity {
                for room in len...capacity where !byFree[room].isEmpty {
                    target = byFree[room].removeFirst()
                    break
                }
            }
            let r: Int
            if let target { r = target } else {
                r = rows.count
                rows.append([])
                free.append(capacity)
            }
            rows[r].append(i)
            free[r] -= len
            insertSorted(r, into: &byFree[free[r]])
        }
        return rows
    }

    private static func insertSorted(_ r: Int, into list: inout [Int]) {
        var lo = 0, hi = list.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if list[mid] < r { lo = mid + 1 } else { hi = mid }
        }
        list.insert(r, at: lo)
    }

    /// Lay samples out one after another, then pad.
    static func row(_ samples: [RenderedSample], rowLength: Int, padID: Int32) -> PackedRow {
        var ids: [Int32] = [], targets: [Int32] = [], positions: [Int32] = [], starts: [Int32] = []
        ids.reserveCapacity(rowLength)
        for s in samples {
            let start = Int32(ids.count)
            ids += s.ids
            targets += s.targets
            positions += (0..<s.count).map { Int32($0) }
            starts += Array(repeating: start, count: s.count)
        }
        let used = ids.count, pad = rowLength - used
        starts += (ids.count..<rowLength).map { Int32($0) }
        ids += Array(repeating: padID, count: pad)
        targets += Array(repeating: RenderedSample.ignoreIndex, count: pad)
        positions += Array(repeating: 0, count: pad)
        return PackedRow(ids: ids, targets: targets, positions: positions, docStart: starts, sampleCount: samples.count, used: used)
    }
}
