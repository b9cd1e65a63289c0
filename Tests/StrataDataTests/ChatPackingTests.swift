// Tests for SFT packing and padding: a hand-computed best-fit layout, the
// invariants on random samples (positions restart, docStart correct, no sample
// split, long samples dropped and counted) and the useful-token share.
// Leaves out: the attention op that consumes docStart (model target).

import Foundation
import XCTest
@testable import StrataData
import StrataCore
import StrataTestSupport

final class ChatPackingTests: XCTestCase {
    /// Sample k of length n: ids k*1000+j, targets trained on odd positions.
    private func sample(_ k: Int, _ n: Int) -> RenderedSample {
        RenderedSample(ids: (0..<n).map { Int32(k * 1000 + $0) },
                       targets: (0..<n).map { $0 % 2 == 1 ? Int32(k * 1000 + $0 + 1) : -100 })
    }

    func testHandComputedBestFit() throws {
        let samples = [sample(0, 5), sample(1, 3), sample(2, 4), sample(3, 9), sample(4, 2)]
        let r = try SFTPacker.arrange(samples, rowLength: 8, mode: .pack, padID: -1)
        XCTAssertEqual(r.droppedTooLong, 1)
        XCTAssertEqual(r.rows.count, 2)
        XCTAssertEqual(r.rows[0].ids, [0, 1, 2, 3, 4, 1000, 1001, 1002])
        XCTAssertEqual(r.rows[0].positions, [0, 1, 2, 3, 4, 0, 1, 2])
        XCTAssertEqual(r.rows[0].docStart, [0, 0, 0, 0, 0, 5, 5, 5])
        XCTAssertEqual(r.rows[1].ids, [2000, 2001, 2002, 2003, 4000, 4001, -1, -1])
        XCTAssertEqual(r.rows[1].positions, [0, 1, 2, 3, 0, 1, 0, 0])
        XCTAssertEqual(r.rows[1].docStart, [0, 0, 0, 0, 4, 4, 6, 7])
        XCTAssertEqual(r.rows[1].targets.suffix(2), [-100, -100])
        XCTAssertEqual(r.rows.map(\.sampleCount), [2, 2])
        XCTAssertEqual(r.usefulShare, 14.0 / 16.0, accuracy: 1e-12)
        // Trained: floor(n/2) per sample = 2 + 1 + 2 + 1 = 6.
        XCTAssertEqual(r.trainedShare, 6.0 / 16.0, accuracy: 1e-12)

        let p = try SFTPacker.arrange(samples, rowLength: 8, mode: .pad, padID: -1)
        XCTAssertEqual(p.rows.count, 4)
        XCTAssertEqual(p.droppedTooLong, 1)
        XCTAssertEqual(p.usefulShare, 14.0 / 32.0, accuracy: 1e-12)
        XCTAssertEqual(p.rows[3].ids, [4000, 4001, -1, -1, -1, -1, -1, -1])
        XCTAssertGreaterThan(r.usefulShare, p.usefulShare)
    }

    func testInvariantsOnRandomSamples() throws {
        var rng = StrataRNG(seed: 11)
        let T = 32
        let samples = (0..<200).map { sample($0, 1 + rng.int(below: 40)) }
        let longCount = samples.filter { $0.count > T }.count
        XCTAssertGreaterThan(longCount, 0)
        for mode in SFTPacker.Mode.allCases {
            let r = try SFTPacker.arrange(samples, rowLength: T, mode: mode, padID: -7)
            XCTAssertEqual(r.droppedTooLong, longCount)
            var seen: [Int: Int] = [:]   // sample → length found
            var useful = 0
            for row in r.rows {
                XCTAssertEqual([row.ids.count, row.targets.count, row.positions.count, row.docStart.count], [T, T, T, T])
                var count = 0
                for i in 0..<T {
                    let start = Int(row.docStart[i])
                    XCTAssertLessThanOrEqual(start, i)
                    if row.ids[i] == -7 {
                        XCTAssertEqual(start, i, "padding attends only to itself")
                        XCTAssertEqual(row.targets[i], -100)
                        continue
                    }
                    useful += 1
                    XCTAssertEqual(Int(row.positions[i]), i - start)
                    let k = Int(row.ids[i]) / 1000
                    XCTAssertEqual(Int(row.ids[start]) / 1000, k, "docStart points into the same sample")
                    XCTAssertEqual(Int(row.ids[i]) % 1000, i - start, "sample laid out contiguously from its start")
                    if row.positions[i] == 0 {
                        count += 1
                        XCTAssertNil(seen[k], "sample \(k) appears once")
                        seen[k] = samples[k].count
                    }
                    XCTAssertEqual(row.targets[i], samples[k].targets[i - start])
                }
                XCTAssertEqual(count, row.sampleCount)
                if mode == .pad { XCTAssertEqual(row.sampleCount, 1) }
            }
            // Every kept sample appears whole (its last token present at position n-1).
            let kept = samples.indices.filter { samples[$0].count <= T }
            XCTAssertEqual(Set(seen.keys), Set(kept))
            XCTAssertEqual(useful, kept.reduce(0) { $0 + samples[$1].count })
            XCTAssertEqual(r.usefulShare, Double(useful) / Double(r.rows.count * T), accuracy: 1e-12)
        }
    }

