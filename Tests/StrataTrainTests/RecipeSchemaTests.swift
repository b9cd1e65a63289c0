// The recipe schema and the key reference generated from it: docs/recipes.md
// matches the types, every stored property of every section is a recipe key,
// `--stage` picks a stage's sections, YAML aliases are refused, and awkward
// values survive a write and read back.
import XCTest
import StrataCore
@testable import StrataTrain

final class RecipeSchemaTests: XCTestCase {
    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    func testDocsRecipesMatchesTheRecipeTypes() throws {
        let url = Self.root.appendingPathComponent("docs/recipes.md")
        let committed = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        let generated = try RecipeReference.markdown()
        XCTAssertTrue(committed == generated,
                      "docs/recipes.md is out of date with the recipe types; regenerate it with "
                      + "`swift run strata recipe keys > docs/recipes.md` and commit it")
    }

    /// A property left out of CodingKeys would be silently skipped by synthesised Codable.
    func testEveryStoredPropertyOfEverySectionIsARecipeKey() {
        var checked = 0
        func walk(_ type: any RecipeSection.Type, _ path: String) {
            let schema = RecipeSchema(defaultsOf: type)
            let properties = Mirror(reflecting: type.init()).children.compactMap(\.label)
            XCTAssertEqual(properties.count, schema.fields.count, "\(path): properties \(properties) vs keys \(schema.fields.map(\.key))")
            XCTAssertTrue(schema.fields.allSatisfy { !$0.help.isEmpty }, "\(path): every key has a help line")
            checked += 1
            for f in schema.fields {
                if let t = f.swiftType as? any RecipeSection.Type { walk(t, "\(path).\(f.key)") }
                if let list = f.swiftType as? RecipeList.Type, let t = list.elementType as? any RecipeSection.Type {
                    walk(t, "\(path).\(f.key)[]")
                }
            }
        }
        walk(Recipe.self, "recipe")
        XCTAssertGreaterThanOrEqual(checked, 16, "every section type is reached from Recipe")
    }

    func testDefaultsComeFromThePropertyInitialValues() throws {
        let schema = RecipeSchema.recipe
        guard case let .section(optim)? = schema["optim"]?.shape, case let .section(sft)? = schema["sft"]?.shape else {
            return XCTFail("optim and sft are sections")
        }
        XCTAssertEqual(optim["lr"]?.defaultValue?.string, "0.0006")
        XCTAssertEqual(optim["eps"]?.defaultValue?.string, "1.0e-08")
        XCTAssertEqual(sft["packing"]?.defaultValue?.string, "pack")
        XCTAssertTrue(schema["sft"]?.isOptional == true && schema["sft"]?.defaultValue == nil, "stage sections are absent by default")
        let r = try RecipeLoader.load(yaml: "train: {steps: 10}\noptim: {warmup_steps: 0}\nsft: {train: a.jsonl}\n")
        XCTAssertEqual(r.sft?.validationFraction, SFTConfig().validationFraction, "a present section gets its type's defaults")
        XCTAssertEqual(r.sft?.lora, nil)
    }

    func testStageOptionPicksTheSectionsAStageReads() throws {
        let dpo = try RecipeReference.markdown(stage: .dpo)
        XCTAssertTrue(dpo.contains("## preference") && dpo.contains("`preference.beta`"), dpo)
        XCTAssertFalse(dpo.contains("## sft"))
        let pretrain = try RecipeReference.markdown(stage: .pretrain)
        XCTAssertTrue(pretrain.contains("## optim"))
        XCTAssertFalse(pretrain.contains("## sft") || pretrain.contains("## preference"))
        XCTAssertThrowsError(try RecipeReference.markdown(stage: "dpoo")) { e in
            XCTAssertTrue("\(e)".contains("unknown stage (did you mean dpo?)"), "\(e)")
        }
    }

    func testLoadingForAStageRequiresItsSectionAndNoOther() throws {
        let base = "train: {steps: 10}\noptim: {warmup_steps: 0}\n"
        XCTAssertNoThrow(try RecipeLoader.load(yaml: base + "sft: {train: a.jsonl}\n", stage: .sft))
        XCTAssertThrowsError(try RecipeLoader.load(yaml: base + "preference: {train: p.jsonl}\n", stage: .sft)) { e in
            let m = "\(e)"
            XCTAssertTrue(m.contains("the recipe has no 'sft' section"), m)
            XCTAssertTrue(m.contains("preference is read by strata dpo and strata reward, not by strata sft") && m.contains("line 3"), m)
        }
        XCTAssertThrowsError(try RecipeLoader.load(yaml: baseRecipeYAML + "\nsft: {train: a.jsonl}\n", stage: .pretrain)) { e in
            XCTAssertTrue("\(e)".contains("sft is read by strata sft, not by strata pretrain"), "\(e)")
        }
    }

