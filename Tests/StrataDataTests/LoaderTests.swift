// Mixture loader tests: windows and shifted targets, resume from a saved state
// reproduces the uninterrupted run, skip equals reading, mixture proportions and
// scheduled weights, per-epoch permutations, multi-shard sources, bad setups.

import Foundation
import XCTest
@testable import StrataData
import StrataCore
import StrataTestSupport

final class LoaderTests: XCTestCase {
    /// Source `i` holds tokens i*10000 + 0..<n, so every token names its source and position.
    private func sources(_ dir: URL, sizes: [Int], weights: [WeightSchedule]) throws -> [MixtureSource] {
        try sizes.enumerated().map { i, n in
            MixtureSource(name: "src\(i)", shard: try makeShard((0..<n).map { i * 10_000 + $0 }, vocab: 60_000, at: dir, name: "s\(i).bin"),
                          weight: weights[i])
        }
    }

    func testSequentialWindowsAndTargets() throws {
        let dir = try scratchDirectory()
        var loader = try MixtureLoader(sources: try sources(dir, sizes: [41], weights: [.constant(1)]),
                                       batch: 2, context: 4, seed: 0, randomWindows: false)
        XCTAssertEqual(loader.windowsPerEpoch(source: 0), 10)
        let b = loader.next()
        XCTAssertEqual(b.inputs, [0, 1, 2, 3, 4, 5, 6, 7])
        XCTAssertEqual(b.targets, [1, 2, 3, 4, 5, 6, 7, 8])
        XCTAssertEqual(b.windowStart, [0, 4])
        for _ in 0..<4 { _ = loader.next() }
        XCTAssertEqual(loader.state.cursors[0].epoch, 1)
        XCTAssertEqual(loader.next().windowStart, [0, 4])
    }

    func testResumeGivesIdenticalBatches() throws {
        let dir = try scratchDirectory()
        let schedules = [WeightSchedule([(0, 1.0), (30, 0.2)]), .constant(0.5), WeightSchedule([(0, 0), (10, 1)], interpolation: .step)]
        let src = try sources(dir, sizes: [300, 257, 140], weights: schedules)
        for random in [true, false] {
            var full = try MixtureLoader(sources: src, batch: 3, context: 8, seed: 11, randomWindows: random)
            let all = (0..<40).map { _ in full.next() }
            var first = try MixtureLoader(sources: src, batch: 3, context: 8, seed: 11, randomWindows: random)
            for _ in 0..<13 { _ = first.next() }
            let saved = try StrataJSON.encode(first.state)
            let state = try StrataJSON.decode(LoaderState.self, from: saved, file: "state.json")
            var resumed = try MixtureLoader(sources: src, restoring: state)
            let rest = (13..<40).map { _ in resumed.next() }
            XCTAssertEqual(rest, Array(all[13...]), "random=\(random)")
            XCTAssertEqual(resumed.state, full.state)
            // Every target is the input's successor in the same source.
            for b in all { for i in b.inputs.indices { XCTAssertEqual(b.targets[i], b.inputs[i] + 1) } }
        }
    }

    func testSkipEqualsReading() throws {
        let dir = try scratchDirectory()
        let src = try sources(dir, sizes: [200, 200], weights: [.constant(1), .constant(3)])
        var a = try MixtureLoader(sources: src, batch: 4, context: 5, seed: 2, randomWindows: true)
        var b = a
        for _ in 0..<17 { _ = a.next() }
        b.skip(batches: 17)
        XCTAssertEqual(a.state, b.state)
        XCTAssertEqual(a.next(), b.next())
    }

    func testMixtureProportionsWithinSamplingError() throws {
        let dir = try scratchDirectory()
        let p = [0.6, 0.3, 0.1]
        let src = try sources(dir, sizes: [500, 500, 500], weights: p.map { .constant($0 * 5) })
        var loader = try MixtureLoader(sources: src, batch: 32, context: 4, seed: 5, randomWindows: true)
        var counts = [0, 0, 0]
        let batches = 300
        for _ in 0..<batches {
            let b = loader.next()
            for (row, s) in b.sourceIndex.enumerated() {
                counts[s] += 1
                XCTAssertEqual(Int(b.inputs[row * 4]) / 10_000, s)   // the row's tokens come from that source
            }
        }
        let n = Double(batches * 32)
        for i in 0..<3 {
            let sigma = (p[i] * (1 - p[i]) / n).squareRoot()
            XCTAssertEqual(Double(counts[i]) / n, p[i], accuracy: 4 * sigma, "source \(i): \(counts)")
        }
    }

