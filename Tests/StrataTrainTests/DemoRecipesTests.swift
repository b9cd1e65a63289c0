// The demo's recipe wiring, without training: every run of `strata demo` loads its
// shipped recipe (recipes/*.yaml) with the demo's overrides, validates as its stage
// will, carries the stage section it needs (and no other), and points its paths under
// the demo's directory; the recipes also take the README walk-through's
// `--set train.steps=20`. Leaves out: running the demo (scripts/demo.sh).

import XCTest
import StrataCore
@testable import StrataTrain
import StrataTestSupport

final class DemoRecipesTests: XCTestCase {
    let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    var recipesDir: String { repo.appendingPathComponent("recipes").path }
    let root = URL(fileURLWithPath: "/tmp/strata-demo-recipes-test")

    func testEveryDemoRunLoadsWithItsStageSectionAndPathsUnderTheDemoDirectory() throws {
        let recipes = try DemoRecipes(directory: recipesDir, root: root, seed: 7, steps: [.sft: 20])
        for run in DemoRun.allCases {
            let recipe = try recipes.load(run)
            XCTAssertEqual(recipe.run.name, run.name, run.name)
            XCTAssertEqual(recipe.runDirectory.path, root.appendingPathComponent("runs/\(run.name)").path, run.name)
            XCTAssertEqual(recipe.train.seed, 7, run.name)
            switch run.stage.kind {
            case .sft: XCTAssertNotNil(recipe.sft, run.name); XCTAssertNil(recipe.preference, run.name)
            case .reward, .dpo: XCTAssertNotNil(recipe.preference, run.name); XCTAssertNil(recipe.sft, run.name)
            default: XCTAssertNil(recipe.sft, run.name); XCTAssertNil(recipe.preference, run.name)
            }
            let paths = DemoRecipes.pathKeys(recipe)
            XCTAssertFalse(paths.isEmpty, "\(run.name) reads no files")
            for p in paths {
                XCTAssertTrue(p.path.hasPrefix(root.path + "/world/"), "\(run.name): \(p.key) = \(p.path) is not in the demo's world")
            }
        }
        XCTAssertEqual(try recipes.load(.sft).train.steps, 20)
        XCTAssertEqual(try recipes.load(.pretrain).train.steps, try RecipeLoader.load(file: recipes.recipeURL(.pretrain)).train.steps)
    }

    func testTheVariantsDifferWhereTheyShould() throws {
        let recipes = try DemoRecipes(directory: recipesDir, root: root, seed: 0)
        XCTAssertEqual(try recipes.load(.continueNoReplay).data.sources.map(\.name), ["after"])
        XCTAssertEqual(Set(try recipes.load(.continueReplay).data.sources.map(\.name)), ["after", "general"])
        XCTAssertEqual(try recipes.load(.dpo).preference?.sftWeight, 0)
        XCTAssertEqual(try recipes.load(.dpoSFT).preference?.sftWeight, 1)
        // PPO with the recipe's KL vs none; both score with the demo's own reward model.
        let ppo = try XCTUnwrap(try recipes.load(.ppo).ppo), noKL = try XCTUnwrap(try recipes.load(.ppoNoKL).ppo)
        XCTAssertGreaterThan(ppo.klCoef, 0)
        XCTAssertEqual(noKL.klCoef, 0); XCTAssertNil(noKL.klTarget)
        for p in [ppo, noKL] { XCTAssertEqual(p.rewards.first?.checkpoint, root.appendingPathComponent("runs/reward").path) }
        XCTAssertEqual(try recipes.load(.grpo).grpo?.lossType, .tokenMean)
        XCTAssertEqual(try recipes.load(.grpoSequence).grpo?.lossType, .sequenceMean)
        XCTAssertEqual(try recipes.load(.grpo).grpo?.promptFilter?.values, ["add", "reverse"])
        // The demo's evaluation reads these held-out shards by source name.
        XCTAssertEqual(Set(try recipes.load(.pretrain).data.sources.map(\.name)), ["general", "textbook"])
    }

    func testTheWalkThroughsStepOverrideFitsEveryWorldRecipe() throws {
        for file in ["continue-world.yaml", "continue-world-noreplay.yaml", "anneal-world.yaml", "sft-world.yaml",
                     "reward-world.yaml", "dpo-world.yaml", "pretrain-tiny.yaml"] {
            let url = repo.appendingPathComponent("recipes/\(file)")
            XCTAssertNoThrow(try RecipeLoader.load(file: url, overrides: ["train.steps=20"]), file)
        }
    }

    func testAMissingRecipesDirectoryNamesThePathAndTheFix() {
        XCTAssertThrowsError(try DemoRecipes(directory: "/nonexistent/recipes", root: root, seed: 0)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("/nonexistent/recipes"), text)
            XCTAssertTrue(text.contains("--recipes"), text)
        }
    }

    func testARecipesDirectoryLackingAFileNamesIt() throws {
        let dir = try scratchDirectory()
        try FileManager.default.copyItem(at: repo.appendingPathComponent("recipes/pretrain-world.yaml"),
                                         to: dir.appendingPathComponent("pretrain-world.yaml"))
        XCTAssertThrowsError(try DemoRecipes(directory: dir.path, root: root, seed: 0)) { error in
            XCTAssertTrue("\(error)".contains("sft-world.yaml"), "\(error)")
        }
    }

    func testRelativePathsResolveAgainstTheDemoDirectoryAndAbsoluteOnesStay() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("demo-recipes-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: repo.appendingPathComponent("recipes"), to: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        let reward = dir.appendingPathComponent(DemoRun.reward.recipeFile)
        let text = try String(contentsOf: reward, encoding: .utf8)
            .replacingOccurrences(of: "validation: world/preferences_test.jsonl", with: "validation: \"/abs/my pairs.jsonl\"")
        try text.write(to: reward, atomically: true, encoding: .utf8)
        let recipe = try DemoRecipes(directory: dir.path, root: root, seed: 0).load(.reward)
        XCTAssertEqual(recipe.preference?.validation, "/abs/my pairs.jsonl")
        XCTAssertEqual(recipe.preference?.train, root.appendingPathComponent("world/preferences.jsonl").path)
        XCTAssertEqual(DemoRecipes.quoted("a \"b\"\\c"), "\"a \\\"b\\\"\\\\c\"")
    }
}
