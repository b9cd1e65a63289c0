// One test per recipe error rule: each asserts the error is a config error
// whose message names the full key path (and, where it helps, the line).
import XCTest
import StrataCore
@testable import StrataTrain

final class RecipeErrorTests: XCTestCase {
    /// Loads and returns the error message, failing the test if loading succeeds.
    func message(_ yaml: String, overrides: [String] = [], file: StaticString = #filePath, line: UInt = #line) -> String {
        do {
            _ = try RecipeLoader.load(yaml: yaml, file: "t.yaml", overrides: overrides)
            XCTFail("expected an error", file: file, line: line)
            return ""
        } catch let e as StrataError {
            return e.description
        } catch {
            XCTFail("expected StrataError, got \(error)", file: file, line: line)
            return ""
        }
    }

    func with(_ replacements: [String: String], add: String = "") -> String {
        var y = baseRecipeYAML
        for (a, b) in replacements { y = y.replacingOccurrences(of: a, with: b) }
        return y + add
    }

    // MARK: unknown keys

    func testUnknownKeySuggestsSynonym() {
        let m = message(with(["optim: {warmup_steps: 10}": "optim: {warmup_steps: 10, learning_rate: 0.1}"]))
        XCTAssertTrue(m.contains("unknown key 'optim.learning_rate' (did you mean 'optim.lr'?)"), m)
        XCTAssertTrue(m.contains("line 6"), m)
    }

    func testUnknownKeySuggestsClosestSpelling() {
        let m = message(with([:], add: "\nguard:\n  min_histroy: 10\n"))
        XCTAssertTrue(m.contains("unknown key 'guard.min_histroy' (did you mean 'guard.min_history'?)"), m)
    }

    func testUnknownKeyInsideListElementAndTopLevel() {
        let m = message(with(["{name: a, path: a.txt}": "{name: a, path: a.txt, wieght: 2}"], add: "\noptimizer: {}\n"))
        XCTAssertTrue(m.contains("unknown key 'data.sources[0].wieght' (did you mean 'data.sources[0].weight'?)"), m)
        XCTAssertTrue(m.contains("unknown key 'optimizer' (did you mean 'optim'?)"), m)
    }

    func testUnknownKeyWithoutCloseMatchListsKnownKeys() {
        let m = message(with([:], add: "\nrun: {colour: blue}\n"))
        XCTAssertTrue(m.contains("unknown key 'run.colour' (known keys here: dir, name, tensorboard)"), m)
    }

    func testUnknownKeyFromSetNamesTheOverride() {
        let m = message(baseRecipeYAML, overrides: ["train.stepz=5"])
        XCTAssertTrue(m.contains("unknown key 'train.stepz' (did you mean 'train.steps'?)"), m)
        XCTAssertTrue(m.contains("--set train.stepz"), m)
    }

    // MARK: wrong types

    func testWordWhereNumberExpected() {
        let m = message(with(["optim: {warmup_steps: 10}": "optim:\n  warmup_steps: 10\n  lr: fast"]))
        XCTAssertTrue(m.contains("optim.lr: expected a number, got \"fast\""), m)
        XCTAssertTrue(m.contains("line 8"), m)
    }

    func testFractionWhereIntegerExpected() {
        let m = message(with(["train: {steps: 100}": "train: {steps: 100.5}"]))
        XCTAssertTrue(m.contains("train.steps: expected an integer, got 100.5"), m)
    }

    func testQuotedNumberIsText() {
        let m = message(with(["optim: {warmup_steps: 10}": "optim: {warmup_steps: 10, lr: \"3e-4\"}"]))
        XCTAssertTrue(m.contains("optim.lr: expected a number, got \"3e-4\" (quoted text; remove the quotes)"), m)
    }

    func testSectionWhereScalarExpectedAndViceVersa() {
        let m1 = message(with(["train: {steps: 100}": "train: {steps: {a: 1}}"]))
        XCTAssertTrue(m1.contains("train.steps: expected an integer, got a section"), m1)
        let m2 = message(with(["optim: {warmup_steps: 10}": "optim: 5"]))
        XCTAssertTrue(m2.contains("optim: expected a section (key: value lines), got 5"), m2)
        let m3 = message(with(["sources:": "sources: web"]).replacingOccurrences(of: "    - {name: a, path: a.txt}\n", with: ""))
        XCTAssertTrue(m3.contains("data.sources: expected a list, got \"web\""), m3)
    }

