// Rule rewards and the weighted combination of sources: each rule's score on
// hand-made replies, the instruction rule agreeing with the evaluation's
// checker on the world's tasks, configuration decoded from recipe-style JSON
// and refused (naming the field) when wrong.

import Foundation
import XCTest
import StrataCore
import StrataData
import StrataEval
@testable import StrataRL
import StrataTestSupport

final class RewardRuleTests: XCTestCase {
    func item(_ reply: String, answer: String = "Town1", kind: String? = nil, tokens: Int = 3, finish: Rollout.Finish = .endOfTurn) -> RewardItem {
        var cols: [String: PromptValue] = ["answer": .string(answer)]
        if let kind { cols["kind"] = .string(kind) }
        return RewardItem(prompt: .chat([ChatMessage(.user, "q")], columns: cols), reply: reply, replyTokens: tokens, finish: finish)
    }

    func rule(_ json: String) throws -> RuleRewardSource {
        try RuleRewardSource(try JSONDecoder().decode(RewardRuleConfig.self, from: Data(json.utf8)))
    }

    func testExactMatchComparesNormalisedReplyWithTheAnswerColumn() throws {
        let r = try rule(#"{"type": "exact_match"}"#)
        XCTAssertEqual(try r.score([item("town1."), item(" Town1 "), item("Town1 maybe"), item("Town2")]), [1, 1, 0, 0])
        let other = try rule(#"{"type": "exact_match", "column": "gold"}"#)
        XCTAssertEqual(other.requiredColumns, ["gold"])
        assertThrowsStrataError(try other.score([self.item("Town1")])) { XCTAssertTrue($0.message.contains("\"gold\" is missing"), "\($0)") }
    }

    func testInstructionRuleIsTheEvaluationCheckerPerKind() throws {
        let r = try rule(#"{"type": "instruction", "weight": 2}"#)
        let items = [item("7", answer: "7", kind: "add"), item("8", answer: "7", kind: "add"),
                     item("stone, river, apple", answer: "stone, river, apple", kind: "reverse"),
                     item("apple, river, stone", answer: "stone, river, apple", kind: "reverse"),
                     item(#"{"answer": "Town1"}"#, kind: "json"), item("Town1", kind: "json"),
                     item("Town1", kind: "one_word"), item("Town1 city", kind: "one_word"), item("Town1, of course", kind: "fact")]
        XCTAssertEqual(try r.score(items), [1, 0, 1, 0, 1, 0, 1, 0, 1])
        for it in items {
            let expected = InstructionChecker.check(InstructionKind(rawValue: it.prompt.text("kind")!)!, reply: it.reply, expected: it.prompt.text("answer")!)
            XCTAssertEqual(try r.score([it])[0], expected ? 1 : 0)
        }
        assertThrowsStrataError(try r.score([self.item("7", kind: "addition")])) { XCTAssertTrue($0.fix?.contains("did you mean \"add\"") == true, "\($0)") }
        let fixed = try rule(#"{"type": "format", "kind": "add"}"#)
        XCTAssertEqual(try fixed.score([item("12", answer: "7"), item("twelve", answer: "7")]), [1, 0])
    }

    func testWorldReferenceRepliesEarnFullInstructionReward() throws {
        var cfg = SyntheticWorld.Config(seed: 2, size: 50_000)
        cfg.minRenderings = 2; cfg.maxRenderings = 3
        let records = InstructionPrompts.build(qa: try SyntheticWorld.generate(cfg).qa, config: .init(trainPerKind: 5, testPerKind: 5)).test
        let items = records.map { RewardItem(prompt: $0, reply: InstructionPrompts.task($0)!.referenceReply, replyTokens: 4, finish: .endOfTurn) }
        XCTAssertEqual(try rule(#"{"type": "instruction"}"#).score(items), Array(repeating: 1, count: items.count))
        XCTAssertEqual(try rule(#"{"type": "format"}"#).score(items), Array(repeating: 1, count: items.count))
        try rule(#"{"type": "instruction"}"#).check(PromptDataset(records: records))
    }

    func testFormatRegexAndLengthRules() throws {
        XCTAssertEqual(try rule(#"{"type": "one_word"}"#).score([item("Paris"), item("Paris France"), item("")]), [1, 0, 0])
        XCTAssertEqual(try rule(#"{"type": "json_object"}"#).score([item(#"{"answer": "x"}"#), item(#"{"answer": 3}"#), item("x")]), [1, 0, 0])
        XCTAssertEqual(try rule(#"{"type": "json_object", "key": "city"}"#).score([item(#"{"city": "x"}"#), item(#"{"answer": "x"}"#)]), [1, 0])
        XCTAssertEqual(try rule(#"{"type": "regex", "pattern": "[0-9]+"}"#).score([item("it is 42"), item("none")]), [1, 0])
        XCTAssertEqual(try rule(#"{"type": "regex", "pattern": "[0-9]+", "full_match": true}"#).score([item("it is 42"), item("42")]), [0, 1])
        let length = try rule(#"{"type": "length_penalty", "max_tokens": 4, "per_token": 0.5}"#)
        XCTAssertEqual(try length.score([item("x", tokens: 3), item("x", tokens: 4), item("x", tokens: 7)]), [0, 0, -1.5])
        let eot = try rule(#"{"type": "missing_end_of_turn", "penalty": 2}"#)
        XCTAssertEqual(try eot.score([item("x"), item("x", finish: .truncated)]), [0, -2])
    }

    func testBadRuleConfigurationIsRefusedNamingTheField() throws {
        let cases: [(String, String)] = [
            (#"{"type": "exact_match", "colum": "answer"}"#, "did you mean 'column'"),
            (#"{"type": "exact_mach"}"#, "did you mean \"exact_match\""),
            (#"{"weight": 1}"#, "'type' is missing"),
            (#"{"type": "regex", "pattern": "("}"#, "not a valid regular expression"),
            (#"{"type": "regex"}"#, "'pattern' is missing"),
            (#"{"type": "exact_match", "pattern": "x"}"#, "'pattern' does not apply"),
            (#"{"type": "length_penalty"}"#, "'max_tokens' is missing"),
            (#"{"type": "length_penalty", "max_tokens": 3, "per_token": -1}"#, "'per_token' is -1"),
            (#"{"type": "missing_end_of_turn", "penalty": -1}"#, "'penalty' is -1"),
            (#"{"type": "instruction", "kind": "add", "kind_column": "k"}"#, "both 'kind' and 'kind_column'"),
        ]
        for (json, expected) in cases {
            assertThrowsStrataError(try self.rule(json)) { XCTAssertTrue("\($0)".contains(expected), "\(json) → \($0)") }
        }
    }

    func testRuleConfigRoundTripsThroughJSON() throws {
        let json = #"[{"type": "instruction", "weight": 1.5}, {"type": "length_penalty", "max_tokens": 20, "per_token": 0.1, "name": "short"}]"#
        let configs = try JSONDecoder().decode([RewardRuleConfig].self, from: Data(json.utf8))
        XCTAssertEqual(try JSONDecoder().decode([RewardRuleConfig].self, from: JSONEncoder().encode(configs)), configs)
        let entries = try RuleRewardSource.entries(configs)
        XCTAssertEqual(entries.map(\.weight), [1.5, 1])
        XCTAssertEqual(entries.map(\.source.identity.name), ["instruction", "short"])
        XCTAssertEqual(entries[1].source.identity.parameters["max_tokens"], "20")
    }

    func testWeightedRewardsSumsSourcesAndKeepsEachSourcesScores() throws {
        let configs = try JSONDecoder().decode([RewardRuleConfig].self, from: Data(
            #"[{"type": "exact_match", "weight": 2}, {"type": "missing_end_of_turn", "weight": 0.5}]"#.utf8))
        let w = try WeightedRewards(try RuleRewardSource.entries(configs))
        let s = try w.score([item("Town1"), item("Town2", finish: .truncated), item("Town1", finish: .truncated)])
        XCTAssertEqual(s.sources.map(\.scores), [[1, 0, 1], [0, -1, -1]])
        XCTAssertEqual(s.total, [2, -0.5, 1.5])
        XCTAssertEqual(w.identities.map(\.name), ["exact_match", "missing_end_of_turn"])
        assertThrowsStrataError(try WeightedRewards(try RuleRewardSource.entries(configs + configs))) {
            XCTAssertTrue($0.message.contains("two sources are named \"exact_match\""), "\($0)")
        }
        assertThrowsStrataError(try WeightedRewards([])) { XCTAssertTrue($0.message.contains("no reward source"), "\($0)") }
    }

    func testASourceReturningTheWrongCountOrNaNIsAnError() throws {
        final class Broken: RewardSource {
            let identity = RewardSourceIdentity(kind: .rule, name: "broken")
            let values: [Double]
            init(_ v: [Double]) { values = v }
            func score(_ items: [RewardItem]) throws -> [Double] { values }
        }
        assertThrowsStrataError(try WeightedRewards([.init(Broken([1]))]).score([self.item("a"), self.item("b")])) {
            XCTAssertTrue($0.message.contains("1 scores for 2 replies"), "\($0)")
        }
        assertThrowsStrataError(try WeightedRewards([.init(Broken([1, .nan]))]).score([self.item("a"), self.item("b")])) {
            XCTAssertTrue($0.message.contains("score 1 is nan"), "\($0)")
        }
    }

    func testRuleColumnsAreCheckedAgainstAPromptFileBeforeTraining() throws {
        let set = PromptDataset(records: [.plain("a", columns: ["answer": .string("1"), "kind": .string("add")]),
                                          .plain("b", columns: ["answer": .string("2"), "kind": .string("sum")])],
                                lineNumbers: [1, 2], path: "p.jsonl")
        assertThrowsStrataError(try self.rule(#"{"type": "instruction"}"#).check(set)) { e in
            XCTAssertTrue(e.operation.contains("p.jsonl:2"), "\(e)")
            XCTAssertTrue(e.message.contains("\"sum\""), "\(e)")
        }
        assertThrowsStrataError(try self.rule(#"{"type": "exact_match", "column": "gold"}"#).check(set)) { XCTAssertTrue($0.operation.contains("p.jsonl:1"), "\($0)") }
    }
}
