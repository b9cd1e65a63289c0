// Test helpers: a byte-level TokenEncoder (ids 0...255 are bytes, 256 is
// end-of-text) and a scratch directory per test. Leaves out: anything BPE.

import Foundation
import XCTest
@testable import StrataData
import StrataCore

struct ByteEncoder: TokenEncoder {
    var vocabSize = 257
    var eosID: Int? = 256
    var hash: String { "bytes-\(vocabSize)" }
    func encodeBatch(_ texts: [String]) -> [[Int]] { texts.map { $0.utf8.map { Int($0) } } }
}

/// Write a shard holding `tokens` and open it.
func makeShard(_ tokens: [Int], vocab: Int = 1000, at dir: URL, name: String = "s.bin") throws -> Shard {
    let url = dir.appendingPathComponent(name)
    let w = try ShardWriter(url: url, vocabSize: vocab)
    try w.append(tokens)
    try w.finish()
    return try Shard(contentsOf: url)
}

