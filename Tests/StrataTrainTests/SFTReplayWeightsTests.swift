// Replay inside SFT with per-file weights (sft.replay.weights): each file gives
// its share of the replayed pieces, a file with too few pieces repeats them, and
// recipes with a weight per path that does not match, or with no usable weight,
// are refused naming the key; through replayPieces, a file repeats its pieces to
// fill its share and an empty one is refused naming it.

import XCTest
import StrataCore
import StrataData
import StrataTokenizer
import StrataEval
@testable import StrataTrain
import StrataTestSupport

final class SFTReplayWeightsTests: XCTestCase {
    func pieces(_ file: Int, _ count: Int) -> [(file: Int, sample: RenderedSample)] {
        (0..<count).map { i in (file, RenderedSample(tokens: [file * 1000 + i, 1], trained: [true, true])) }
    }

    func testEachFileGivesItsShareAndASmallFileRepeatsItsPieces() {
        var rng = StrataRNG(seed: 1)
        let all = pieces(0, 500) + pieces(1, 40)   // a large corpus and a small one, as before- and after-cutoff text
        let chosen = SFTData.weighted(all, weights: [1, 1], wanted: 300, &rng)
        XCTAssertEqual(chosen.count, 300)
        XCTAssertEqual(chosen.filter { $0.file == 0 }.count, 150)
        let small = chosen.filter { $0.file == 1 }.map { $0.sample.ids }
        XCTAssertEqual(small.count, 150, "the small file gives half although it has 40 pieces")
        XCTAssertEqual(Set(small.map { $0[0] }).count, 40, "every piece of it used, repeated")
        XCTAssertEqual(Set(chosen.filter { $0.file == 0 }.map { $0.sample.ids[0] }).count, 150, "the large one repeats none")
        XCTAssertNotEqual(chosen.prefix(150).map { $0.file }, Array(repeating: 0, count: 150), "the files are shuffled together")
    }

    func testAZeroWeightLeavesAFileOutAndWeightsAreNormalised() {
        var rng = StrataRNG(seed: 2)
        let chosen = SFTData.weighted(pieces(0, 50) + pieces(1, 50) + pieces(2, 50), weights: [0, 3, 1], wanted: 80, &rng)
        XCTAssertEqual(chosen.filter { $0.file == 0 }.count, 0)
        XCTAssertEqual(chosen.filter { $0.file == 1 }.count, 60)
        XCTAssertEqual(chosen.filter { $0.file == 2 }.count, 20)
    }

    func testWeightsThatDoNotMatchThePathsAreRefusedNamingTheKey() throws {
        let yaml = """
        model: {n_layer: 1, n_head: 1, n_embd: 8}
        train: {batch_size: 2, context: 16, steps: 2}
        optim: {warmup_steps: 0}
        sft:
          train: chats.jsonl
          replay: {paths: [a.jsonl, b.jsonl], fraction: 0.5, weights: [1]}
        """
        for (weights, words) in [("[1]", "1 weights for 2 paths"), ("[0, 0]", "not all zero"), ("[1, -1]", "non-negative")] {
            XCTAssertThrowsError(try RecipeLoader.load(yaml: yaml.replacingOccurrences(of: "weights: [1]", with: "weights: \(weights)"),
                                                       stage: .sft)) { error in
                XCTAssertTrue("\(error)".contains("sft.replay.weights"), "\(error)")
                XCTAssertTrue("\(error)".contains(words), "\(error)")
            }
        }
        let ok = try RecipeLoader.load(yaml: yaml.replacingOccurrences(of: "weights: [1]", with: "weights: [0.7, 0.3]"), stage: .sft)
        XCTAssertEqual(ok.sft?.replay?.weights, [0.7, 0.3])
        let none = try RecipeLoader.load(yaml: yaml, overrides: ["sft.replay.paths=[a.jsonl]", "sft.replay.weights=null"], stage: .sft)
        XCTAssertNil(none.sft?.replay?.weights, "the demo's sft-base override clears them")
    }

    func testReplayFromFilesRepeatsAFilesPiecesToItsShareAndRefusesAnEmptyFile() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("StrataTokenizerTests/Fixtures/chatml_render.tokenizer.json")
        let (tok, _) = try BPETokenizer(contentsOf: fixtures).addingSpecialTokens(ChatTemplate.chatML.specialTokens)
        let chat = try InstructionEval.chatTokenizer(tok)
        let dir = try scratchDirectory()
        let text = dir.appendingPathComponent("text.jsonl"), news = dir.appendingPathComponent("news.jsonl")
        try (0..<20).map { "{\"text\": \"Old text number \($0) about the river and the mill.\"}\n" }.joined()
            .write(to: text, atomically: true, encoding: .utf8)
        try "{\"text\": \"News: the mill moved north.\"}\n".write(to: news, atomically: true, encoding: .utf8)
        var replay = SFTReplaySection()
        replay.paths = [text.path, news.path]
        replay.weights = [1, 1]
        let (pieces, records) = try SFTData.replayPieces(replay, conversations: 10, template: .chatML, chat: chat, rowLength: 64)
        XCTAssertEqual(pieces.count, 10)
        let newsPiece = pieces.min { $0.count < $1.count }!
        XCTAssertEqual(pieces.filter { $0 == newsPiece }.count, 5, "the one news piece repeated to half the replay")
        XCTAssertEqual(records[1].tokens, 5 * newsPiece.count)
        XCTAssertEqual(records.map(\.tokens).reduce(0, +), pieces.reduce(0) { $0 + $1.count })

        let empty = dir.appendingPathComponent("empty.jsonl")
        try "\n".write(to: empty, atomically: true, encoding: .utf8)
        replay.paths = [text.path, empty.path]
        XCTAssertThrowsError(try SFTData.replayPieces(replay, conversations: 10, template: .chatML, chat: chat, rowLength: 64)) { error in
            XCTAssertTrue("\(error)".contains("empty.jsonl"), "\(error)")
        }
    }
}
