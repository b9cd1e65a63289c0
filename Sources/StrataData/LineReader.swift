// Reads a file line by line in 1 MiB chunks so large JSONL files never load
// whole, and the JSON-lines helpers built on it: every problem names the file
// and the 1-based line, and bad lines can be skipped and counted. The SFT and
// preference stages reuse `JSONLines` for their datasets.
// Leaves out: compressed input, other encodings than UTF-8.

import Foundation
import StrataCore

public enum LineReader {
    /// Call `body(lineNumber, bytes)` for every line (without "\n" or a trailing "\r"),
    /// with a leading UTF-8 byte-order mark removed. Line numbers start at 1.
    public static func forEachLine(in url: URL, _ body: (Int, ArraySlice<UInt8>) throws -> Void) throws {
        guard let fh = FileHandle(forReadingAtPath: url.path) else {
            throw StrataError.io("read \(url.path)", "file does not exist or cannot be read", fix: "check the path")
        }
        defer { try? fh.close() }
        var pending: [UInt8] = []
        var line = 0
        var first = true
        var scanned = 0
        while true {
            let chunk = fh.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            pending.append(contentsOf: chunk)
            if first {
                first = false
                if pending.starts(with: [0xEF, 0xBB, 0xBF]) { pending.removeFirst(3) }
            }
            var start = 0
            while let nl = pending[max(start, scanned)...].firstIndex(of: 0x0A) {
                line += 1
                try body(line, trimCR(pending[start..<nl]))
                start = nl + 1
            }
            pending.removeFirst(start)
            scanned = pending.count   // the rest holds no newline; a long line is not rescanned
        }
        if !pending.isEmpty {
            line += 1
            try body(line, trimCR(pending[...]))
        }
    }

    private static func trimCR(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        s.last == 0x0D ? s.dropLast() : s
    }

    /// Decode UTF-8 or throw an error naming the file and line.
    static func string(_ bytes: ArraySlice<UInt8>, file: String, line: Int) throws -> String {
        guard let s = String(bytes: bytes, encoding: .utf8) else {
            throw StrataError.data("read \(file):\(line)", "line \(line) is not valid UTF-8",
                                   fix: "convert the file to UTF-8")
        }
        return s
    }
}

/// Where a user turns on skipping bad lines, named in a bad line's error so the fix can be applied as written.
public enum BadLineSkip: Sendable, Equatable {
    /// A command-line flag, e.g. "--skip-bad-lines" (`strata data prepare`).
    case flag(String)
    /// A recipe key, e.g. "sft.skip_bad_lines" (set in the recipe or with --set).
    case recipeKey(String)
    /// No way to skip: the line must be fixed.
    case none

    /// The error's fix text.
    public var advice: String {
        switch self {
        case .flag(let f): return "fix or remove the line, or pass \(f) to skip bad lines and count them"
        case .recipeKey(let k):
            return "fix or remove the line, or set \(k): true in the recipe (or --set \(k)=true) to skip bad lines and count them"
        case .none: return "fix or remove the line"
        }
    }
}

public enum JSONLines {
    /// Parse every non-blank line as a JSON object and call `body(lineNumber, object)`.
    /// A line that is not valid JSON or not an object throws a `.data` error naming the file and
    /// line, unless `skipBadLines`, in which case it is skipped. `isBad` lets the caller reject
    /// more lines (returning a reason, e.g. a missing field) under the same rule.
    /// Returns the number of skipped bad lines. The error's fix names `skipOption`.
    @discardableResult
    public static func forEachObject(in url: URL, skipBadLines: Bool = false, skipOption: BadLineSkip = .flag("--skip-bad-lines"),
                                     isBad: ([String: Any]) -> String? = { _ in nil },
                                     _ body: (Int, [String: Any]) throws -> Void) throws -> Int {
        var bad = 0
        try LineReader.forEachLine(in: url) { line, bytes in
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
            let problem: String?
            var object: [String: Any] = [:]
            if let parsed = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed]) {
                if let dict = parsed as? [String: Any] {
                    object = dict
                    problem = isBad(dict)
                } else {
                    problem = "line is JSON but not an object ({...})"
                }
            } else {
                problem = "line is not valid JSON: \(preview(bytes))"
            }
            if let problem {
                if skipBadLines { bad += 1; return }
                throw StrataError.data("read \(url.path):\(line)", problem, fix: skipOption.advice)
            }
            try body(line, object)
        }
        return bad
    }

    /// Decode every non-blank line into `T`; errors name the file, line and field.
    /// Returns the number of skipped bad lines (only when `skipBadLines`).
    @discardableResult
    public static func forEachRecord<T: Decodable>(_ type: T.Type, in url: URL, skipBadLines: Bool = false,
                                                   skipOption: BadLineSkip = .flag("--skip-bad-lines"), _ body: (Int, T) throws -> Void) throws -> Int {
        var bad = 0
        try LineReader.forEachLine(in: url) { line, bytes in
            if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { return }
            let record: T
            do {
                record = try StrataJSON.decode(T.self, from: Data(bytes), file: "\(url.path):\(line)")
            } catch let e as StrataError {
                if skipBadLines { bad += 1; return }
                throw StrataError.data(e.operation, e.message, fix: skipOption.advice)   // the operation names file:line
            }
            try body(line, record)
        }
        return bad
    }

    /// Write records one per line (sorted keys, no pretty printing), deterministic bytes.
    public static func write<T: Encodable>(_ records: [T], to url: URL) throws {
        var out = Data()
        for r in records {
            out.append(try StrataJSON.encode(r, pretty: false))
            out.append(0x0A)
        }
        do { try out.write(to: url) } catch {
            throw StrataError.file("write \(url.path)", path: url.path, error)
        }
    }

    private static func preview(_ bytes: ArraySlice<UInt8>) -> String {
        let s = String(decoding: bytes.prefix(60), as: UTF8.self)
        return bytes.count > 60 ? "\"\(s)...\"" : "\"\(s)\""
    }
}
