// Tests for SFT JSONL loading: the three TRL formats (and ShareGPT, text parts, a
// trailing user turn) parse into the right conversations, tool/developer roles and
// non-text parts are refused by name, and every bad-input rule fails with file:line
// once and the recipe key that skips it (or is skipped and counted).
// Leaves out: rendering and packing (other Chat*Tests files).

import Foundation
import XCTest
@testable import StrataData
import StrataCore
import StrataTestSupport

final class ChatFormatTests: XCTestCase {
    private func write(_ lines: [String], _ name: String = #function) throws -> URL {
        let url = try scratchDirectory(name).appendingPathComponent("sft.jsonl")
        try (lines.joined(separator: "\n") + "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    private let good = #"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}"#

    func testParsesAllFormats() throws {
        let url = try write([
            #"{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}],"id":7}"#,
            "",
            #"{"prompt":"2+2=","completion":"4"}"#,
            #"{"prompt":[{"role":"user","content":"q"}],"completion":[{"role":"assistant","content":"a"}]}"#,
            #"{"text":"plain words"}"#,
        ])
        let ds = try SFTDataset.load(url)
        XCTAssertEqual(ds.conversations.map(\.format), [.conversational, .promptCompletion, .conversationalPromptCompletion, .text])
        XCTAssertEqual(ds.lineNumbers, [1, 3, 4, 5])
        XCTAssertEqual(ds.conversations[0].messages, [ChatMessage(.system, "be brief"), ChatMessage(.user, "hi"), ChatMessage(.assistant, "yo")])
        XCTAssertEqual(ds.conversations[1], .promptCompletion("2+2=", "4"))
        XCTAssertEqual(ds.conversations[2].promptCount, 1)
        XCTAssertEqual(ds.conversations[2].messages.map(\.role), [.user, .assistant])
        XCTAssertEqual(ds.conversations[3], .text("plain words"))
        XCTAssertEqual(ds.formatCounts[.text], 1)
        XCTAssertEqual(ds.skippedLines, 0)
        // Codable round trip of the dataset value.
        let back = try StrataJSON.decode(SFTDataset.self, from: try StrataJSON.encode(ds), file: "mem")
        XCTAssertEqual(back, ds)
    }

    /// Each rule: (bad line, words the error must contain).
    private let badLines: [(String, String)] = [
        (#"{"messages":[{"role":"user","#, "not valid JSON"),
        (#"[1,2]"#, "not an object"),
        (#"{"messages":[{"role":"tool","content":"x"},{"role":"assistant","content":"y"}]}"#, "role \"tool\" (a tool call or result): tool calling is not supported"),
        (#"{"messages":[{"role":"robot","content":"x"},{"role":"assistant","content":"y"}]}"#, "unknown role \"robot\""),
        (#"{"messages":[{"role":"user","content":"x"}]}"#, "no assistant turn"),
        (#"{"messages":[{"role":"system","content":"a"},{"role":"system","content":"b"},{"role":"user","content":"x"},{"role":"assistant","content":"y"}]}"#, "two system messages"),
        (#"{"messages":[{"role":"user","content":"x"},{"role":"system","content":"s"},{"role":"assistant","content":"y"}]}"#, "it must come first"),
        (#"{"messages":[]}"#, "empty list"),
        (#"{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"  "}]}"#, "empty content"),
        (#"{"messages":[{"role":"user","content":3},{"role":"assistant","content":"y"}]}"#, "no string \"content\""),
        (#"{"prompt":"x","completion":[{"role":"assistant","content":"y"}]}"#, "both be strings"),
        (#"{"prompt":"x"}"#, "without \"completion\""),
        (#"{"prompt":[{"role":"user","content":"x"}],"completion":[{"role":"user","content":"y"}]}"#, "assistant turns only"),
        (#"{"prompt":[{"role":"user","content":"x"},{"role":"assistant","content":"z"}],"completion":[{"role":"assistant","content":"y"}]}"#, "prompt ends with an assistant turn"),
        (#"{"text":""}"#, "empty content"),
        (#"{"text":"a","prompt":"b","completion":"c"}"#, "more than one"),
        (#"{"id":1}"#, "no \"messages\""),
    ]

    /// Errors name file:line once (no "file.jsonl:3: line 3:") and the recipe key that skips bad lines, not a CLI flag
    /// strata sft does not have.
    func testEveryBadRuleNamesFileAndLineOnceAndTheRecipeKey() throws {
        for (i, (bad, needle)) in badLines.enumerated() {
            let url = try write([good, good, bad, good], "bad\(i)")
            assertStrataError(try SFTDataset.load(url), kind: .data,
                              contains: ["\(url.path):3: ", needle, "--set sft.skip_bad_lines=true"],
                              lacks: ["line 3", "--skip-bad-lines", "CLI:"])
        }
    }

    func testSkipBadLinesCounts() throws {
        let url = try write([good] + badLines.map(\.0) + [good])
        let ds = try SFTDataset.load(url, skipBadLines: true)
        XCTAssertEqual(ds.conversations.count, 2)
        XCTAssertEqual(ds.skippedLines, badLines.count)
        XCTAssertEqual(ds.lineNumbers, [1, badLines.count + 2])
    }

    func testTRLShapesUsersBringParseOrAreRefusedByName() throws {
        let url = try write([
            #"{"conversations":[{"from":"system","value":"be brief"},{"from":"human","value":"hi"},{"from":"gpt","value":"yo"}]}"#,
            #"{"messages":[{"role":"user","content":[{"type":"text","text":"hi "},{"type":"text","text":"there"}]},{"role":"assistant","content":"yo"}]}"#,
            #"{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"},{"role":"user","content":"thanks"}]}"#,
        ])
        let ds = try SFTDataset.load(url)
        XCTAssertEqual(ds.conversations[0], .chat([ChatMessage(.system, "be brief"), ChatMessage(.user, "hi"), ChatMessage(.assistant, "yo")]),
                       "ShareGPT from/value turns read as messages")
        XCTAssertEqual(ds.conversations[1].messages[0], ChatMessage(.user, "hi there"), "text parts joined in order")
        XCTAssertEqual(ds.conversations[2].messages.last, ChatMessage(.user, "thanks"), "a trailing user turn is kept as context")
        XCTAssertEqual(ds.conversations[2].isTrained(2), false)
        let refused: [(String, [String])] = [
            (#"{"messages":[{"role":"developer","content":"x"},{"role":"user","content":"q"},{"role":"assistant","content":"y"}]}"#,
             ["role \"developer\"", "use role \"system\""]),
            (#"{"messages":[{"role":"user","content":"q"},{"role":"assistant","content":"","tool_calls":[{"type":"function"}]}]}"#,
             ["\"tool_calls\"", "tool calling is not supported"]),
            (#"{"messages":[{"role":"user","content":"q"},{"role":"tool","content":"42"},{"role":"assistant","content":"y"}]}"#,
             ["role \"tool\"", "fold the tool output into a user message"]),
            (#"{"messages":[{"role":"user","content":[{"type":"image"}]},{"role":"assistant","content":"y"}]}"#,
             ["\"image\" part", "only text parts"]),
            (#"{"conversations":[{"from":"bot","value":"q"}]}"#, ["ShareGPT speaker", "human, gpt or system"]),
            (#"{"messages":[{"role":"User","content":"q"},{"role":"assistant","content":"y"}]}"#, ["did you mean \"user\"?"]),
            (#"{"prompt":"q","chosen":"a","rejected":"b"}"#, ["a preference pair", "strata reward"]),
        ]
        for (i, (line, needles)) in refused.enumerated() {
            assertStrataError(try SFTDataset.load(try write([line], "refused\(i)")), kind: .data, contains: needles)
        }
    }

    func testNoUsableLinesFails() throws {
        let url = try write([#"{"text":""}"#])
        assertStrataError(try SFTDataset.load(url, skipBadLines: true), kind: .data, contains: ["no usable samples", "1 bad"])
    }
}
