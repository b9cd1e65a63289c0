// Lineage chains (parent links, cumulative compute, file round trip, summary),
// JSONValue, and the compute estimates.
import XCTest
import StrataCore
import StrataModel
@testable import StrataTrain
import StrataTestSupport

final class LineageTests: XCTestCase {
    func pretrainEntry() throws -> LineageEntry {
        let recipe = try RecipeLoader.load(yaml: baseRecipeYAML)
        return LineageEntry(stage: .pretrain, checkpointID: "ckpt-a", parent: .randomInit,
                            data: [DataRecord(name: "web", path: "data/web.bin", sha256: String(repeating: "ab", count: 32), tokens: 2_000_000)],
                            recipe: try recipe.jsonValue(),
                            compute: ComputeRecord(flops: 1e15, wallSeconds: 3600, tokens: 2_000_000),
                            evaluations: ["val": ["loss": 3.25, "ppl": 25.8]],
                            events: [TrainingEvent(step: 120, kind: .spike, detail: "loss 9.1 is 12σ above the mean"),
                                     TrainingEvent(step: 300, kind: .rollback, detail: "3 spikes within 100 steps")],
                            created: "2025-01-02T03:04:05Z")
    }

    func twoStageChain() throws -> Lineage {
        let anneal = LineageEntry(stage: .anneal, checkpointID: "ckpt-b",
                                  parent: .checkpoint(id: "ckpt-a", sha256: String(repeating: "cd", count: 32)),
                                  compute: ComputeRecord(flops: 2e14, wallSeconds: 600, tokens: 500_000),
                                  created: "2025-01-03T00:00:00Z")
        return try Lineage().appending(try pretrainEntry()).appending(anneal)
    }

    func testCumulativeComputeIsParentPlusStage() throws {
        let l = try twoStageChain()
        XCTAssertEqual(l.entries.count, 2)
        XCTAssertEqual(l.head?.compute.cumulativeTokens, 2_500_000)
        XCTAssertEqual(l.head?.compute.cumulativeFLOPs ?? 0, 1.2e15, accuracy: 1)
        XCTAssertEqual(l.head?.compute.cumulativeWallSeconds, 4200)
        XCTAssertEqual(l.entries[0].compute.cumulativeTokens, 2_000_000)
    }

    func testAppendRejectsWrongParent() throws {
        let l = try Lineage().appending(try pretrainEntry())
        let stray = LineageEntry(stage: .sft, checkpointID: "x", parent: .checkpoint(id: "other", sha256: "00"),
                                 compute: ComputeRecord(flops: 1, wallSeconds: 1, tokens: 1))
        XCTAssertThrowsError(try l.appending(stray)) { e in
            XCTAssertTrue("\(e)".contains("ckpt-a"), "\(e)")
        }
        let fromScratch = LineageEntry(stage: .sft, checkpointID: "y", parent: .randomInit,
                                       compute: ComputeRecord(flops: 1, wallSeconds: 1, tokens: 1))
        XCTAssertThrowsError(try l.appending(fromScratch))
    }

    func testFileRoundTripAndValidation() throws {
        let dir = try scratchDirectory()
        let url = dir.appendingPathComponent(Lineage.fileName)
        let l = try twoStageChain()
        try l.write(to: url)
        XCTAssertEqual(try Lineage.read(at: url), l)
        let text = try String(contentsOf: url, encoding: .utf8)
        XCTAssertTrue(text.contains("\"parent\" : \"random init\""), text)
        XCTAssertTrue(text.contains("\"cumulative_tokens\" : 2500000"), text)

        var broken = l
        broken.entries[1].compute.cumulativeTokens = 1
        try broken.write(to: url)
        XCTAssertThrowsError(try Lineage.read(at: url)) { e in
            XCTAssertTrue("\(e)".contains("entries[1].compute.cumulative_tokens"), "\(e)")
        }
    }

    func testRecipeInsideLineageDecodesBack() throws {
        let e = try pretrainEntry()
        let r = try e.recipe.decode(as: Recipe.self)
        XCTAssertEqual(r, try RecipeLoader.load(yaml: baseRecipeYAML))
    }

