// What a new user runs from the README, checked without training: the shipped
// recipes accept the walk-through's `--set train.steps=20` and read their data from
// the paths the walk-through writes (`strata data synth --out world`, tok.json,
// data/world.*), the README block that scripts/walkthrough.sh runs, chat rendering
// against transformers' apply_chat_template (fixture from
// tools/fixtures/chatml_render_parity.py), chat's default reply length on a small
// model, slash commands, `strata --version`, and the HF side files of chat and
// reward checkpoints. Leaves out: running the walk-through (scripts/walkthrough.sh).
import XCTest
import StrataCore
import StrataData
import StrataModel
import StrataTokenizer
import StrataEval
import StrataRL
@testable import StrataTrain
import StrataTestSupport

final class NewUserPathTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func shippedRecipes() throws -> [URL] {
        let dir = Self.root.appendingPathComponent("recipes")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 7)
        return files.map { dir.appendingPathComponent($0) }
    }

    func testEveryShippedRecipeAcceptsTwentySteps() throws {
        for url in try shippedRecipes() {
            XCTAssertNoThrow(try RecipeLoader.load(file: url, overrides: ["train.steps=20"]), url.lastPathComponent)
        }
    }

    /// The files each relay recipe reads, relative to the directory strata runs in.
    func dataPaths(_ r: Recipe) -> [String] {
        var paths = r.data.sources.map(\.path) + [r.tokenizer.path].compactMap { $0 }
        if let s = r.sft { paths += [s.train, s.validation, s.eval?.qa].compactMap { $0 } }
        if let p = r.preference { paths += [p.train, p.validation, p.eval?.qa, p.eval?.behaviour].compactMap { $0 } }
        if let p = r.ppo { paths += [p.prompts, p.eval?.qa, p.eval?.behaviour].compactMap { $0 } }
        if let g = r.grpo { paths += [g.prompts, g.eval?.qa, g.eval?.behaviour].compactMap { $0 } }
        return paths
    }

    func testRelayRecipesReadWhatTheWalkthroughWrites() throws {
        let dir = try scratchDirectory()
        let world = dir.appendingPathComponent("world")
        let out = try SyntheticWorld.generate(SyntheticWorld.Config(seed: 0, size: 60_000))
        try out.write(to: world)
        try WorldChatData.write(qa: out.qa, seed: 0, perKind: 5, to: world)   // what `strata data synth` writes beside the world
        try InstructionPrompts.write(qa: out.qa, to: world, config: InstructionPrompts.Config(trainPerKind: 5, testPerKind: 5))
        try WorldJudgeData.write(qa: out.qa, seed: 0, to: world)
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        // Files the walk-through's tokenizer and prepare lines write, as the README spells them.
        let madeByReadme = ["tok.json": "--output tok.json", "data/world.train.bin": "--out data --name world"]
        for url in try shippedRecipes() where url.lastPathComponent != "pretrain-nano.yaml" {   // nano: bring your own corpus
            let recipe = try RecipeLoader.load(file: url)
            for path in dataPaths(recipe) {
                if let flag = madeByReadme[path] {
                    XCTAssertTrue(readme.contains(flag), "\(url.lastPathComponent): \(path) needs a README line with \(flag)")
                } else {
                    XCTAssertTrue(FileManager.default.fileExists(atPath: dir.appendingPathComponent(path).path),
                                  "\(url.lastPathComponent) reads \(path), which `strata data synth --out world` does not write")
                }
            }
        }
    }

    func testWalkthroughBlockRunsEveryStageAtTheScriptsScale() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let marker = try XCTUnwrap(readme.range(of: "<!-- walkthrough"), "README has the walk-through marker the script looks for")
        let after = readme[marker.upperBound...]
        let open = try XCTUnwrap(after.range(of: "```sh\n")), close = try XCTUnwrap(after[open.upperBound...].range(of: "\n```"))
        let block = String(after[open.upperBound..<close.lowerBound])
        for stage in ["pretrain --config", "continue --from", "anneal", "sft --from", "reward --from", "dpo --from"] {
            let line = try XCTUnwrap(block.split(separator: "\n").first { $0.contains("strata \(stage)") }, "no `strata \(stage)` line")
            XCTAssertTrue(line.contains("--set train.steps=$STEPS"), "scaled by STEPS: \(line)")
        }
        for step in ["data synth --out world", "chat --checkpoint", "score --reward-model", "eval --checkpoint"] {
            XCTAssertTrue(block.contains("strata " + step), "the walk-through shows `strata \(step)`")
        }
        XCTAssertFalse(block.contains("runs/demo"), "the walk-through reads only what it wrote itself")
        let script = try String(contentsOf: Self.root.appendingPathComponent("scripts/walkthrough.sh"), encoding: .utf8)
        XCTAssertTrue(script.contains("STEPS=${STEPS:-20}") && script.contains("<!-- walkthrough"))
    }

    // MARK: chat rendering against transformers

    struct RenderFixture: Decodable {
        struct Case: Decodable {
            var messages: [ChatMessage]
            var ids: [Int]
            var assistant_mask: [Int]
            var prompt_ids: [Int]
            var piecewise_differs: Bool
        }
        struct Pair: Decodable {
            var pair: PreferencePair
            var chosen_ids: [Int32]
            var rejected_ids: [Int32]
        }
        var special_ids: [String: Int]
        var cases: [Case]
        var pairs: [Pair]
    }

    func testChatRenderingMatchesApplyChatTemplateIdsAndMask() throws {
        let fixtures = Self.root.appendingPathComponent("Tests/StrataTokenizerTests/Fixtures")
        let fx = try StrataJSON.read(RenderFixture.self, at: fixtures.appendingPathComponent("chatml_render.expected.json"))
        let base = try BPETokenizer(contentsOf: fixtures.appendingPathComponent("chatml_render.tokenizer.json"))
        let (tok, ids) = try base.addingSpecialTokens(ChatTemplate.chatML.specialTokens)
        XCTAssertEqual(ids, [fx.special_ids["<|im_start|>"]!, fx.special_ids["<|im_end|>"]!])
        let chat = try InstructionEval.chatTokenizer(tok)
        XCTAssertTrue(fx.cases.contains { $0.piecewise_differs }, "the fixture has content whose piecewise encoding differs")
        for (i, c) in fx.cases.enumerated() {
            let (tokens, trained) = try ChatTemplate.chatML.tokens(.chat(c.messages), chat)
            XCTAssertEqual(tokens, c.ids, "case \(i): ids as apply_chat_template + tokenizer")
            XCTAssertEqual(trained.map { $0 ? 1 : 0 }, c.assistant_mask, "case \(i): trained tokens as return_assistant_tokens_mask")
            XCTAssertEqual(try ChatTemplate.chatML.promptTokens(Array(c.messages.dropLast()), chat), c.prompt_ids,
                           "case \(i): generation prompt as add_generation_prompt=True")
        }
    }

    /// The rows a reward model reads are the ids TRL's RewardTrainer tokenises, and transformers' last-non-pad rule
    /// (pad = eos) reads a conversational pair at the template's trailing newline and a plain pair before its eos.
    func testRewardRowsAreTRLsTokenisationAndTheReadRuleFindsTheRightToken() throws {
        let fixtures = Self.root.appendingPathComponent("Tests/StrataTokenizerTests/Fixtures")
        let fx = try StrataJSON.read(RenderFixture.self, at: fixtures.appendingPathComponent("chatml_render.expected.json"))
        let base = try BPETokenizer(contentsOf: fixtures.appendingPathComponent("chatml_render.tokenizer.json"))
        let (tok, _) = try base.addingSpecialTokens(ChatTemplate.chatML.specialTokens)
        let chat = try InstructionEval.chatTokenizer(tok)
        let eos = try XCTUnwrap(tok.eosID)
        for p in fx.pairs {
            let r = try ChatTemplate.chatML.render(pair: p.pair, chat)
            for (side, expected) in [(true, p.chosen_ids), (false, p.rejected_ids)] {
                let row = r.sequence(chosen: side)
                XCTAssertEqual(row, expected, "\(p.pair.format) pair, chosen=\(side): the ids TRL feeds the reward model")
                let read = RewardModel.lastNonPadIndices(row + [Int32(eos), Int32(eos)], rows: 1, time: row.count + 2, padId: eos)[0]
                let lastResponse = r.prompt.count + (side ? r.chosen.count : r.rejected.count) - 1
                switch p.pair.format {
                case .conversational:
                    XCTAssertEqual(read, row.count - 1, "read at the trailing newline")
                    XCTAssertEqual(Int(row[read]), tok.encode("\n").first)
                case .plain:
                    XCTAssertEqual(read, lastResponse - 1, "read at the last response token, before the eos (= pad)")
                }
            }
        }
    }

    // MARK: chat

    func tinyChat(positions: Int) throws -> (GPT2, BPETokenizer) {
        let special = ["<|endoftext|>"] + ChatTemplate.chatML.specialTokens
        let tok = try BPETrainer.train(texts: ["hello there, how are you", "the cat sat on the mat"],
                                       config: BPETrainer.Config(vocabSize: 280, specialTokens: special)).0
        return (GPT2(GPT2Config(vocabSize: tok.vocabSize, nPositions: positions, nEmbd: 16, nLayer: 1, nHead: 2), seed: 2), tok)
    }

    func testDefaultReplyLengthFitsASmallModelWithANotice() throws {
        let (model, tok) = try tinyChat(positions: 128)
        let s = try ChatSession(model: model, tokenizer: tok)
        XCTAssertEqual(s.maxNewTokens, 64)
        XCTAssertEqual(s.promptBudget, 64)
        let notice = try XCTUnwrap(s.maxNewTokensNotice)
        XCTAssertTrue(notice.contains("64") && notice.contains("--max-new-tokens"), notice)
        XCTAssertNoThrow(try s.reply(to: "hello there") { _ in })
        let (big, bigTok) = try tinyChat(positions: 512)
        let roomy = try ChatSession(model: big, tokenizer: bigTok)
        XCTAssertEqual(roomy.maxNewTokens, ChatConfig.defaultMaxNewTokens)
        XCTAssertNil(roomy.maxNewTokensNotice)
        // An explicit length that leaves no room is the user's choice to fix, not clamped.
        XCTAssertThrowsError(try ChatSession(model: model, tokenizer: tok, config: ChatConfig(maxNewTokens: 128))) { e in
            XCTAssertTrue("\(e)".contains("between 1 and 119"), "\(e)")
        }
    }

    func testSlashCommandsAreNeverMessages() {
        XCTAssertEqual(ChatSlashCommand.parse("/help"), .help)
        XCTAssertEqual(ChatSlashCommand.parse("/system Be brief."), .system("Be brief."))
        XCTAssertEqual(ChatSlashCommand.parse("/system"), .system(""))
        XCTAssertEqual(ChatSlashCommand.parse("/exit"), .quit)
        XCTAssertEqual(ChatSlashCommand.parse("/hlep"), .unknown("/hlep"))
        XCTAssertTrue(ChatSlashCommand.unknownText("/hlep").contains("did you mean /help?"))
        XCTAssertNil(ChatSlashCommand.parse("hello /help"))
        XCTAssertNil(ChatSlashCommand.parse("//usr/bin is a path"))
        XCTAssertEqual(ChatSlashCommand.message("//usr/bin is a path"), "/usr/bin is a path")
        for c in ChatSlashCommand.all { XCTAssertTrue(ChatSlashCommand.helpText.contains(c.usage), c.usage) }
    }

    func strataBinary() throws -> URL { try StrataBinary.url() }

    func runStrata(_ args: [String], input: String = "") throws -> (Int32, String) {
        let p = Process()
        p.executableURL = try strataBinary()
        p.arguments = args
        let stdin = Pipe(), stdout = Pipe()
        p.standardInput = stdin
        p.standardOutput = stdout
        p.standardError = stdout
        try p.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        let text = String(decoding: stdout.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, text)
    }

    func testVersionFlag() throws {
        let (status, text) = try runStrata(["--version"])
        XCTAssertEqual(status, 0, text)
        XCTAssertEqual(text, "strata \(try Self.versionInSource())\n")
    }

    static func versionInSource() throws -> String {
        let src = try String(contentsOf: root.appendingPathComponent("Sources/strata/Strata.swift"), encoding: .utf8)
        let line = try XCTUnwrap(src.split(separator: "\n").first { $0.contains("static let version = ") })
        return String(line.split(separator: "\"")[1])
    }

    func testChatCommandDefaultsWorkOnATinyModelAndHelpListsCommands() throws {
        let (model, tok) = try tinyChat(positions: 64)
        let dir = try scratchDirectory()
        try model.save(directory: dir)
        try tok.write(to: dir.appendingPathComponent("tokenizer.json"))
        let (status, text) = try runStrata(["chat", "--checkpoint", dir.path], input: "/help\n/nope\n/quit\n")
        XCTAssertEqual(status, 0, text)
        XCTAssertTrue(text.contains("replies are limited to 32 tokens"), text)
        XCTAssertTrue(text.contains(ChatSlashCommand.helpText), text)
        XCTAssertTrue(text.contains("unknown command /nope"), text)
    }

    // MARK: checkpoint side files

    func testChatCheckpointStopsAtEndOfTurnInTransformers() throws {
        let (_, tok) = try tinyChat(positions: 64)
        let g = try ChatCheckpointFiles.generationConfig(template: .chatML, tokenizer: tok)
        XCTAssertEqual(g.eos_token_id, [tok.id(forSpecial: "<|im_end|>")!, tok.id(forSpecial: "<|endoftext|>")!])
        XCTAssertEqual(g.pad_token_id, tok.id(forSpecial: "<|endoftext|>"))
        let files = try ChatCheckpointFiles.chat(template: .chatML, tokenizer: tok, maxLength: 64)
        XCTAssertEqual(files.map(\.name), ["tokenizer_config.json", "generation_config.json"])
        let base = try BPETrainer.train(texts: ["plain text only"], config: BPETrainer.Config(vocabSize: 270, specialTokens: ["<|endoftext|>"])).0
        XCTAssertThrowsError(try ChatCheckpointFiles.generationConfig(template: .chatML, tokenizer: base)) { e in
            XCTAssertTrue("\(e)".contains("<|im_end|>"), "\(e)")
        }
    }

    func testRewardCheckpointTokenizerConfigCarriesTemplateAndPad() throws {
        let (_, tok) = try tinyChat(positions: 64)
        let pad = tok.id(forSpecial: "<|endoftext|>")!
        let cfg = try ChatCheckpointFiles.tokenizerConfig(template: .chatML, tokenizer: tok, maxLength: 64,
                                                          padToken: tok.token(forID: pad))
        XCTAssertEqual(cfg.chat_template, ChatTemplate.chatML.jinja)
        XCTAssertEqual(cfg.pad_token, "<|endoftext|>")
        XCTAssertEqual(cfg.added_tokens_decoder?[String(pad)]?.content, "<|endoftext|>")
        XCTAssertEqual(try ChatCheckpointFiles.reward(template: .chatML, tokenizer: tok, maxLength: 64, padTokenId: pad).map(\.name),
                       ["tokenizer_config.json"])
        XCTAssertThrowsError(try ChatCheckpointFiles.reward(template: .chatML, tokenizer: tok, maxLength: 64, padTokenId: 99_999))
    }
}
