// The strict header JSON parser on its own: escapes (surrogate pairs included),
// exact integers, key order, and refusals (lone surrogates, duplicates per object,
// bounded nesting). Leaves out: safetensors semantics (SafeTensors*Tests).

import XCTest
@testable import StrataCheckpoint

final class HeaderJSONTests: XCTestCase {
    private func parse(_ s: String) throws -> JSONValue { try HeaderJSONParser.parse(Array(s.utf8)) }

    func testEscapesNumbersAndOrder() throws {
        let v = try parse(#" { "z\u00e9\ud83d\ude00\n\"\/" : [ -0, 12, 1.5e-3, 9223372036854775807, 9223372036854775808, true, null ], "a": {} } "#)
        guard case let .object(members) = v, case let .array(items) = members[0].value else { return XCTFail("\(v)") }
        XCTAssertEqual(members.map(\.key), ["zé😀\n\"/", "a"], "key order is kept and escapes decode")
        XCTAssertEqual(items.map(\.exactInt), [0, 12, nil, Int.max, nil, nil, nil])
        guard case .number("1.5e-3") = items[2] else { return XCTFail("number text must be kept") }
    }

    func testRefusals() {
        let cases: [(String, String)] = [
            (#"{"a":"\ud83d"}"#, "lone high surrogate"), (#"{"a":"\ude00"}"#, "lone low surrogate"),
            (#"{"a":"\u12"}"#, "hex digit"), ("{\"a\":\"x\ty\"}", "control character"), (#"{"a":-}"#, "invalid number"),
            (#"{"a":1.}"#, "after '.'"), (#"{"a":1e}"#, "exponent"), (#"{"a":"x"#, "unterminated"),
        ]
        for (text, fragment) in cases {
            XCTAssertThrowsError(try parse(text), text) { e in
                guard case let .syntax(msg, _) = e as? JSONParseFailure else { return XCTFail("\(text): \(e)") }
                XCTAssertTrue(msg.contains(fragment), "\(text): '\(msg)' lacks '\(fragment)'")
            }
        }
        // The same key in two different objects is fine; twice in one object is not.
        XCTAssertNoThrow(try parse(#"{"a":{"k":1},"b":{"k":2}}"#))
        XCTAssertThrowsError(try parse(#"{"a":{"k":1,"k":2}}"#)) { e in
            guard case .duplicateKey("k", 2, _) = e as? JSONParseFailure else { return XCTFail("\(e)") }
        }
        XCTAssertNoThrow(try parse(String(repeating: "[", count: 32) + String(repeating: "]", count: 32)))
        XCTAssertThrowsError(try parse(String(repeating: "[", count: 34) + String(repeating: "]", count: 34)))
    }
}