    func testSummaryAnswersHowAndFromWhere() throws {
        let md = try twoStageChain().summary()
        XCTAssertTrue(md.contains("## How `ckpt-b` was trained"), md)
        XCTAssertTrue(md.contains("Trained from random initialisation in 2 stages: pretrain → anneal."), md)
        XCTAssertTrue(md.contains("In total 2.50M tokens, 1.20e+15 FLOPs"), md)
        XCTAssertTrue(md.contains("1. **pretrain** → `ckpt-a`"), md)
        XCTAssertTrue(md.contains("web (`data/web.bin`, 2.00M tokens, sha256 abababababab)"), md)
        XCTAssertTrue(md.contains("2 layers × d 16, 2 heads, context 32"), md)
        XCTAssertTrue(md.contains("100 steps"), md)
        XCTAssertTrue(md.contains("evaluation val: loss 3.25, ppl 25.8"), md)
        XCTAssertTrue(md.contains("1 rollback, 1 spike"), md)
        XCTAssertTrue(md.contains("started from: checkpoint 'ckpt-a' (sha256 cdcdcdcdcdcd)"), md)
        XCTAssertEqual(Lineage().summary(), "No training history recorded.\n")
        XCTAssertFalse(md.contains("reference model"), "no stage here had a reference")
        var withRef = try twoStageChain()
        withRef.entries[1].reference = .checkpoint(id: "sft/step-1", sha256: String(repeating: "ef", count: 32))
        XCTAssertTrue(withRef.summary().contains("reference model (frozen): checkpoint 'sft/step-1' (sha256 efefefefefef)"))
        // The reference survives a JSON round trip; files without the key still read.
        let back = try StrataJSON.decode(Lineage.self, from: try StrataJSON.encode(withRef), file: "l.json")
        XCTAssertEqual(back.entries[1].reference, withRef.entries[1].reference)
        XCTAssertNil(try StrataJSON.decode(Lineage.self, from: try StrataJSON.encode(try twoStageChain()), file: "l.json").entries[1].reference)
    }

    func testLongEvaluationsShowHeadlineMetricsInTheSummary() throws {
        var chain = try twoStageChain()
        var metrics: [String: Double] = ["probe_acc.after": 0.5, "probe_acc.before": 0.4, "val_loss.all": 1.2]
        for i in 0..<10 { metrics["probe_count.domain.d\(i)"] = Double(i) }
        chain.entries[1].evaluations["demo_eval"] = metrics
        let md = chain.summary()
        XCTAssertTrue(md.contains("evaluation demo_eval: probe_acc.after 0.5, probe_acc.before 0.4, val_loss.all 1.2 (+10 more in lineage.json)"), md)
    }

    func testJSONValueRoundTrip() throws {
        let v: JSONValue = .object(["a": .array([.number(1), .number(2.5), .null, .bool(true)]), "s": .string("x"),
                                    "o": .object(["n": .number(-3)])])
        let data = try StrataJSON.encode(v, pretty: false)
        XCTAssertEqual(String(decoding: data, as: UTF8.self), #"{"a":[1,2.5,null,true],"o":{"n":-3},"s":"x"}"#)
        XCTAssertEqual(try StrataJSON.decode(JSONValue.self, from: data, file: "v"), v)
        XCTAssertEqual(v.value(at: "o.n")?.intValue, -3)
        XCTAssertNil(v.value(at: "o.missing"))
        XCTAssertEqual(v["a"]?.arrayValue?.count, 4)
    }

    func testParameterCountAndFLOPsHaveOneSource() throws {
        // GPT-2 small (124M): 12 layers, d 768, vocab 50257, 1024 positions — the published count.
        var small = ModelConfig()
        small.nLayer = 12; small.nHead = 12; small.nEmbd = 768; small.nPositions = 1024
        XCTAssertEqual(small.parameterCount(vocab: 50257), 124_439_808)
        let cfg = GPT2Config(vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12)
        XCTAssertEqual(cfg.parameterCount, 124_439_808, "the recipe and the model count the same way")
        // Forward FLOPs per token: 2 × (matmul weights incl. the tied head) + attention's 4·L·T·C.
        let model = GPT2(GPT2Config(vocabSize: 64, nPositions: 16, nEmbd: 8, nLayer: 2, nHead: 2), seed: 0)
        let perLayer: Double = 8 * 24 + 8 * 8 + 2 * 8 * 32        // qkv, projection, MLP up and down (C = 8, 4C = 32)
        let matmul: Double = 2 * perLayer + 64 * 8                  // two layers + the tied head (V = 64)
        let attention: Double = 4 * 2 * 16 * 8                      // 4 · L · T · C
        XCTAssertEqual(model.forwardFlopsPerToken(context: 16), 2 * matmul + attention)
    }
}
