// Loads a TRL prompt-only JSONL file up front, validating every line so a bad
// record fails naming file:line before any rollout (or is skipped and counted),
// and writes records back. Reuses StrataData's line reader. Also checks that
// every record has the columns a reward function needs, naming the first line
// that lacks one. Leaves out: streaming very large files, Arrow/Parquet, mixing
// files (callers concatenate).

import Foundation
import StrataCore
import StrataData

public struct PromptDataset: Sendable, Equatable {
    /// Valid records in file order.
    public var records: [PromptRecord]
    /// The 1-based line each record came from.
    public var lineNumbers: [Int]
    /// Lines that were bad and skipped (only with `skipBadLines`).
    public var skippedLines: Int
    /// The file the records were read from ("" when built in memory).
    public var path: String

    public init(records: [PromptRecord], lineNumbers: [Int]? = nil, skippedLines: Int = 0, path: String = "") {
        self.records = records
        self.lineNumbers = lineNumbers ?? records.indices.map { $0 + 1 }
        self.skippedLines = skippedLines
        self.path = path
    }

    /// "file:line" of record `index`, for error messages.
    public func location(_ index: Int) -> String { "\(path.isEmpty ? "prompts" : path):\(lineNumbers[index])" }

    /// Read and validate `url`. A bad line (bad JSON, no "prompt", unknown role, empty content, a prompt not
    /// ending with a user turn) throws a `.data` error naming file:line, or is skipped and counted. A file
    /// with no usable line throws too.
    public static func load(_ url: URL, skipBadLines: Bool = false) throws -> PromptDataset {
        var records: [PromptRecord] = [], lines: [Int] = []
        var parsed: PromptRecord?
        let skipped = try JSONLines.forEachObject(in: url, skipBadLines: skipBadLines, isBad: { object in
            switch PromptRecord.parse(object) {
            case .success(let r): parsed = r; return nil
            case .failure(let p): parsed = nil; return p.reason
            }
        }) { line, _ in
            guard let r = parsed else { return }
            records.append(r)
            lines.append(line)
        }
        if records.isEmpty {
            throw StrataError.data("read prompts \(url.path)", "no usable prompts (\(skipped) bad lines skipped)",
                                   fix: "give a JSONL file with {\"prompt\": \"...\"} or {\"prompt\": [messages]} records")
        }
        return PromptDataset(records: records, lineNumbers: lines, skippedLines: skipped, path: url.path)
    }

    /// Write records as TRL prompt-only JSONL (sorted keys, one record per line).
    public static func write(_ records: [PromptRecord], to url: URL) throws {
        try JSONLines.write(records, to: url)
    }

    /// Throws naming the first record (file:line) whose `column` is missing or not a scalar; `user` says who
    /// needs it (e.g. "reward rule exact_match").
    public func requireColumn(_ column: String, for user: String) throws {
        for (i, r) in records.enumerated() where r.text(column) == nil {
            let seen = r.columns[column].map { "is \($0.typeName)" } ?? "is missing"
            let have = r.columns.keys.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
            throw StrataError.data("\(user) on \(location(i))", "column \"\(column)\" \(seen) (columns: \(have.isEmpty ? "none" : have))",
                                   fix: "give every prompt a string \"\(column)\" column, or point the rule at another column")
        }
    }

    /// The records whose `column` holds one of `values` (line numbers kept, so errors still name the file's lines).
    /// Throws naming `key` when `values` is empty or no record matches, listing the values the column holds.
    public func keeping(column: String, values: [String], key: String) throws -> PromptDataset {
        guard !values.isEmpty else {
            throw StrataError.config(key, "values is empty", fix: "list the values to keep, e.g. \(key): {column: kind, values: [add, reverse]}")
        }
        try requireColumn(column, for: key)
        let wanted = Set(values)
        let keep = records.indices.filter { wanted.contains(records[$0].text(column)!) }
        guard !keep.isEmpty else {
            let seen = Set(records.compactMap { $0.text(column) }).sorted()
            let shown = seen.prefix(12).joined(separator: ", ") + (seen.count > 12 ? ", ..." : "")
            throw StrataError.config(key, "no prompt in \(path) has \(column) in [\(values.joined(separator: ", "))]",
                                     fix: "use values the column holds: \(shown)")
        }
        return PromptDataset(records: keep.map { records[$0] }, lineNumbers: keep.map { lineNumbers[$0] },
                             skippedLines: skippedLines, path: path)
    }
}
