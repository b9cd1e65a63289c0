// The HTTP reward source against a small local server (Fixtures/reward_server.py,
// 127.0.0.1, ephemeral port, stopped when the test ends): normal scoring in
// batches, a slow reply (timeout), HTTP 500 and 400, malformed JSON, the wrong
// number of scores, and a retried 503 that is recorded.

import Foundation
import XCTest
import StrataCore
@testable import StrataRL
import StrataTestSupport

final class HTTPRewardSourceTests: XCTestCase {
    var server: Process!
    var port = 0

    override func setUpWithError() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/reward_server.py")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script.path]
        let out = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardInput = input
        try p.run()
        server = p
        var line = Data()
        while !line.contains(0x0A) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        port = try XCTUnwrap(Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)),
                             "the reward server did not print its port (is python3 installed?)")
        addTeardownBlock { [p, input] in
            try? input.fileHandleForWriting.close()
            if p.isRunning { p.terminate() }
            p.waitUntilExit()
        }
    }

    func source(_ path: String, timeout: Double = 5, retries: Int = 0, batchSize: Int = 64) throws -> HTTPRewardSource {
        try HTTPRewardSource(.init(url: "http://127.0.0.1:\(port)\(path)", timeoutSeconds: timeout, retries: retries,
                                   backoffSeconds: 0.05, batchSize: batchSize))
    }

    let items = ["a", "bbb", "cc"].map {
        RewardItem(prompt: .plain("Say something.", columns: ["answer": .string("x")]), reply: $0, replyTokens: $0.count, finish: .endOfTurn)
    } + [RewardItem(prompt: .chat([.init(.user, "hi")]), reply: "hello", replyTokens: 2, finish: .truncated)]

    func testScoresComeBackInOrderAcrossRequests() throws {
        let s = try source("/score", batchSize: 3)
        XCTAssertEqual(try s.score(items), [1, 3, 2, 5])
        XCTAssertEqual(s.requests, 2)
        XCTAssertTrue(s.retries.isEmpty)
        XCTAssertEqual(s.identity.kind, .http)
        XCTAssertEqual(s.identity.url, "http://127.0.0.1:\(port)/score")
    }

    func testASlowEndpointTimesOutWithAnErrorNamingTheURL() throws {
        let s = try source("/slow", timeout: 0.5, retries: 1)
        assertThrowsStrataError(try s.score(Array(self.items.prefix(1)))) { e in
            XCTAssertTrue(e.operation.contains("/slow"), "\(e)")
            XCTAssertTrue(e.message.contains("gave up after 2 attempts"), "\(e)")
        }
        XCTAssertEqual(s.retries.count, 1, "the retry is recorded")
    }

    func testServerErrorsAreRetriedThenReported() throws {
        let s = try source("/error", retries: 2)
        assertThrowsStrataError(try s.score(self.items)) { e in
            XCTAssertTrue(e.message.contains("HTTP 500") && e.message.contains("boom"), "\(e)")
            XCTAssertTrue(e.operation.contains("127.0.0.1:\(self.port)/error"), "\(e)")
        }
        XCTAssertEqual(s.retries.map(\.attempt), [1, 2])
    }

    func testAClientErrorIsNotRetried() throws {
        let s = try source("/bad-request", retries: 3)
        assertThrowsStrataError(try s.score(self.items)) { XCTAssertTrue($0.message.contains("HTTP 400") && $0.message.contains("no such model"), "\($0)") }
        XCTAssertTrue(s.retries.isEmpty)
    }

    func testMalformedJSONAndTheWrongCountAreErrorsNotZeros() throws {
        assertThrowsStrataError(try self.source("/malformed").score(self.items)) { e in
            XCTAssertTrue(e.message.contains("not a JSON object") && e.message.contains("{\"scores\": [1, 2"), "\(e)")
        }
        assertThrowsStrataError(try self.source("/wrong-count").score(self.items)) { XCTAssertTrue($0.message.contains("3 scores for 4 completions"), "\($0)") }
    }

    func testATransientFailureIsRetriedAndRecorded() throws {
        let s = try source("/flaky", retries: 2)
        XCTAssertEqual(try s.score(items), [1, 3, 2, 5])
        XCTAssertEqual(s.retries.count, 1)
        XCTAssertTrue(s.retries[0].reason.contains("HTTP 503"), s.retries[0].reason)
    }

    func testBadConfigurationIsRefusedNamingTheField() throws {
        assertThrowsStrataError(try HTTPRewardSource(.init(url: "ftp://127.0.0.1/x"))) { XCTAssertTrue($0.message.contains("'url'"), "\($0)") }
        assertThrowsStrataError(try HTTPRewardSource(.init(url: "http://127.0.0.1:1/x", timeoutSeconds: 0))) {
            XCTAssertTrue($0.message.contains("'timeout_seconds'"), "\($0)")
        }
        assertThrowsStrataError(try HTTPRewardSource(.init(url: "http://127.0.0.1:1/x", batchSize: 0))) { XCTAssertTrue($0.message.contains("'batch_size'"), "\($0)") }
    }

    func testAClosedPortFailsWithAConnectionError() throws {
        let s = try HTTPRewardSource(.init(url: "http://127.0.0.1:9/score", timeoutSeconds: 2, retries: 0))
        assertThrowsStrataError(try s.score(self.items)) { XCTAssertTrue($0.message.contains("gave up after 1 attempt"), "\($0)") }
    }
}
