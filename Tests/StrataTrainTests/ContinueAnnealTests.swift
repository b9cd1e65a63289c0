// Continued pretraining and annealing: lineage links stages, the mixture and LR
// follow the recipe, tokenizers cannot silently change, resume stays bit-exact.

import XCTest
import Foundation
import StrataCore
import StrataData
import StrataCheckpoint
@testable import StrataTrain

final class ContinueAnnealTests: WorldTestCase {
    var mixture: String {
        """
            - {name: after, path: \(dir.path)/world/after_cutoff.jsonl, weight: 0.5}
            - {name: replay, path: \(dir.path)/world/before_cutoff.jsonl, weight: 0.5}
        """
    }

    func pretrained(steps: Int = 8) throws -> TrainingCheckpoint.Loaded {
        let out = try Pretrain.run(config(try recipe(name: "base", steps: steps)))
        return try TrainingCheckpoint.load(out.lastCheckpoint!)
    }

    func stage(_ name: String, from: String, steps: Int, extra: String = "", resume: String? = nil) throws -> RunOptions {
        var c = RunOptions(from: from, recipeFile: try recipe(name: name, steps: steps, extra: extra, tokenizer: "", sources: mixture), resume: resume)
        c.log = { _ in }; c.showProgress = false
        return c
    }

    func testContinuedRunRecordsParentMixtureAndCumulativeCompute() throws {
        let base = try pretrained()
        let out = try Continue.run(try stage("cont", from: base.checkpoint.url.path, steps: 6))
        let lineage = try TrainingCheckpoint.load(out.lastCheckpoint!).lineage
        XCTAssertEqual(lineage.entries.map(\.stage.rawValue), ["pretrain", "continue"])
        let head = lineage.head!
        XCTAssertEqual(head.parent, .checkpoint(id: base.id, sha256: base.contentHash))
        XCTAssertEqual(head.data.map(\.name), ["after", "replay"])
        XCTAssertEqual(head.compute.cumulativeTokens, base.lineage.head!.compute.tokens + head.compute.tokens)
        XCTAssertEqual(head.recipe.value(at: "data.sources")?.arrayValue?.count, 2)
    }

    func testContinuesFromAPlainHuggingFaceDirectory() throws {
        // model.safetensors + config.json + tokenizer.json without Strata's manifest, as save_pretrained leaves them.
        let base = try pretrained(steps: 4)
        let hf = dir.appendingPathComponent("hf")
        try FileManager.default.createDirectory(at: hf, withIntermediateDirectories: true)
        for f in ["model.safetensors", "config.json", "tokenizer.json"] {
            try FileManager.default.copyItem(at: base.checkpoint.url(for: f), to: hf.appendingPathComponent(f))
        }
        let out = try Continue.run(try stage("from-hf", from: hf.path, steps: 4))
        let head = try TrainingCheckpoint.load(out.lastCheckpoint!).lineage.head!
        XCTAssertEqual(head.parent, .checkpoint(id: hf.standardizedFileURL.path, sha256: base.contentHash))
    }

    func testContinueRefusesADifferentTokenizer() throws {
        let base = try pretrained(steps: 4)
        var c = try stage("tok", from: base.checkpoint.url.path, steps: 4)
        c.recipeFile = try recipe(name: "tok", steps: 4, tokenizer: "tokenizer: {train: {vocab_size: 280}}", sources: mixture)
        XCTAssertThrowsError(try Continue.run(c)) { XCTAssertTrue(String(describing: $0).contains("tokenizer"), "\($0)") }
    }

    func testMixtureScheduleYieldsConfiguredProportions() throws {
        let sources = """
            - {name: a, path: \(dir.path)/world/before_cutoff.jsonl, schedule: [{step: 0, weight: 0.8}, {step: 100, weight: 0.2}]}
            - {name: b, path: \(dir.path)/world/textbook.jsonl, schedule: [{step: 0, weight: 0.2}, {step: 100, weight: 0.8}]}
        """
        let r = try RecipeLoader.load(file: URL(fileURLWithPath: try recipe(name: "mix", steps: 100, sources: sources)))
        let tok = try DataPipeline.tokenizer(for: r, runDir: r.runDirectory, log: { _ in })
        let prepared = try DataPipeline.prepare(r, tokenizer: tok, runDir: r.runDirectory, log: { _ in })
        var loader = try DataPipeline.loader(r, sources: prepared)
        var early = 0, late = 0, n = 0
        for step in 0..<100 {
            let b = loader.next()
            let fromA = b.sourceIndex.filter { $0 == 0 }.count
            if step < 10 { early += fromA; n += b.sourceIndex.count }
            if step >= 90 { late += fromA }
        }
        // Around step 5 the weight of a is ≈ 0.77, around step 95 ≈ 0.23 (linear interpolation); 40 rows each.
        XCTAssertEqual(Double(early) / Double(n), 0.77, accuracy: 0.15)
        XCTAssertEqual(Double(late) / Double(n), 0.23, accuracy: 0.15)
    }

    func testAnnealReachesItsFloorAtTheLastStepAndResumesBitExactly() throws {
        let base = try pretrained()
        let extra = ""
        let straight = try Anneal.run(try stage("anneal-a", from: base.checkpoint.url.path, steps: 10, extra: extra))
        let metrics = try MetricsLog.read(runDir("anneal-a").appendingPathComponent("metrics.jsonl")).filter { $0.loss != nil }
        // The recipe's optim section becomes an anneal from lr 3e-3 to min_lr 3e-4 (1-sqrt by default).
        XCTAssertEqual(metrics.first!.lr!, LRSchedule.anneal(from: 3e-3, to: 3e-4, steps: 10).lr(0), accuracy: 1e-12)
        XCTAssertGreaterThan(metrics.first!.lr!, 1.5e-3)
        XCTAssertEqual(metrics.last!.lr!, 3e-4, accuracy: 1e-12)
        XCTAssertTrue(zip(metrics, metrics.dropFirst()).allSatisfy { $0.lr! >= $1.lr! }, "LR decays monotonically")

        var c = try stage("anneal-b", from: base.checkpoint.url.path, steps: 10, extra: extra)
        let flag = InterruptFlag()
        c.interrupt = flag
        c.inject = { batch in if batch == 4 { flag.raise(SIGTERM) }; return nil }
        let first = try Anneal.run(c)
        XCTAssertTrue(first.interrupted)
        var r = RunOptions(resume: runDir("anneal-b").path); r.log = { _ in }; r.showProgress = false
        let second = try Anneal.run(r)
        XCTAssertEqual(first.losses + second.losses, straight.losses)
        let a = try tensorsBytes(straight.lastCheckpoint!.url), b = try tensorsBytes(second.lastCheckpoint!.url)
        for k in a.keys { XCTAssertEqual(a[k]!, b[k]!, "tensor \(k)") }
        XCTAssertEqual(try TrainingCheckpoint.load(second.lastCheckpoint!).lineage.head?.stage.rawValue, "anneal")
    }
}
