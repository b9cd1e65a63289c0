// Reading documents for tokenizer training and encoding: plain text (one document
// per line, the newline not included) or JSONL (one JSON object per line, text in
// a field, `text` by default). Invalid UTF-8 (a binary file) is an error naming file
// and line, as in `data prepare` (a tokenizer must not learn from what the data step
// would refuse); a JSONL line that is
// not JSON or lacks the field is an error naming file and line, or is skipped and
// counted with skipBadLines. Also the one-array-per-line id format of the CLI.
// Leaves out: streaming (files are read whole), compressed input, Parquet.

import Foundation
import StrataCore

public enum TextSource {
    public enum Format: String, Sendable, CaseIterable {
        /// JSONL for .jsonl/.ndjson files, plain text otherwise.
        case auto
        case text
        case jsonl
    }

    public struct Config: Sendable {
        /// How to read files (default .auto, by extension).
        public var format: Format = .auto
        /// JSONL field holding the text (default "text").
        public var field: String = "text"
        /// Skip (and count) JSONL lines that are not JSON or lack the field, instead of failing (default false).
        public var skipBadLines: Bool = false
        public init(format: Format = .auto, field: String = "text", skipBadLines: Bool = false) {
            self.format = format; self.field = field; self.skipBadLines = skipBadLines
        }
    }

    public struct Documents: Sendable {
        public var texts: [String] = []
        /// Bad JSONL lines skipped (only with skipBadLines).
        public var skippedLines = 0
        public var bytes = 0
    }

    /// Reads every file in order into one list of documents.
    public static func read(_ files: [URL], config: Config = Config()) throws -> Documents {
        var docs = Documents()
        for url in files {
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw StrataError.io("read \(url.path)", "file does not exist or cannot be read", fix: "check the path")
            }
            docs.bytes += data.count
            if isJSONL(url, config.format) {
                try readJSONL(data, file: url.path, config: config, into: &docs)
            } else {
                for (i, line) in lines(data).enumerated() { docs.texts.append(try utf8(line, file: url.path, line: i + 1)) }
            }
        }
        return docs
    }

    static func isJSONL(_ url: URL, _ format: Format) -> Bool {
        switch format {
        case .text: return false
        case .jsonl: return true
        case .auto: return ["jsonl", "ndjson"].contains(url.pathExtension.lowercased())
        }
    }

    /// The lines of a file without their "\n"; a final newline does not start a new line.
    static func lines(_ data: Data) -> [Data.SubSequence] {
        var parts = data.split(separator: 0x0A, omittingEmptySubsequences: false)
        if parts.last?.isEmpty == true { parts.removeLast() }
        return parts
    }

    static func readJSONL(_ data: Data, file: String, config: Config, into docs: inout Documents) throws {
        for (i, raw) in lines(data).enumerated() {
            do {
                let text = try utf8(raw, file: file, line: i + 1)
                if text.allSatisfy({ $0.isWhitespace }) { continue }
                docs.texts.append(try document(text, field: config.field, file: file, line: i + 1))
            } catch let e as StrataError where config.skipBadLines && e.kind == .data {
                docs.skippedLines += 1
            }
        }
    }

    /// One line as text; invalid UTF-8 is an error naming the file, the line and the byte offset in it.
    static func utf8(_ bytes: Data.SubSequence, file: String, line: Int) throws -> String {
        if let s = String(validating: bytes, as: UTF8.self) { return s }
        var parser = Unicode.UTF8.ForwardParser(), it = bytes.makeIterator(), offset = 0
        scan: while true {
            switch parser.parseScalar(from: &it) {
            case .valid(let scalar): offset += scalar.count
            case .error, .emptyInput: break scan
            }
        }
        throw StrataError.data("read \(file):\(line)", "line is not valid UTF-8 (at byte \(offset) of the line; is this a binary file?)",
                               fix: "convert the file to UTF-8 text, or remove it from the inputs")
    }

    /// The text field of one JSONL line (1-based `line` for messages).
    public static func document(_ line: String, field: String, file: String, line number: Int) throws -> String {
        let op = "read \(file):\(number)"
        guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)), let dict = obj as? [String: Any] else {
            throw StrataError.data(op, "line is not a JSON object", fix: "fix the line or pass --skip-bad-lines")
        }
        guard let text = dict[field] as? String else {
            let seen = dict[field] == nil ? "has no field '\(field)'" : "field '\(field)' is not a string"
            throw StrataError.data(op, "line \(seen)", fix: "use --field to name the text field, or pass --skip-bad-lines")
        }
        return text
    }
}

/// The CLI's id format: one JSON array of integers per line.
public enum TokenIDLines {
    public static func format(_ ids: [Int]) -> String {
        var s = "["
        for (i, id) in ids.enumerated() {
            if i > 0 { s += "," }
            s += String(id)
        }
        return s + "]"
    }

    /// Parses "[1,2,3]" (spaces allowed); errors name file and line.
    public static func parse(_ line: String, file: String, line number: Int) throws -> [Int] {
        let op = "read \(file):\(number)"
        let t = line.trimmingCharacters(in: .whitespaces)
        guard t.hasPrefix("["), t.hasSuffix("]") else {
            throw StrataError.data(op, "line is not a JSON array of ids", fix: "give the output of `strata tokenizer encode`")
        }
        let body = t.dropFirst().dropLast()
        if body.allSatisfy({ $0 == " " }) { return [] }
        return try body.split(separator: ",").map { part in
            guard let v = Int(part.trimmingCharacters(in: .whitespaces)) else {
                throw StrataError.data(op, "'\(part)' is not an integer id", fix: "give the output of `strata tokenizer encode`")
            }
            return v
        }
    }
}