    /// Issue 12 item 12: nested aliases once took 53 s to expand before any error.
    func testAliasBombIsRefusedNamingFileAndLine() {
        let bomb = """
        a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]
        b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
        c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
        d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
        e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
        f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
        g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
        h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
        i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
        """
        XCTAssertThrowsError(try RecipeLoader.load(yaml: bomb, file: "bomb.yaml")) { e in
            let m = "\(e)"
            XCTAssertTrue(m.contains("bomb.yaml") && m.contains("b[0] (line 2) is a YAML alias (*name) of the value at line 1"), m)
        }
        XCTAssertThrowsError(try RecipeLoader.load(yaml: baseRecipeYAML + "\nrun: {name: &n x, dir: *n}\n", file: "t.yaml")) { e in
            XCTAssertTrue("\(e)".contains("run.dir (line 7) is a YAML alias (*name) of the value at line 7"), "\(e)")
        }
        XCTAssertThrowsError(try RecipeLoader.load(yaml: baseRecipeYAML, overrides: ["run={name: &n x, dir: *n}"]))
    }

    func testEmptyQuotedOptionalTextIsRefusedNotDropped() {
        XCTAssertThrowsError(try RecipeLoader.load(yaml: baseRecipeYAML + "\ntokenizer: {path: \"\"}\n")) { e in
            XCTAssertTrue("\(e)".contains("tokenizer.path must not be empty (line 7)"), "\(e)")
        }
    }

    func testNullMeansNotSet() throws {
        let r = try RecipeLoader.load(yaml: baseRecipeYAML + "\nguard: {sigma: ~, window: null}\n", overrides: ["optim.lr="])
        XCTAssertEqual(r.spikeGuard, GuardConfig())
        XCTAssertEqual(r.optim.lr, OptimConfig().lr)
    }

    /// Text that YAML would read as something else is quoted; numbers keep every digit. (PyYAML 6 reads this
    /// recipe.yaml to the same values as recipe.json: checked by hand, CI has no Python.)
    func testAwkwardValuesSurviveWritingAndReadingBack() throws {
        var r = try RecipeLoader.load(yaml: "train: {steps: 10}\noptim: {warmup_steps: 0}\nsft: {train: a.jsonl}\n")
        r.optim.minLR = 0.30000000000000004
        r.optim.lr = 0.5
        r.spikeGuard.sigma = 1e20
        r.optim.weightDecay = 1e-300
        r.run.name = "true"
        r.tokenizer.train = TokenizerTraining(vocabSize: 5, files: ["yes", "no", "  x", "a: b", "#c", "null", "1_000", "0o17", ".inf", "~", "é", "2002-12-14", "1:20"])
        r.sft?.lora = LoRASection()
        let text = try r.resolvedYAML()
        XCTAssertTrue(text.contains("- \".inf\"") && text.contains("- \"0o17\"") && text.contains("- \"1:20\""), text)
        XCTAssertTrue(text.contains("weight_decay: 1.0e-300") && text.contains("sigma: 1.0e+20"), text)
        XCTAssertEqual(try RecipeLoader.load(yaml: text), r)
    }

    /// recipes/pretrain-nano.yaml notes defaults in comments ("# ... (default 4)"); they must agree with the types.
    func testDefaultsNotedInTheNanoRecipeAgreeWithTheTypes() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("recipes/pretrain-nano.yaml"), encoding: .utf8)
        let keyLine = try NSRegularExpression(pattern: #"^(\s*)(- )?([a-z_0-9]+):([^#]*)(#.*)?$"#)
        let note = try NSRegularExpression(pattern: #"default:? ([^);:,\s]+)"#)
        var stack: [(indent: Int, key: String)] = []
        var compared = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            let ns = line as NSString
            guard let m = keyLine.firstMatch(in: line, range: NSRange(location: 0, length: ns.length)) else { continue }
            let indent = m.range(at: 1).length + (m.range(at: 2).location == NSNotFound ? 0 : 2)
            let key = ns.substring(with: m.range(at: 3))
            while let last = stack.last, last.indent >= indent { stack.removeLast() }
            if m.range(at: 2).location != NSNotFound, let last = stack.last { stack[stack.count - 1].key = last.key.hasSuffix("[]") ? last.key : last.key + "[]" }
            stack.append((indent, key))
            guard m.range(at: 5).location != NSNotFound else { continue }
            let comment = ns.substring(with: m.range(at: 5))
            guard let n = note.firstMatch(in: comment, range: NSRange(location: 0, length: (comment as NSString).length)) else { continue }
            let noted = (comment as NSString).substring(with: n.range(at: 1))
            guard let field = Self.field(at: stack.map(\.key)), let value = field.defaultValue else { continue }
            let actual = RecipeReference.flowText(value)
            if let a = RecipeScalar.double(actual), let b = RecipeScalar.double(noted) {
                XCTAssertEqual(a, b, "\(stack.map(\.key).joined(separator: ".")): comment says default \(noted), the type says \(actual)")
            } else {
                XCTAssertEqual(noted, actual, "\(stack.map(\.key).joined(separator: ".")): comment says default \(noted), the type says \(actual)")
            }
            compared += 1
        }
        XCTAssertGreaterThan(compared, 30, "the nano recipe notes most defaults")
    }

    /// The schema field at a path like ["data", "sources[]", "weight"].
    static func field(at path: [String]) -> RecipeField? {
        var shape = RecipeShape.section(RecipeSchema.recipe)
        var found: RecipeField?
        for part in path {
            let key = part.hasSuffix("[]") ? String(part.dropLast(2)) : part
            guard case let .section(schema) = shape, let f = schema[key] else { return nil }
            found = f
            shape = f.shape
            if part.hasSuffix("[]"), case let .list(element) = shape { shape = element }
        }
        return found
    }
}
