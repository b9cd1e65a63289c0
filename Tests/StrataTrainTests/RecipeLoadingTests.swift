// Recipe loading: defaults, --set overrides, resolved YAML/JSON round trips,
// mixture schedules, and the example recipes shipped in recipes/.
import XCTest
import StrataCore
@testable import StrataTrain
import StrataTestSupport

/// A small valid recipe the tests start from.
let baseRecipeYAML = """
model: {n_layer: 2, n_head: 2, n_embd: 16, n_positions: 32, vocab_size: 64}
data:
  sources:
    - {name: a, path: a.txt}
train: {steps: 100}
optim: {warmup_steps: 10}
"""

final class RecipeLoadingTests: XCTestCase {
    func testDefaultsFilledAndContextResolved() throws {
        let r = try RecipeLoader.load(yaml: baseRecipeYAML, defaultName: "demo")
        XCTAssertEqual(r.model.nLayer, 2)
        XCTAssertEqual(r.model.vocabSize, .fixed(64))
        XCTAssertEqual(r.optim.lr, OptimConfig().lr)
        XCTAssertEqual(r.optim.schedule, .cosine)
        XCTAssertEqual(r.spikeGuard.window, 128)
        XCTAssertEqual(r.spikeGuard.minHistory, 64)
        XCTAssertEqual(r.spikeGuard.sigma, 6)
        XCTAssertEqual(r.train.context, 32, "context defaults to model.n_positions")
        XCTAssertEqual(r.run.name, "demo")
        XCTAssertEqual(r.tokensPerStep, 8 * 1 * 32)
        XCTAssertEqual(r.totalSteps, 100)
        XCTAssertEqual(r.data.sources[0].weight(at: 0), 1.0)
        XCTAssertEqual(r.data.validation.effectiveFraction, 0.01)
    }

    func testTokenBudgetGivesStepsRoundedUp() throws {
        let yaml = baseRecipeYAML.replacingOccurrences(of: "train: {steps: 100}", with: "train: {token_budget: 1_000_000, batch_size: 4}")
        let r = try RecipeLoader.load(yaml: yaml)
        XCTAssertEqual(r.tokensPerStep, 4 * 32)
        XCTAssertEqual(r.totalSteps, (1_000_000 + 127) / 128)
    }

    func testOverridesReplaceCreateAndIndex() throws {
        let r = try RecipeLoader.load(yaml: baseRecipeYAML, overrides: [
            "optim.lr=1e-3",                 // existing section, new key
            "guard.sigma=4.5",               // section absent from the file
            "data.sources[0].weight=2",      // list position
            "run.name=\"007\"",              // quoted text stays text
            "tokenizer.train.files=[x.txt, y.txt]",
            "model.vocab_size=from_tokenizer",
        ])
        XCTAssertEqual(r.optim.lr, 1e-3)
        XCTAssertEqual(r.spikeGuard.sigma, 4.5)
        XCTAssertEqual(r.data.sources[0].weight, 2)
        XCTAssertEqual(r.run.name, "007")
        XCTAssertEqual(r.tokenizer.train?.files, ["x.txt", "y.txt"])
        XCTAssertEqual(r.model.vocabSize, .fromTokenizer)
    }

    func testDotIndexOverrideAndLaterOverrideWins() throws {
        let r = try RecipeLoader.load(yaml: baseRecipeYAML, overrides: ["data.sources.0.path=b.bin", "train.steps=5", "train.steps=50"])
        XCTAssertEqual(r.data.sources[0].path, "b.bin")
        XCTAssertEqual(r.train.steps, 50)
    }

    func testResolvedYAMLRoundTripsAndKeepsDeclarationOrder() throws {
        var yaml = baseRecipeYAML
        yaml += "\ntokenizer: {train: {vocab_size: 64}}\nrun: {name: \"true\", dir: out/runs}\n"
        let r = try RecipeLoader.load(yaml: yaml, overrides: ["optim.schedule=wsd", "optim.min_lr=0.00012",
                                                             "data.validation.shard=val.bin"])
        let text = try r.resolvedYAML()
        let again = try RecipeLoader.load(yaml: text)
        XCTAssertEqual(again, r)
        let order = ["model:", "tokenizer:", "data:", "train:", "optim:", "guard:", "run:"].map { text.range(of: "\n\($0)")?.lowerBound }
        XCTAssertFalse(order.contains(nil), text)
        XCTAssertEqual(order.compactMap { $0 }, order.compactMap { $0 }.sorted(), "sections in declaration order")
        XCTAssertTrue(text.contains("min_lr: 0.00012"), "numbers in shortest form:\n\(text)")
        XCTAssertTrue(text.contains("eps: 1.0e-08"), "exponents keep a dot for YAML 1.1 readers:\n\(text)")
        XCTAssertTrue(text.contains("name: \"true\""), "text that looks like a boolean is quoted:\n\(text)")
    }

