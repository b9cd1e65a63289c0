// Reads documents from plain-text and JSONL files for data preparation. JSONL
// documents come from one string field (default "text"); text files are one
// document per file, per blank-line-separated paragraph, or per line.
// Whitespace-only documents are skipped and counted; JSONL lines that are not
// JSON objects or lack the field are errors naming file and line (or skipped and
// counted). Leaves out: other formats (CSV, Parquet), nested field paths.

import Foundation
import StrataCore

public enum DocumentReader {
    public enum Format: String, Codable, Sendable, CaseIterable {
        case auto, text, jsonl

        /// The format `.auto` resolves to for a file: JSONL for .jsonl/.ndjson, text otherwise.
        public func resolved(for url: URL) -> Format {
            guard self == .auto else { return self }
            return ["jsonl", "ndjson"].contains(url.pathExtension.lowercased()) ? .jsonl : .text
        }
    }

    /// How a plain-text file is cut into documents.
    public enum TextSplit: String, Codable, Sendable, CaseIterable {
        case file, paragraph, line
    }

    public struct Options: Codable, Sendable {
        public var format: Format = .auto
        public var textField: String = "text"
        public var textSplit: TextSplit = .file
        public var skipBadLines: Bool = false
        public init(format: Format = .auto, textField: String = "text", textSplit: TextSplit = .file, skipBadLines: Bool = false) {
            self.format = format
            self.textField = textField
            self.textSplit = textSplit
            self.skipBadLines = skipBadLines
        }
    }

    public struct Document: Sendable {
        public let text: String
        /// 1-based line where the document starts.
        public let line: Int
        /// Position among the file's documents, counting skipped empty ones (stable under edits elsewhere).
        public let index: Int
    }

    public struct Stats: Codable, Equatable, Sendable {
        public var documents = 0
        public var emptyDocuments = 0
        public var badLines = 0
        public var emptyFile = false
        public init() {}
    }

    /// Read `url` and call `body` for each non-empty document.
    @discardableResult
    public static func read(_ url: URL, options: Options = Options(), _ body: (Document) throws -> Void) throws -> Stats {
        var stats = Stats()
        var index = 0
        let emit: (String, Int) throws -> Void = { text, line in
            defer { index += 1 }
            if text.allSatisfy({ $0.isWhitespace }) { stats.emptyDocuments += 1; return }
            stats.documents += 1
            try body(Document(text: text, line: line, index: index))
        }
        let attrs = try? FileManager.default.attributesOfItem(atPath: url.path)
        guard let size = attrs?[.size] as? Int else {
            throw StrataError.io("read \(url.path)", "file does not exist or cannot be read", fix: "check the path")
        }
        if size == 0 { stats.emptyFile = true; return stats }
        switch options.format.resolved(for: url) {
        case .jsonl:
            stats.badLines = try readJSONL(url, options: options, emit)
        default:
            try readText(url, split: options.textSplit, emit)
        }
        if stats.documents == 0 && stats.emptyDocuments == 0 && stats.badLines == 0 { stats.emptyFile = true }
        return stats
    }

    private static func readJSONL(_ url: URL, options: Options, _ emit: (String, Int) throws -> Void) throws -> Int {
        let field = options.textField
        return try JSONLines.forEachObject(in: url, skipBadLines: options.skipBadLines, isBad: { obj in
            guard let v = obj[field] else { return "missing field '\(field)'" }
            return v is String ? nil : "field '\(field)' is not a string"
        }) { line, obj in
            try emit(obj[field] as! String, line)
        }
    }

    private static func readText(_ url: URL, split: TextSplit, _ emit: (String, Int) throws -> Void) throws {
        switch split {
        case .file:
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw StrataError.io("read \(url.path)", "file cannot be read")
            }
            var bytes = [UInt8](data)
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
            guard let text = String(bytes: bytes, encoding: .utf8) else {
                throw StrataError.data("read \(url.path)", "file is not valid UTF-8", fix: "convert the file to UTF-8")
            }
            try emit(text, 1)
        case .line:
            try LineReader.forEachLine(in: url) { line, bytes in
                try emit(try LineReader.string(bytes, file: url.path, line: line), line)
            }
        case .paragraph:
            var lines: [String] = []
            var startLine = 1
            try LineReader.forEachLine(in: url) { line, bytes in
                let s = try LineReader.string(bytes, file: url.path, line: line)
                if s.allSatisfy({ $0.isWhitespace }) {
                    if !lines.isEmpty { try emit(lines.joined(separator: "\n"), startLine); lines.removeAll() }
                } else {
                    if lines.isEmpty { startLine = line }
                    lines.append(s)
                }
            }
            if !lines.isEmpty { try emit(lines.joined(separator: "\n"), startLine) }
        }
    }
}
