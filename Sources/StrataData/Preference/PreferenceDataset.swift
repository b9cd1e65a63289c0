// Loads a preference JSONL file (TRL explicit or implicit prompt, see
// PreferencePair+Parse.swift) up front, validating every line so that a bad
// record fails naming file:line before training starts, or is skipped and
// counted. Also writes pairs back as TRL explicit JSONL. Leaves out: streaming
// very large files, Arrow/Parquet, and mixing files (callers concatenate).

import Foundation
import StrataCore

/// What loading does with TRL's per-pair "margin" column.
public enum PreferenceMarginUse: Sendable, Equatable {
    /// Keep it on each pair (the reward stage trains with it).
    case use
    /// Refuse a file that has it, naming the column: the stage would not apply it.
    case refuse
}

public struct PreferenceDataset: Codable, Sendable, Equatable {
    /// Valid pairs in file order.
    public var pairs: [PreferencePair]
    /// Lines that were bad and skipped (only with `skipBadLines`).
    public var skippedLines: Int
    /// The 1-based line number each pair came from.
    public var lineNumbers: [Int]

    public init(pairs: [PreferencePair], skippedLines: Int = 0, lineNumbers: [Int]? = nil) {
        self.pairs = pairs
        self.skippedLines = skippedLines
        self.lineNumbers = lineNumbers ?? (0..<pairs.count).map { $0 + 1 }
    }

    /// Number of pairs per "type" label ("" for pairs without one).
    public var typeCounts: [String: Int] {
        pairs.reduce(into: [:]) { $0[$1.type ?? "", default: 0] += 1 }
    }

    /// Read and validate `url`. A bad line (bad JSON, missing field, wrong type, unknown role,
    /// empty content, chosen == rejected, an implicit pair without a common prompt or with
    /// differing non-assistant turns) throws a `.data` error naming `file:line`, or is skipped and
    /// counted. An empty result (no usable line) throws too. A "margin" column throws (naming it) unless
    /// `margins` is `.use`: a stage that does not apply per-pair margins must not drop them silently.
    public static func load(_ url: URL, skipBadLines: Bool = false,
                            skipOption: BadLineSkip = .recipeKey("preference.skip_bad_lines"),
                            margins: PreferenceMarginUse = .refuse) throws -> PreferenceDataset {
        var pairs: [PreferencePair] = []
        var lines: [Int] = []
        var parsed: PreferencePair?
        let skipped = try JSONLines.forEachObject(in: url, skipBadLines: skipBadLines, skipOption: skipOption, isBad: { object in
            switch PreferencePair.parse(object) {
            case .success(let p): parsed = p; return nil
            case .failure(let e): parsed = nil; return e.reason
            }
        }) { line, _ in
            guard let p = parsed else { return }
            if let m = p.margin, margins == .refuse {
                throw StrataError.data("read \(url.path):\(line)", "column \"margin\" (\(m)) is TRL's per-pair reward-model margin, "
                                       + "which this stage does not apply",
                                       fix: "remove the \"margin\" column (strata reward applies it; preference.margin sets one margin for every pair)")
            }
            pairs.append(p)
            lines.append(line)
        }
        if pairs.isEmpty {
            throw StrataError.data("read preference data \(url.path)", "no usable pairs (\(skipped) bad lines skipped)",
                                   fix: "give a JSONL file with {\"prompt\", \"chosen\", \"rejected\"} or {\"chosen\", \"rejected\"} records")
        }
        return PreferenceDataset(pairs: pairs, skippedLines: skipped, lineNumbers: lines)
    }

    /// Write pairs as TRL explicit-prompt JSONL (sorted keys, one pair per line).
    public static func write(_ pairs: [PreferencePair], to url: URL) throws {
        try JSONLines.write(pairs, to: url)
    }

    /// Render every pair with `template` (see `ChatTemplate.render(pair:_:)`), in order.
    public func render(_ template: ChatTemplate, _ tokenizer: ChatTokenizer) throws -> [RenderedPair] {
        try pairs.map { try template.render(pair: $0, tokenizer) }
    }
}
