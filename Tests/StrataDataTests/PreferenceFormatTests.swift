// Tests for preference JSONL loading: TRL's explicit and implicit prompt forms
// parse to the same pair, the implicit split at the longest common prefix, plain
// string pairs, the "type" label, the "margin" column (kept or refused by name),
// a JSON round trip of written pairs, and every
// bad-input rule failing with file:line (or skipped and counted).
// Leaves out: rendering and batching (PreferenceRenderTests).

import Foundation
import XCTest
@testable import StrataData
import StrataCore
import StrataTestSupport

final class PreferenceFormatTests: XCTestCase {
    private func write(_ lines: [String], _ name: String = #function) throws -> URL {
        let url = try scratchDirectory(name).appendingPathComponent("pref.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    private let good = #"{"prompt":[{"role":"user","content":"q"}],"chosen":[{"role":"assistant","content":"a"}],"rejected":[{"role":"assistant","content":"b"}]}"#

    func testMarginColumnIsKeptForTheRewardStageAndRefusedByNameElsewhere() throws {
        let url = try write([#"{"prompt":"The sky is","chosen":" blue.","rejected":" green.","margin":0.5}"#, good])
        assertStrataError(try PreferenceDataset.load(url), kind: .data, contains: ["pref.jsonl:1: ", "column \"margin\"", "strata reward applies it"])
        let ds = try PreferenceDataset.load(url, margins: .use)
        XCTAssertEqual(ds.pairs[0].margin, 0.5)
        XCTAssertEqual(ds.pairs[0].format, .plain, "TRL's plain-string pairs are accepted")
        XCTAssertNil(ds.pairs[1].margin)
        let bad = try write([#"{"prompt":"q","chosen":"a","rejected":"b","margin":"big"}"#], "badMargin")
        assertStrataError(try PreferenceDataset.load(bad, margins: .use), kind: .data, contains: ["\"margin\" is big, not a finite number"])
        // Written back as TRL explicit JSON with the margin.
        let back = try StrataJSON.decode(PreferencePair.self, from: try StrataJSON.encode(ds.pairs[0]), file: "mem")
        XCTAssertEqual(back, ds.pairs[0])
    }

    func testExplicitAndImplicitParseToSamePair() throws {
        let url = try write([
            #"{"prompt":[{"role":"system","content":"be brief"},{"role":"user","content":"Where?"}],"chosen":[{"role":"assistant","content":"Holtmar"}],"rejected":[{"role":"assistant","content":"Dunvik"}],"type":"wrong_fact","id":3}"#,
            "",
            #"{"chosen":[{"role":"system","content":"be brief"},{"role":"user","content":"Where?"},{"role":"assistant","content":"Holtmar"}],"rejected":[{"role":"system","content":"be brief"},{"role":"user","content":"Where?"},{"role":"assistant","content":"Dunvik"}],"type":"wrong_fact"}"#,
        ])
        let ds = try PreferenceDataset.load(url)
        XCTAssertEqual(ds.pairs.count, 2)
        XCTAssertEqual(ds.pairs[0], ds.pairs[1])
        XCTAssertEqual(ds.lineNumbers, [1, 3])
        let p = ds.pairs[0]
        XCTAssertEqual(p.format, .conversational)
        XCTAssertEqual(p.prompt, [ChatMessage(.system, "be brief"), ChatMessage(.user, "Where?")])
        XCTAssertEqual(p.chosen, [ChatMessage(.assistant, "Holtmar")])
        XCTAssertEqual(p.rejected, [ChatMessage(.assistant, "Dunvik")])
        XCTAssertEqual(p.type, "wrong_fact")
        XCTAssertEqual(ds.typeCounts, ["wrong_fact": 2])
    }

    func testImplicitSplitsAtLongestCommonPrefix() throws {
        let u1 = ChatMessage(.user, "hi"), a1 = ChatMessage(.assistant, "hello"), u2 = ChatMessage(.user, "capital?")
        let chosen = [u1, a1, u2, ChatMessage(.assistant, "Holtmar")]
        let rejected = [u1, a1, u2, ChatMessage(.assistant, "Not sure."), ChatMessage(.assistant, "Maybe Dunvik.")]
        let pair = try PreferencePair.split(chosen, rejected, type: nil).get()
        XCTAssertEqual(pair.prompt, [u1, a1, u2])
        XCTAssertEqual(pair.chosen, [ChatMessage(.assistant, "Holtmar")])
        XCTAssertEqual(pair.rejected.count, 2)
        XCTAssertNil(pair.problem())
        XCTAssertNil(pair.type)
    }

    func testPlainStringsAndRoundTrip() throws {
        let url = try write([#"{"prompt":"The sky is","chosen":" blue.","rejected":" green."}"#, good])
        let ds = try PreferenceDataset.load(url)
        XCTAssertEqual(ds.pairs[0], .plain("The sky is", chosen: " blue.", rejected: " green."))
        XCTAssertEqual(ds.pairs[0].format, .plain)
        XCTAssertEqual(ds.typeCounts, ["": 2])
        // Written pairs (TRL explicit JSON) load back unchanged, labels included.
        var pairs = ds.pairs
        pairs[1].type = "hedging"
        let out = try scratchDirectory().appendingPathComponent("out.jsonl")
        try PreferenceDataset.write(pairs, to: out)
        XCTAssertEqual(try PreferenceDataset.load(out).pairs, pairs)
        let text = try String(contentsOf: out, encoding: .utf8)
        XCTAssertTrue(text.contains(#""prompt":"The sky is""#), text)
        XCTAssertTrue(text.contains(#""type":"hedging""#), text)
        XCTAssertEqual(try StrataJSON.decode(PreferencePair.self, from: try StrataJSON.encode(pairs[1]), file: "mem"), pairs[1])
    }

    /// Each rule: (bad line, words the error must contain).
    private let badLines: [(String, String)] = [
        (#"{"prompt":"x","chosen":"#, "not valid JSON"),
        (#"["x"]"#, "not an object"),
        (#"{"prompt":"x","rejected":"y"}"#, "no \"chosen\" field"),
        (#"{"prompt":"x","chosen":"y"}"#, "no \"rejected\" field"),
        (#"{"prompt":[{"role":"user","content":"x"}],"chosen":3,"rejected":[{"role":"assistant","content":"y"}]}"#, "not a string or a list"),
        (#"{"prompt":"x","chosen":[{"role":"assistant","content":"y"}],"rejected":"z"}"#, "all be strings or all be message lists"),
        (#"{"prompt":"x","chosen":"y","rejected":"z","type":5}"#, "\"type\" is not a string"),
        (#"{"prompt":[{"role":"tool","content":"x"}],"chosen":[{"role":"assistant","content":"y"}],"rejected":[{"role":"assistant","content":"z"}]}"#, "role \"tool\" (a tool call or result): tool calling is not supported"),
        (#"{"prompt":[{"role":"robot","content":"x"}],"chosen":[{"role":"assistant","content":"y"}],"rejected":[{"role":"assistant","content":"z"}]}"#, "unknown role \"robot\""),
        (#"{"prompt":[{"role":"user","content":"x"}],"chosen":[{"role":"assistant","content":" "}],"rejected":[{"role":"assistant","content":"z"}]}"#, "chosen[0] (assistant) has empty content"),
        (#"{"prompt":"","chosen":"y","rejected":"z"}"#, "prompt[0] (user) has empty content"),
        (#"{"prompt":[],"chosen":[{"role":"assistant","content":"y"}],"rejected":[{"role":"assistant","content":"z"}]}"#, "\"prompt\" is an empty list"),
        (#"{"prompt":[{"role":"user"}],"chosen":[{"role":"assistant","content":"y"}],"rejected":[{"role":"assistant","content":"z"}]}"#, "no string \"content\""),
        (#"{"prompt":"x","chosen":"same","rejected":"same"}"#, "identical"),
        (#"{"chosen":[{"role":"user","content":"x"},{"role":"assistant","content":"y"}],"rejected":[{"role":"user","content":"x"},{"role":"assistant","content":"y"}]}"#, "identical"),
        (#"{"chosen":[{"role":"user","content":"x"},{"role":"assistant","content":"y"}],"rejected":[{"role":"user","content":"w"},{"role":"assistant","content":"z"}]}"#, "no common prompt"),
        (#"{"chosen":[{"role":"user","content":"x"},{"role":"assistant","content":"y"}],"rejected":[{"role":"user","content":"x"},{"role":"user","content":"z"}]}"#, "only assistant turns may differ"),
        (#"{"chosen":[{"role":"user","content":"x"},{"role":"assistant","content":"y"}],"rejected":[{"role":"user","content":"x"},{"role":"assistant","content":"y"},{"role":"assistant","content":"z"}]}"#, "chosen has no turns after the shared prompt"),
        (#"{"chosen":"The sky is blue.","rejected":"The sky is green."}"#, "implicit-prompt form needs"),
        (#"{"prompt":[{"role":"user","content":"x"},{"role":"assistant","content":"w"}],"chosen":[{"role":"assistant","content":"y"}],"rejected":[{"role":"assistant","content":"z"}]}"#, "must end with a user turn"),
        (#"{"prompt":[{"role":"user","content":"x"}],"chosen":[{"role":"user","content":"y"}],"rejected":[{"role":"assistant","content":"z"}]}"#, "assistant turns only"),
        (#"{"prompt":[{"role":"user","content":"x"},{"role":"system","content":"s"},{"role":"user","content":"x"}],"chosen":[{"role":"assistant","content":"y"}],"rejected":[{"role":"assistant","content":"z"}]}"#, "it must come first"),
    ]

    func testEveryBadRuleNamesFileAndLine() throws {
        for (i, (bad, needle)) in badLines.enumerated() {
            let url = try write([good, good, bad, good], "bad\(i)")
            assertStrataError(try PreferenceDataset.load(url), kind: .data, contains: ["\(url.path):3: ", needle, "--set preference.skip_bad_lines=true"],
                              lacks: ["line 3", "--skip-bad-lines", "CLI:"])
            // The same line alone parses to a failure carrying the reason (except for non-JSON / non-objects).
            if let data = bad.data(using: .utf8), let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] {
                guard case .failure(let p) = PreferencePair.parse(obj) else { return XCTFail("rule \(i) parsed: \(bad)") }
                XCTAssertTrue(p.reason.contains(needle), "rule \(i): \(p.reason)")
            }
        }
    }

    func testSkipBadLinesCounts() throws {
        let url = try write([good] + badLines.map(\.0) + [good])
        let ds = try PreferenceDataset.load(url, skipBadLines: true)
        XCTAssertEqual(ds.pairs.count, 2)
        XCTAssertEqual(ds.skippedLines, badLines.count)
        XCTAssertEqual(ds.lineNumbers, [1, badLines.count + 2])
    }

    func testNoUsableLinesFails() throws {
        let url = try write([#"{"prompt":"x","chosen":"y","rejected":"y"}"#])
        assertStrataError(try PreferenceDataset.load(url, skipBadLines: true), kind: .data, contains: ["no usable pairs", "1 bad"])
    }
}