    func testEdgeCases() throws {
        let r = try SFTPacker.arrange([], rowLength: 4, mode: .pack, padID: 0)
        XCTAssertTrue(r.rows.isEmpty)
        XCTAssertEqual(r.usefulShare, 1)
        let exact = try SFTPacker.arrange([sample(0, 4)], rowLength: 4, mode: .pack, padID: 0)
        XCTAssertEqual(exact.rows.count, 1)
        XCTAssertEqual(exact.usefulShare, 1)
        assertStrataError(try SFTPacker.arrange([sample(0, 1)], rowLength: 0, mode: .pad, padID: 0),
                          kind: .config, contains: ["row length 0"])
    }

    func testRenderedDatasetPacks() throws {
        let tok = ChatTokenizer(encode: { $0.utf8.map { Int($0) } },
                                specialID: { ["<|im_start|>": 300, "<|im_end|>": 301][$0] }, endOfText: 256, tokenBytes: { _ in 1 })
        let convs: [Conversation] = [.text("abc"), .promptCompletion("q", "a"),
                                     .chat([ChatMessage(.user, "u"), ChatMessage(.assistant, "v")])]
        let rendered = try SFTDataset(conversations: convs).render(.chatML, tok)
        XCTAssertEqual(rendered[0], try ChatTemplate.chatML.render(convs[0], tok))
        let r = try SFTPacker.arrange(rendered, rowLength: 32, mode: .pack, padID: 256)
        XCTAssertEqual(r.droppedTooLong, 0)
        XCTAssertEqual(r.rows.reduce(0) { $0 + $1.sampleCount }, 3)
        XCTAssertEqual(r.rows.flatMap(\.targets).filter { $0 != -100 }.count, rendered.reduce(0) { $0 + $1.trainedCount })
    }
}

final class SFTLoaderTests: XCTestCase {
    func samples(_ n: Int) -> [RenderedSample] {
        (0..<n).map { (i: Int) -> RenderedSample in
            let len = 3 + i % 5
            let ids: [Int32] = (0..<len).map { Int32($0 + i) }
            let targets: [Int32] = (0..<len).map { Int32($0) }
            return RenderedSample(ids: ids, targets: targets)
        }
    }

    func testEpochsReshuffleAndRestoringStateReplaysExactly() throws {
        var a = try SFTLoader(samples: samples(23), batch: 3, rowLength: 12, mode: .pack, padID: 0, seed: 5)
        let rowsPerEpoch = a.rowsPerEpoch
        var seen: [[PackedRow]] = []
        for _ in 0..<10 { seen.append(a.next()) }
        XCTAssertGreaterThan(a.state.cursors[0].epoch, 0, "ten batches of 3 run past one epoch of \(rowsPerEpoch) rows")
        XCTAssertNotEqual(a.rows(epoch: 0).map(\.ids), a.rows(epoch: 1).map(\.ids), "each epoch has its own order")
        var b = try SFTLoader(samples: samples(23), batch: 3, rowLength: 12, mode: .pack, padID: 0, seed: 5)
        for _ in 0..<4 { _ = b.next() }
        let c = try SFTLoader(samples: samples(23), batch: 3, rowLength: 12, mode: .pack, padID: 0, seed: 5, state: b.state)
        var d = c
        for i in 4..<10 { XCTAssertEqual(d.next(), seen[i]) }
        // Every sample appears exactly once per epoch.
        let epoch0 = a.rows(epoch: 0).reduce(0) { $0 + $1.sampleCount }
        XCTAssertEqual(epoch0, 23)
    }

    func testRefusesMismatchedStateAndOversizedSamples() throws {
        let a = try SFTLoader(samples: samples(10), batch: 2, rowLength: 12, mode: .pad, padID: 0, seed: 1)
        XCTAssertThrowsError(try SFTLoader(samples: samples(11), batch: 2, rowLength: 12, mode: .pad, padID: 0, seed: 1, state: a.state))
        XCTAssertThrowsError(try SFTLoader(samples: samples(10), batch: 2, rowLength: 4, mode: .pad, padID: 0, seed: 1))
        XCTAssertThrowsError(try SFTLoader(samples: [], batch: 2, rowLength: 12, mode: .pad, padID: 0, seed: 1))
    }
}
