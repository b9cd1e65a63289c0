// Shared helpers for the tokenizer tests: fixture loading through Bundle.module,
// a small tokenizer trained once on the committed parity corpus, and seeded
// random text. Leaves out: any test logic.

import Foundation
import StrataCore
@testable import StrataTokenizer

enum Fixtures {
    static func url(_ name: String) -> URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!.appendingPathComponent(name)
    }

    static func data(_ name: String) -> Data { FileManager.default.contents(atPath: url(name).path)! }

    static func inputs() throws -> [String] { try JSONDecoder().decode([String].self, from: data("parity_inputs.json")) }

    struct Expected: Decodable {
        let special: [[Int]]
        let plain: [[Int]]
    }

    static func expected(_ name: String) throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: data(name + ".expected.json"))
    }

    static func corpus() throws -> [String] { try TextSource.read([url("parity_corpus.txt")]).texts }

    /// A tokenizer trained once on the corpus (vocab 500, GPT-2 pattern).
    static let small: BPETokenizer = {
        let docs = try! corpus()
        return try! BPETokenizer.train(texts: docs, config: BPETrainer.Config(vocabSize: 500))
    }()
}

enum RandomText {
    static let pool: [String] = Array("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789.,;:!?'\"()[]{}<>-_=+*/\\|@#$%^&~`").map(String.init)
        + [" ", " ", " ", "  ", "\t", "\n", "\r\n", "\r", "\u{a0}", "\u{3000}", "\u{2028}", "\u{85}", "\u{b}", "'s", "'re", "'ll", "'T", "'D", "ſ"]
        + Array("éüñøßçαβγдж日本語中文한국").map(String.init)
        + ["😀", "🍕", "👩‍💻", "\u{301}", "٣", "½", "Ⅻ", "²", "<|endoftext|>", "𝔘", "𠀀"]

    static func string(_ rng: inout StrataRNG, maxPieces: Int = 40) -> String {
        var s = ""
        for _ in 0..<(1 + rng.int(below: maxPieces)) { s += pool[rng.int(below: pool.count)] }
        return s
    }
}