    func testResolvedJSONRoundTripsThroughJSONDecoder() throws {
        let r = try RecipeLoader.load(yaml: baseRecipeYAML, overrides: ["optim.decay_shape=cosine"])
        let back = try StrataJSON.decode(Recipe.self, from: try r.resolvedJSON(), file: "recipe.json")
        XCTAssertEqual(back, r)
        let v = try r.jsonValue()
        XCTAssertEqual(v.value(at: "optim.decay_shape")?.stringValue, "cosine")
        XCTAssertEqual(v.value(at: "model.n_embd")?.intValue, 16)
        XCTAssertEqual(try v.decode(as: Recipe.self), r)
    }

    func testWriteResolvedCreatesBothFiles() throws {
        let dir = try scratchDirectory()
        let r = try RecipeLoader.load(yaml: baseRecipeYAML)
        try r.writeResolved(to: dir)
        let fromYAML = try RecipeLoader.load(file: dir.appendingPathComponent("recipe.yaml"))
        XCTAssertEqual(fromYAML, r)
        XCTAssertEqual(try StrataJSON.read(Recipe.self, at: dir.appendingPathComponent("recipe.json")), r)
    }

    func testRunNameDefaultsToFileName() throws {
        let dir = try scratchDirectory()
        let url = dir.appendingPathComponent("my-run.yaml")
        try Data(baseRecipeYAML.utf8).write(to: url)
        XCTAssertEqual(try RecipeLoader.load(file: url).run.name, "my-run")
        XCTAssertEqual(try RecipeLoader.load(file: url).runDirectory.lastPathComponent, "my-run")
    }

    func testWeightScheduleInterpolation() throws {
        let yaml = """
        model: {n_layer: 1, n_head: 1, n_embd: 8, n_positions: 8, vocab_size: 16}
        train: {steps: 300}
        optim: {warmup_steps: 0}
        data:
          sources:
            - name: web
              path: web.bin
              weight: 1
            - name: code
              path: code.bin
              schedule: [{step: 100, weight: 0}, {step: 200, weight: 2}]
            - name: math
              path: math.bin
              interpolation: piecewise
              schedule: [{step: 0, weight: 0.5}, {step: 150, weight: 3}]
        """
        let d = try RecipeLoader.load(yaml: yaml).data
        let code = d.sources[1], math = d.sources[2]
        XCTAssertEqual(code.weight(at: 0), 0)
        XCTAssertEqual(code.weight(at: 150), 1, accuracy: 1e-12)
        XCTAssertEqual(code.weight(at: 200), 2)
        XCTAssertEqual(code.weight(at: 10_000), 2)
        XCTAssertEqual(math.weight(at: 149), 0.5)
        XCTAssertEqual(math.weight(at: 150), 3)
        let mix = d.mixture(at: 150)
        XCTAssertEqual(mix.reduce(0, +), 1, accuracy: 1e-12)
        XCTAssertEqual(mix[0], 1.0 / 5.0, accuracy: 1e-12)
        XCTAssertEqual(d.scheduleBreakpoints, [0, 100, 150, 200])
    }

    // MARK: - Example recipes

    static var recipesDir: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("recipes")
    }

    func testTinyRecipeIsAboutOneMillionParameters() throws {
        let r = try RecipeLoader.load(file: Self.recipesDir.appendingPathComponent("pretrain-tiny.yaml"))
        XCTAssertEqual(r.context, 128)
        // The recipe reads the walk-through's tok.json, trained with --vocab-size 1024 (its header says so).
        XCTAssertEqual(r.tokenizer.path, "tok.json")
        let header = try String(contentsOf: Self.recipesDir.appendingPathComponent("pretrain-tiny.yaml"), encoding: .utf8)
        XCTAssertTrue(header.contains("--vocab-size 1024"), "the tiny recipe's header names its tokenizer's size")
        let n = r.model.parameterCount(vocab: r.model.vocabSize.resolved(tokenizerSize: 1024))
        XCTAssertGreaterThan(n, 700_000)
        XCTAssertLessThan(n, 1_400_000)
        XCTAssertEqual(r.run.name, "pretrain-tiny")
    }

    func testNanoRecipeShape() throws {
        let r = try RecipeLoader.load(file: Self.recipesDir.appendingPathComponent("pretrain-nano.yaml"))
        XCTAssertEqual([r.model.nLayer, r.model.nHead, r.model.nEmbd, r.context], [6, 6, 384, 256])
        XCTAssertEqual(r.model.vocabSize.resolved(tokenizerSize: r.tokenizer.train?.vocabSize ?? 0), 8192)
        XCTAssertGreaterThan(r.totalSteps, r.optim.warmupSteps)
    }
}