    func testBadChoiceListsOptions() {
        let m = message(with(["optim: {warmup_steps: 10}": "optim: {warmup_steps: 10, schedule: cosin}"]))
        XCTAssertTrue(m.contains("optim.schedule: expected one of cosine, wsd, constant, linear, anneal, got \"cosin\""), m)
    }

    func testBadBoolAndVocab() {
        XCTAssertTrue(message(with([:], add: "\nguard: {enabled: maybe}\n")).contains("guard.enabled: expected true or false, got \"maybe\""))
        let m = message(with(["vocab_size: 64": "vocab_size: lots"]))
        XCTAssertTrue(m.contains("model.vocab_size: expected an integer or from_tokenizer, got \"lots\""), m)
    }

    func testMissingRequiredSourceField() {
        let m = message(with(["{name: a, path: a.txt}": "{name: a}"]))
        XCTAssertTrue(m.contains("missing required key 'data.sources[0].path'"), m)
    }

    // MARK: impossible values

    func testKeepLastAtLeastTwo() {
        let m = message(with(["train: {steps: 100}": "train: {steps: 100, keep_last: 1}"]))
        XCTAssertTrue(m.contains("train.keep_last must be ≥ 2, got 1"), m)
    }

    func testWarmupMustBeShorterThanRun() {
        let m = message(with(["optim: {warmup_steps: 10}": "optim: {warmup_steps: 100}"]))
        XCTAssertTrue(m.contains("optim.warmup_steps (100) must be < the run's steps (100)"), m)
    }

    func testMinLRAtMostLR() {
        let m = message(with(["optim: {warmup_steps: 10}": "optim: {warmup_steps: 10, lr: 0.001, min_lr: 0.01}"]))
        XCTAssertTrue(m.contains("optim.min_lr (0.01) must be ≤ optim.lr (0.001)"), m)
    }

    func testEmbeddingDivisibleByHeads() {
        let m = message(with(["n_head: 2": "n_head: 3"]))
        XCTAssertTrue(m.contains("model.n_embd (16) must be divisible by model.n_head (3)"), m)
        XCTAssertTrue(m.contains("(line 1)"), m)
    }

    func testNegativeWeight() {
        let m = message(with(["{name: a, path: a.txt}": "{name: a, path: a.txt, weight: -1}"]))
        XCTAssertTrue(m.contains("data.sources[0].weight must be ≥ 0, got -1"), m)
    }

    func testAllWeightsZeroSomewhereInTheSchedule() {
        let m = message(with(["{name: a, path: a.txt}": "{name: a, path: a.txt, schedule: [{step: 0, weight: 1}, {step: 50, weight: 0}]}"]))
        XCTAssertTrue(m.contains("data.sources weights are all zero at step 50"), m)
    }

    func testScheduleStepsIncreaseAndExcludeWeight() {
        let src = "{name: a, path: a.txt, weight: 1, schedule: [{step: 10, weight: 1}, {step: 10, weight: 2}]}"
        let m = message(with(["{name: a, path: a.txt}": src]))
        XCTAssertTrue(m.contains("data.sources[0].schedule[1].step (10) must be greater than the previous point's step (10)"), m)
        XCTAssertTrue(m.contains("data.sources[0] sets both weight and schedule"), m)
    }

    func testDuplicateSourceNamesAndNoSources() {
        let m = message(with(["    - {name: a, path: a.txt}": "    - {name: a, path: a.txt}\n    - {name: a, path: b.txt}"]))
        XCTAssertTrue(m.contains("data.sources[1].name 'a' is used by an earlier source"), m)
        let m2 = message(with(["    - {name: a, path: a.txt}": ""]).replacingOccurrences(of: "sources:", with: "sources: []"))
        XCTAssertTrue(m2.contains("data.sources must list at least one source"), m2)
    }

