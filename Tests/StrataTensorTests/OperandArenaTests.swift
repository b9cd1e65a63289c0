// The operand arena (OperandArena.swift): blocks are aligned and disjoint, freed
// blocks merge with free neighbours so a freed chunk can hold one block of its
// full size again, freed space is reused lowest address first (so the pages ever
// touched stay near the largest set alive at once), an oversized request gets a
// chunk of its own, and large bf16 buffers come from the shared arena and keep
// their values.

import XCTest
@testable import StrataTensor

final class OperandArenaTests: XCTestCase {
    private let chunk = 1 << 20

    func testBlocksAreAlignedDisjointAndKeepWhatIsWrittenInThem() {
        let arena = OperandArena(chunkBytes: chunk)
        let sizes = [100, 64, 4_097, 70_000, 1, 333_333]
        let blocks = sizes.map { (arena.allocate($0), $0) }
        for (i, (p, n)) in blocks.enumerated() {
            XCTAssertEqual(Int(bitPattern: p) % OperandArena.alignment, 0, "block \(i) is 64-byte aligned")
            p.initializeMemory(as: UInt8.self, repeating: UInt8(i + 1), count: n)
        }
        for (i, (p, n)) in blocks.enumerated() {
            let bytes = UnsafeBufferPointer(start: p.assumingMemoryBound(to: UInt8.self), count: n)
            XCTAssertTrue(bytes.allSatisfy { $0 == UInt8(i + 1) }, "block \(i) was not overwritten by another")
        }
        XCTAssertEqual(arena.currentStats.liveBytes, sizes.map(OperandArena.rounded).reduce(0, +))
        for (p, n) in blocks { arena.deallocate(p, bytes: n) }
        XCTAssertEqual(arena.currentStats.liveBytes, 0)
        XCTAssertEqual(arena.currentStats.mappedBytes, chunk, "everything fitted one chunk")
    }

    func testFreedNeighboursMergeSoTheWholeChunkFitsOneBlockAgain() {
        let arena = OperandArena(chunkBytes: chunk)
        let quarter = chunk / 4
        let q = (0..<4).map { _ in arena.allocate(quarter) }
        // Free in an order that needs merging on both sides: 1, 3, then 2 (joins 1 and 3), then 0.
        for i in [1, 3, 2, 0] { arena.deallocate(q[i], bytes: quarter) }
        let whole = arena.allocate(chunk)
        XCTAssertEqual(whole, q[0], "the four freed quarters merged back into the chunk's one free block")
        XCTAssertEqual(arena.currentStats.mappedBytes, chunk, "no second chunk was mapped")
        arena.deallocate(whole, bytes: chunk)
    }

    func testFreedSpaceIsReusedLowestAddressFirst() {
        let arena = OperandArena(chunkBytes: chunk)
        let a = arena.allocate(100_000), b = arena.allocate(100_000), c = arena.allocate(100_000)
        arena.deallocate(a, bytes: 100_000)
        arena.deallocate(c, bytes: 100_000)
        XCTAssertEqual(arena.allocate(50_000), a, "the lowest hole that fits is taken")
        let touched = arena.currentStats.touchedBytes
        _ = arena.allocate(100_000)
        XCTAssertEqual(arena.currentStats.touchedBytes, touched, "c's freed space was reused, no new pages touched")
        _ = b
    }

    func testARequestLargerThanAChunkGetsAMappingOfItsOwn() {
        let arena = OperandArena(chunkBytes: chunk)
        let small = arena.allocate(1_000)
        let big = arena.allocate(3 * chunk + 5)
        XCTAssertGreaterThanOrEqual(arena.currentStats.mappedBytes, chunk + 3 * chunk + 5)
        arena.deallocate(big, bytes: 3 * chunk + 5)
        arena.deallocate(small, bytes: 1_000)
        XCTAssertEqual(arena.currentStats.liveBytes, 0)
        XCTAssertEqual(arena.currentStats.peakLiveBytes, OperandArena.rounded(1_000) + OperandArena.rounded(3 * chunk + 5))
    }

    func testLargeBF16BuffersComeFromTheSharedArenaAndNarrowCorrectly() {
        let count = BF16Buffer.arenaMinimumBytes   // twice the arena's minimum in bytes
        let src = (0..<count).map { Float($0 % 1_000) * 0.37 - 100 }
        let before = OperandArena.shared.currentStats.liveBytes
        do {
            let buf = src.withUnsafeBufferPointer { BF16Buffer(narrowing: $0.baseAddress!, count: count) }
            XCTAssertEqual(OperandArena.shared.currentStats.liveBytes - before, OperandArena.rounded(2 * count),
                           "a large buffer is carved from the shared arena")
            for i in stride(from: 0, to: count, by: 977) { XCTAssertEqual(buf.ptr[i], BF16.bits(src[i]), "value \(i)") }
            let small = BF16Buffer(count: 100)
            XCTAssertEqual(OperandArena.shared.currentStats.liveBytes - before, OperandArena.rounded(2 * count),
                           "a small buffer comes from the heap")
            _ = small
        }
        XCTAssertEqual(OperandArena.shared.currentStats.liveBytes, before, "freed with the buffer")
    }
}
