// Validation loss per source: equals the mean loss over the shard's first windows
// computed by hand, caps the window count, and refuses unusable shards.

import XCTest
import StrataCore
import StrataTensor
import StrataModel
import StrataData
@testable import StrataEval
import StrataTestSupport

final class ValidationLossTests: XCTestCase {
    func writeShard(_ tokens: [Int], vocab: Int, name: String) throws -> Shard {
        let url = try scratchDirectory(name).appendingPathComponent("s.bin")
        let w = try ShardWriter(url: url, vocabSize: vocab)
        try w.append(tokens)
        try w.finish()
        return try Shard(contentsOf: url)
    }

    func testLossIsTheMeanOverTheFirstWindows() throws {
        var rng = StrataRNG(seed: 4)
        let tokens = (0..<200).map { _ in rng.int(below: 40) }
        let shard = try writeShard(tokens, vocab: 40, name: "mean")
        let model = tinyModel(seed: 2, positions: 16, vocab: 40)
        let r = try ValidationLoss.evaluate(model: model, shard: shard, name: "g", config: .init(windows: 5, context: 12, batch: 2))
        var sum = 0.0
        for w in 0..<5 {
            let win = tokens[(w * 12)..<(w * 12 + 13)].map(Int32.init)
            sum += Double(model.loss(Array(win.dropLast()), targets: Array(win.dropFirst()), batch: 1, time: 12, tape: .noGrad()).item())
        }
        XCTAssertEqual(r.loss, sum / 5, accuracy: 1e-5)
        XCTAssertEqual(r.perplexity, exp(r.loss), accuracy: 1e-9)
        XCTAssertEqual(r.tokens, 60)
        XCTAssertEqual(r.windows, 5)
        // Fewer windows than asked when the shard is short; default context is n_positions.
        let all = try ValidationLoss.evaluate(model: model, shard: shard, name: "g", config: .init(windows: 1000))
        XCTAssertEqual(all.windows, 199 / 16)
        XCTAssertEqual(all.context, 16)
        let again = try ValidationLoss.evaluate(model: model, shard: shard, name: "g", config: .init(windows: 1000, batch: 5))
        XCTAssertEqual(all.loss, again.loss, accuracy: 1e-6, "batching does not change the loss")
        XCTAssertEqual(ValidationLoss.combined([r, all])!, (r.loss * 60 + all.loss * Double(all.tokens)) / Double(60 + all.tokens), accuracy: 1e-12)
    }

    func testUnusableShardsAreRefused() throws {
        let model = tinyModel(seed: 2, positions: 16, vocab: 40)
        let short = try writeShard(Array(0..<10), vocab: 40, name: "short")
        assertThrowsStrataError(try ValidationLoss.evaluate(model: model, shard: short, name: "tiny")) {
            XCTAssertTrue($0.message.contains("one window needs context + 1 = 17"), $0.description)
            XCTAssertTrue($0.operation.contains("'tiny'"), $0.description)
        }
        let wide = try writeShard(Array(0..<100), vocab: 100, name: "wide")
        assertThrowsStrataError(try ValidationLoss.evaluate(model: model, shard: wide, name: "w")) {
            XCTAssertTrue($0.message.contains("vocabulary of 100"), $0.description)
        }
        assertThrowsStrataError(try ValidationLoss.evaluate(model: model, shard: short, name: "c", config: .init(context: 64))) {
            XCTAssertEqual($0.kind, .config)
        }
    }
}