    func testStepsAndBudgetExclusive() {
        XCTAssertTrue(message(with(["train: {steps: 100}": "train: {steps: 100, token_budget: 5000}"]))
            .contains("train.steps and train.token_budget are both set"))
        XCTAssertTrue(message(with(["train: {steps: 100}": "train: {}"])).contains("train.steps is not set"))
    }

    func testContextWithinModel() {
        let m = message(with(["train: {steps: 100}": "train: {steps: 100, context: 64}"]))
        XCTAssertTrue(m.contains("train.context (64) must be ≤ model.n_positions (32)"), m)
    }

    func testRangesOnOptimAndGuard() {
        let m = message(with(["optim: {warmup_steps: 10}": "optim: {warmup_steps: 10, beta2: 1.0, eps: 0}"],
                             add: "\nguard: {min_history: 200, lr_factor_on_rollback: 0}\n"))
        XCTAssertTrue(m.contains("optim.beta2 must be in [0, 1), got 1"), m)
        XCTAssertTrue(m.contains("optim.eps must be > 0, got 0"), m)
        XCTAssertTrue(m.contains("guard.min_history (200) must be ≤ guard.window (128)"), m)
        XCTAssertTrue(m.contains("guard.lr_factor_on_rollback must be in (0, 1], got 0"), m)
    }

    func testWSDDecayMustFitAfterWarmup() {
        let m = message(with(["optim: {warmup_steps: 10}": "optim: {warmup_steps: 90, schedule: wsd, decay_fraction: 0.5}"]))
        XCTAssertTrue(m.contains("optim.decay_fraction (0.5) leaves 50 decay steps"), m)
    }

    func testTokenizerPathAndTrainExclusive() {
        let m = message(with([:], add: "\ntokenizer: {path: tok.json, train: {vocab_size: 300}}\n"))
        XCTAssertTrue(m.contains("tokenizer sets both path and train"), m)
    }

    // MARK: --set syntax and YAML syntax

    func testSetWithoutEquals() {
        let m = message(baseRecipeYAML, overrides: ["optim.lr"])
        XCTAssertTrue(m.contains("--set optim.lr: expected key.path=value"), m)
    }

    func testSetWithEmptyPathPart() {
        let m = message(baseRecipeYAML, overrides: ["optim..lr=1"])
        XCTAssertTrue(m.contains("key path 'optim..lr' has an empty part"), m)
        XCTAssertTrue(message(baseRecipeYAML, overrides: ["=1"]).contains("the key path before '=' is empty"))
    }

    func testSetWithBadIndex() {
        let m = message(baseRecipeYAML, overrides: ["data.sources[x].weight=1"])
        XCTAssertTrue(m.contains("key path 'data.sources[x].weight': '[x]' is not a list position"), m)
        let m2 = message(baseRecipeYAML, overrides: ["data.sources[3].weight=1"])
        XCTAssertTrue(m2.contains("'data.sources[3]' does not exist: 'data.sources' has 1 entries"), m2)
    }

    func testSetThroughAScalar() {
        let m = message(baseRecipeYAML, overrides: ["train.steps.max=1"])
        XCTAssertTrue(m.contains("'train.steps' is 100, not a section, so it has no key 'max'"), m)
    }

    func testSetWithInvalidYAMLValue() {
        let m = message(baseRecipeYAML, overrides: ["run.name=[unclosed"])
        XCTAssertTrue(m.contains("--set run.name=[unclosed"), m)
    }

    func testSetValueOfWrongTypeNamesKey() {
        let m = message(baseRecipeYAML, overrides: ["train.batch_size=big"])
        XCTAssertTrue(m.contains("train.batch_size: expected an integer, got \"big\" (--set train.batch_size)"), m)
    }

    func testInvalidYAMLAndDuplicateKeys() {
        let m = message("model: {n_layer: 2\n  oops")
        XCTAssertTrue(m.contains("not valid YAML"), m)
        let m2 = message(baseRecipeYAML + "\ntrain: {steps: 5}\n")
        XCTAssertTrue(m2.contains("duplicate key 'train' (line 5 and line 7)"), m2)
    }

