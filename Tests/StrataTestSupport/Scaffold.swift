// Test scaffolding shared by every test target: a scratch directory per test,
// removed when the test ends, and the assertions that a call is refused with a
// StrataError (of a kind, naming what it must name).
// Leaves out: fixtures (each target keeps its own Fixtures folder) and anything
// numeric (GradCheck.swift).

import Foundation
import XCTest
import StrataCore

extension XCTestCase {
    /// A fresh, empty directory for this test (named after the test case, the test and the process), removed when
    /// the test ends; a second call in one test with the same `name` empties it again.
    public func scratchDirectory(_ name: String = #function) throws -> URL {
        let label = "\(type(of: self))-\(name)".filter { $0.isLetter || $0.isNumber || $0 == "-" }
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("strata-tests-\(ProcessInfo.processInfo.processIdentifier)-\(label)")
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }
}

/// Runs `body`, expecting a StrataError, and hands it to `check`; anything else (no error, another error) fails.
public func assertThrowsStrataError(_ body: @autoclosure () throws -> Any, file: StaticString = #filePath, line: UInt = #line,
                                    _ check: (StrataError) -> Void) {
    do {
        _ = try body()
        XCTFail("expected a StrataError, but nothing was thrown", file: file, line: line)
    } catch let e as StrataError {
        check(e)
    } catch {
        XCTFail("expected a StrataError, got \(error)", file: file, line: line)
    }
}

/// Asserts `body` throws a StrataError (of `kind`, when given) whose text contains every one of `needles` and none
/// of `absent`.
public func assertStrataError(_ body: @autoclosure () throws -> Any, kind: StrataError.Kind? = nil, contains needles: [String],
                              lacks absent: [String] = [], file: StaticString = #filePath, line: UInt = #line) {
    assertThrowsStrataError(try body(), file: file, line: line) { e in
        if let kind { XCTAssertEqual(e.kind, kind, "wrong kind for: \(e)", file: file, line: line) }
        for n in needles { XCTAssertTrue(e.description.contains(n), "'\(n)' not in: \(e)", file: file, line: line) }
        for n in absent { XCTAssertFalse(e.description.contains(n), "'\(n)' should not be in: \(e)", file: file, line: line) }
    }
}

/// The same with the call last, as a closure: `assertStrataError(.io, ["checksum"]) { try store.verify() }`.
public func assertStrataError<T>(_ kind: StrataError.Kind, _ needles: [String], file: StaticString = #filePath, line: UInt = #line,
                                 _ body: () throws -> T) {
    assertStrataError(try body(), kind: kind, contains: needles, file: file, line: line)
}