    func testScheduledWeightsShiftTheMixture() throws {
        let dir = try scratchDirectory()
        let src = try sources(dir, sizes: [400, 400], weights: [WeightSchedule([(0, 1), (100, 0)]), WeightSchedule([(0, 0), (100, 1)])])
        var loader = try MixtureLoader(sources: src, batch: 16, context: 4, seed: 9, randomWindows: true)
        var early = 0, late = 0, after = 0
        for step in 0..<130 {
            let ones = loader.next().sourceIndex.filter { $0 == 1 }.count
            if step < 10 { early += ones } else if step >= 90 && step < 100 { late += ones } else if step >= 100 { after += ones }
        }
        XCTAssertEqual(loader.weights(at: 25), [0.75, 0.25])
        XCTAssertLessThan(early, 20)          // expected ~ 0.05 * 160 = 8
        XCTAssertGreaterThan(late, 130)       // expected ~ 0.95 * 160 = 152
        XCTAssertEqual(after, 30 * 16)        // weight of source 0 is exactly zero from step 100
    }

    func testRandomWindowsCoverEachEpochOnce() throws {
        let dir = try scratchDirectory()
        let src = try sources(dir, sizes: [4 * 50 + 4], weights: [.constant(1)])
        var loader = try MixtureLoader(sources: src, batch: 5, context: 4, seed: 1, randomWindows: true)
        let perEpoch = loader.windowsPerEpoch(source: 0)
        XCTAssertGreaterThanOrEqual(perEpoch, 50)
        var starts: [Int] = []
        while loader.state.cursors[0].epoch == 0 { starts += loader.next().windowStart }
        let epoch0 = Array(starts.prefix(perEpoch))
        XCTAssertEqual(Set(epoch0).count, perEpoch)
        XCTAssertEqual(Set(epoch0.map { $0 % 4 }).count, 1)      // one offset per epoch
        XCTAssertNotEqual(epoch0, epoch0.sorted())                // shuffled
    }

    func testWindowPermutationIsABijection() {
        for n in [1, 2, 3, 7, 64, 1000] {
            let p = WindowPermutation(count: n, key: 77)
            XCTAssertEqual(Set((0..<n).map { p($0) }), Set(0..<n))
        }
    }

    func testMultiShardSourceReadsAcrossBoundaries() throws {
        let dir = try scratchDirectory()
        let a = try makeShard(Array(0..<10), at: dir, name: "a.bin")
        let b = try makeShard(Array(10..<25), at: dir, name: "b.bin")
        var loader = try MixtureLoader(sources: [MixtureSource(name: "ab", shards: [a, b])], batch: 3, context: 4,
                                       seed: 0, randomWindows: false)
        let batch = loader.next()
        XCTAssertEqual(Array(batch.inputs[8..<12]), [8, 9, 10, 11])
        XCTAssertEqual(Array(batch.targets[8..<12]), [9, 10, 11, 12])
    }

    func testBadSetupsAreRejected() throws {
        let dir = try scratchDirectory()
        let src = try sources(dir, sizes: [50, 50], weights: [.constant(1), .constant(1)])
        assertStrataError(try MixtureLoader(sources: src, batch: 2, context: 50, seed: 0, randomWindows: false),
                          contains: ["src0", "50 tokens", "51"])
        var zero = src
        zero[0].weight = WeightSchedule([(0, 1), (10, 0)])
        zero[1].weight = WeightSchedule([(0, 0), (20, 1)], interpolation: .step)
        assertStrataError(try MixtureLoader(sources: zero, batch: 2, context: 4, seed: 0, randomWindows: false),
                          contains: ["zero at step 10"])
        let loader = try MixtureLoader(sources: src, batch: 2, context: 4, seed: 0, randomWindows: false)
        let swapped = [src[1], src[0]]
        assertStrataError(try MixtureLoader(sources: swapped, restoring: loader.state), contains: ["same order"])
        let other = try sources(try scratchDirectory("other"), sizes: [60, 50], weights: [.constant(1), .constant(1)])
        assertStrataError(try MixtureLoader(sources: other, restoring: loader.state), contains: ["had 50 tokens", "has 60"])
    }
}