    func testTypeErrorAndUnknownKeyReportedTogether() {
        let m = message(with(["optim: {warmup_steps: 10}": "optim: {learning_rate: 0.1, warmup_steps: ten}"]))
        XCTAssertTrue(m.contains("optim.warmup_steps: expected an integer, got \"ten\""), m)
        XCTAssertTrue(m.contains("unknown key 'optim.learning_rate' (did you mean 'optim.lr'?)"), m)
    }

    func testSeveralProblemsReportedTogether() {
        let m = message(with(["train: {steps: 100}": "train: {steps: 100, keep_last: 0, batch_size: 0}"]))
        XCTAssertTrue(m.contains("train.keep_last") && m.contains("train.batch_size"), m)
    }

    func testAbsurdSizesAreErrorsNotCrashes() {
        let m = message(with(["train: {steps: 100}": "train: {token_budget: 1e15, batch_size: 8e15, grad_accum: 8e15}"]))
        XCTAssertTrue(m.contains("optim.warmup_steps (10) must be < the run's steps (1)"), m)
        XCTAssertTrue(message(baseRecipeYAML, overrides: ["train.steps=1e30"]).contains("train.steps: expected an integer"))
        XCTAssertGreaterThan(ModelConfig().parameterCount(vocab: Int.max), 0)
    }

    func testSuggestionHelper() {
        let known: Set<String> = ["lr", "min_lr", "warmup_steps", "beta1", "beta2"]
        XCTAssertEqual(RecipeKeyCheck.suggestion(for: "warmup", among: known), "warmup_steps")
        XCTAssertEqual(RecipeKeyCheck.suggestion(for: "Min-LR", among: known), "min_lr")
        XCTAssertEqual(RecipeKeyCheck.suggestion(for: "beta_1", among: known), "beta1")
        XCTAssertNil(RecipeKeyCheck.suggestion(for: "temperature", among: known))
        XCTAssertEqual(RecipeKeyCheck.editDistance("kitten", "sitting"), 3)
    }

    // MARK: stage sections

    let stageBase = "train: {steps: 10}\noptim: {warmup_steps: 0}\n"

    func testSFTSectionRules() {
        var m = message(stageBase + "sft: {train: a.jsonl, packing: packed}\n")
        XCTAssertTrue(m.contains("sft.packing") && m.contains("pack, pad"), m)
        m = message(stageBase + "sft: {train: a.jsonl, lora: {r: 4, target_module: [c_attn]}}\n")
        XCTAssertTrue(m.contains("unknown key 'sft.lora.target_module' (did you mean 'sft.lora.target_modules'?)"), m)
        m = message(stageBase + "sft: {validation_fraction: 0.1}\n")
        XCTAssertTrue(m.contains("sft.train must name a JSONL file"), m)
        m = message(stageBase + "data: {sources: [{name: a, path: a.jsonl}]}\nsft: {train: a.jsonl}\n")
        XCTAssertTrue(m.contains("sft and data.sources are both set"), m)
        XCTAssertNoThrow(try RecipeLoader.load(yaml: stageBase + "sft: {train: a.jsonl}\n", file: "t.yaml"))
    }

    func testPreferenceSectionRules() {
        var m = message(stageBase + "preference: {train: p.jsonl, loss: kto}\n")
        XCTAssertTrue(m.contains("preference.loss") && m.contains("sigmoid, ipo, simpo"), m)
        m = message(stageBase + "preference: {train: p.jsonl, label_smoothing: 0.7}\n")
        XCTAssertTrue(m.contains("preference.label_smoothing must be in [0, 0.5)"), m)
        m = message(stageBase + "preference: {train: p.jsonl}\nsft: {train: a.jsonl}\n")
        XCTAssertTrue(m.contains("preference and sft are both set"), m)
        m = message(stageBase + "preference: {train: p.jsonl, eval: {per_kind: 0}}\n")
        XCTAssertTrue(m.contains("preference.eval.per_kind must be ≥ 1"), m)
        XCTAssertNoThrow(try RecipeLoader.load(yaml: stageBase + "preference: {train: p.jsonl, beta: 0.2}\n", file: "t.yaml"))
    }
}
