// Helpers shared by the checkpoint tests: per-test temporary directories, a
// builder for hand-made safetensors bytes (any header text, any length field), and
// assertions that an expression throws a StrataError of a given kind and message.
// Leaves out: anything the library itself should provide.

import Foundation
import XCTest
import StrataCore
@testable import StrataCheckpoint

enum TestFiles {
    /// This test process's scratch root (removed by `removeTempDirs`).
    static var tempRoot: URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("strata-checkpoint-tests-\(getpid())")
    }

    /// A fresh empty directory for one test, under the system temp directory.
    static func makeTempDir(_ label: String) throws -> URL {
        let dir = tempRoot.appendingPathComponent(label)
        try? FileManager.default.removeItem(at: dir)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static func removeTempDirs() { try? FileManager.default.removeItem(at: tempRoot) }

    /// Safetensors bytes: 8-byte length (or `length` when given), header bytes, buffer.
    static func raw(header: [UInt8], buffer: [UInt8] = [], length: UInt64? = nil) -> Data {
        var d = Data()
        withUnsafeBytes(of: (length ?? UInt64(header.count)).littleEndian) { d.append(contentsOf: $0) }
        d.append(contentsOf: header)
        d.append(contentsOf: buffer)
        return d
    }

    static func raw(header: String, buffer: [UInt8] = [], length: UInt64? = nil) -> Data {
        raw(header: Array(header.utf8), buffer: buffer, length: length)
    }

    /// One-tensor header text.
    static func entry(_ name: String, _ dtype: String, _ shape: String, _ begin: Int, _ end: Int) -> String {
        "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":[\(begin),\(end)]}"
    }

    static func leBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
    }

    static func fixture(_ name: String) throws -> URL {
        guard let url = Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: nil) else {
            throw StrataError.io("test fixture", "missing fixture \(name)")
        }
        return url
    }
}

