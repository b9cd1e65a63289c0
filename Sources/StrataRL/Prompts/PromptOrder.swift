// Which prompts each step samples, without state: the dataset is shuffled once
// per epoch with a seed derived from (seed, epoch), and step s takes the
// batch at positions s·B ..< (s+1)·B of the concatenated epochs. A resumed
// run therefore draws the same prompts at the same step with nothing saved
// but the step. Leaves out: weighting prompts, curricula, filtering.

import Foundation
import StrataCore

public struct PromptOrder: Codable, Equatable, Sendable {
    public let count: Int
    public let seed: UInt64

    /// Throws when there are no prompts.
    public init(count: Int, seed: UInt64) throws {
        guard count > 0 else { throw StrataError.data("prompt order", "no prompts", fix: "give a prompt file with at least one record") }
        self.count = count
        self.seed = seed
    }

    /// Dataset indices of step `step`'s batch of `batchSize` prompts (wrapping into the next epoch's order).
    public func indices(step: Int, batchSize: Int) -> [Int] {
        precondition(step >= 0 && batchSize >= 0, "PromptOrder.indices: step and batch size must be non-negative")
        var out: [Int] = []
        out.reserveCapacity(batchSize)
        var position = step * batchSize, epoch = -1, perm: [Int] = []
        while out.count < batchSize {
            let e = position / count
            if e != epoch { epoch = e; perm = permutation(epoch: e) }
            out.append(perm[position % count])
            position += 1
        }
        return out
    }

    /// The shuffled order of epoch `epoch`.
    public func permutation(epoch: Int) -> [Int] {
        var rng = StrataRNG(seed: RolloutConfig.mix(seed &+ 0x5DEE_CE66_D &* UInt64(epoch + 1)))
        var p = Array(0..<count)
        rng.shuffle(&p)
        return p
    }

    /// The epoch (0-based) that step `step`'s first prompt belongs to.
    public func epoch(step: Int, batchSize: Int) -> Int { step * batchSize / count }
}
