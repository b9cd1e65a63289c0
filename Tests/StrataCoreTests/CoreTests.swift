import XCTest
@testable import StrataCore

final class CoreTests: XCTestCase {
    func testSHA256KnownVectors() {
        XCTAssertEqual(SHA256.hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let long = String(repeating: "a", count: 1_000_000)
        XCTAssertEqual(SHA256.hex(long), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        // Streaming in odd-sized pieces gives the same digest as one update.
        var s = SHA256()
        let bytes = Array("The quick brown fox jumps over the lazy dog".utf8)
        var i = 0
        while i < bytes.count { let n = min(7, bytes.count - i); s.update(Array(bytes[i..<i + n])); i += n }
        XCTAssertEqual(s.hexDigest(), "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592")
    }

    func testRNGIsDeterministicAndUniform() {
        var a = StrataRNG(seed: 42), b = StrataRNG(seed: 42), c = StrataRNG(seed: 43)
        let xa = (0..<100).map { _ in a.next() }, xb = (0..<100).map { _ in b.next() }
        XCTAssertEqual(xa, xb)
        XCTAssertNotEqual(xa, (0..<100).map { _ in c.next() })
        var r = StrataRNG(seed: 1)
        var counts = [Int](repeating: 0, count: 10)
        for _ in 0..<100_000 { counts[r.int(below: 10)] += 1 }
        for n in counts { XCTAssertEqual(Double(n), 10_000, accuracy: 500) }
        var sum: Double = 0, sq: Double = 0
        for _ in 0..<100_000 { let z = Double(r.normal()); sum += z; sq += z * z }
        XCTAssertEqual(sum / 100_000, 0, accuracy: 0.02)
        XCTAssertEqual(sq / 100_000, 1, accuracy: 0.02)
    }

    func testRNGStateRoundTripsThroughCodable() throws {
        var r = StrataRNG(seed: 7)
        _ = r.normal()  // leaves a spare normal cached
        let data = try JSONEncoder().encode(r)
        var restored = try JSONDecoder().decode(StrataRNG.self, from: data)
        XCTAssertEqual(r.normal(), restored.normal())
        XCTAssertEqual(r.next(), restored.next())
    }

    func testParallelRowsCoversEveryIndexOnce() {
        var marks = [Int](repeating: 0, count: 1001)
        marks.withUnsafeMutableBufferPointer { p in
            let box = UnsafeSendableBox(p)
            Parallel.rows(1001) { s, e in for i in s..<e { box.value[i] += 1 } }
        }
        XCTAssertEqual(marks, [Int](repeating: 1, count: 1001))
    }

    /// Parallel.rows runs on OpenMP's team where oneDNN has loaded libgomp: every chunk once, on several threads,
    /// and a loop nested in a chunk (a team of one) still runs every chunk of its own.
    func testOpenMPTeamRunsEveryChunkOnceAndNestedLoopsRunWhole() throws {
        guard dlopen("libgomp.so.1", RTLD_NOW | RTLD_GLOBAL) != nil else {
            return XCTFail("libgomp.so.1 could not be loaded (oneDNN's OpenMP runtime; install libdnnl-dev)")
        }
        XCTAssertNil(OpenMPTeam.load(environment: ["STRATA_PARALLEL": "dispatch"]), "the Dispatch switch is honoured")
        let team = try XCTUnwrap(OpenMPTeam.load(environment: [:]))
        let chunks = 5, inner = 3
        var marks = [Int](repeating: 0, count: chunks * inner), threads = [UInt](repeating: 0, count: chunks)
        marks.withUnsafeMutableBufferPointer { m in
            threads.withUnsafeMutableBufferPointer { t in
                let box = UnsafeSendableBox((m, t))
                team.run(chunks: chunks) { c in
                    box.value.1[c] = UInt(pthread_self())
                    team.run(chunks: inner) { i in box.value.0[c * inner + i] += 1 }
                }
            }
        }
        XCTAssertEqual(marks, [Int](repeating: 1, count: chunks * inner))
        XCTAssertGreaterThan(Set(threads).count, 1, "the chunks ran on more than one thread")
    }
}

final class ThreadBudgetTests: XCTestCase {
    func testRanksOnOneMachineShareItsCoresAndSTRATA_THREADSOverrides() {
        XCTAssertEqual(ThreadBudget(environment: [:], cores: 2).threads, 2)
        XCTAssertEqual(ThreadBudget(environment: ["OMPI_COMM_WORLD_LOCAL_SIZE": "2"], cores: 2).threads, 1)
        XCTAssertEqual(ThreadBudget(environment: ["OMPI_COMM_WORLD_LOCAL_SIZE": "4"], cores: 2).threads, 1, "never below one")
        XCTAssertEqual(ThreadBudget(environment: ["OMPI_COMM_WORLD_LOCAL_SIZE": "2"], cores: 16).threads, 8)
        XCTAssertEqual(ThreadBudget(environment: ["OMPI_COMM_WORLD_LOCAL_SIZE": "2", "STRATA_THREADS": "3"], cores: 16).threads, 3)
        XCTAssertEqual(ThreadBudget(environment: ["STRATA_THREADS": "zero"], cores: 4).threads, 4, "an unreadable value is ignored")
    }
}
