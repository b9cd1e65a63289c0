// Shard integrity: a shard whose token ids were overwritten (every id set to 0xFFFF, as
// a corrupted `.train.bin`) is refused on open, naming the file, the position and the
// vocabulary; a shard changed after `data prepare` no longer matches its sidecar's hash;
// the vectorised max-scan agrees with a plain max; a full disk is reported in words.
// Leaves out: header violations (ShardTests).

import Foundation
import XCTest
@testable import StrataData
import StrataCore
import StrataTestSupport

final class ShardIntegrityTests: XCTestCase {
    /// Overwrite the token bytes of a shard file from `position` on with `value` (uint16).
    private func corrupt(_ url: URL, from position: Int, with value: UInt16) throws {
        var d = try Data(contentsOf: url)
        for i in stride(from: ShardHeader.byteCount + 2 * position, to: d.count, by: 2) {
            d[i] = UInt8(value & 0xFF); d[i + 1] = UInt8(value >> 8)
        }
        try d.write(to: url)
    }

    func testShardWithIdsBeyondTheVocabularyIsRefusedOnOpen() throws {
        let dir = try scratchDirectory()
        let url = try makeShard(Array(0..<200).map { $0 % 100 }, vocab: 100, at: dir).url
        try corrupt(url, from: 37, with: 0xFFFF)
        assertStrataError(try Shard(contentsOf: url), kind: .format,
                          contains: [url.path, "token 65535 at position 37", "vocabulary size 100", "data prepare"])
    }

    func testChangedShardNoLongerMatchesItsSidecar() throws {
        let dir = try scratchDirectory()
        let tokens = Array(0..<300).map { ($0 * 7) % 50 }
        let url = dir.appendingPathComponent("s.bin")
        let w = try ShardWriter(url: url, vocabSize: 50)
        try w.append(tokens)
        let hash = try w.finish()
        let sidecar = ShardSidecar(shard: "s.bin", split: "train", dtype: .uint16, tokenCount: tokens.count, documentCount: 1,
                                   tokensSHA256: hash, vocabSize: 50, eosID: 0, tokenizerHash: "t", textField: "text",
                                   valFraction: 0, seed: 0, sources: [])
        XCTAssertNoThrow(try Shard(contentsOf: url).verify(against: sidecar))
        try corrupt(url, from: 299, with: 3)  // still a valid id: only the hash can tell
        let changed = try Shard(contentsOf: url)
        assertStrataError(try changed.verify(against: sidecar), kind: .data, contains: [url.path, "sha256", hash, "changed since"])
        var shorter = sidecar
        shorter.tokenCount = 10
        assertStrataError(try changed.verify(against: shorter), kind: .data, contains: ["300 uint16 tokens", "records 10"])
    }

    func testVectorisedMaxMatchesAPlainMax() {
        var rng = StrataRNG(seed: 11)
        for n in [0, 1, 7, 8, 9, 63, 1000] {
            let values = (0..<n).map { _ in UInt16(rng.int(below: 65_536)) }
            let got = values.withUnsafeBufferPointer { Shard.maxLittleEndian($0) }
            XCTAssertEqual(got, values.max() ?? 0, "n=\(n)")
        }
    }

    func testDiskFullIsReportedInWords() {
        let full = NSError(domain: NSCocoaErrorDomain, code: NSFileWriteOutOfSpaceError,
                           userInfo: [NSUnderlyingErrorKey: NSError(domain: NSPOSIXErrorDomain, code: Int(ENOSPC))])
        let e = StrataError.file("write shard /data/x.train.bin", path: "/data/x.train.bin.partial", full)
        XCTAssertTrue(e.description.contains("no space left on the device while writing /data/x.train.bin.partial"), e.description)
        XCTAssertFalse(e.description.contains("640"), e.description)
        XCTAssertEqual(e.fix, "free disk space (or write elsewhere) and run again")
    }
}
