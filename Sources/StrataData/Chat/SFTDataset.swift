// Loads a whole SFT JSONL file up front and validates every line, so a bad
// record fails (naming file and line) before training starts, or is skipped and
// counted. Leaves out: streaming very large files, Hugging Face datasets' Arrow
// or Parquet files, and mixing several files (callers concatenate).

import Foundation
import StrataCore

public struct SFTDataset: Codable, Sendable, Equatable {
    /// Valid samples in file order.
    public var conversations: [Conversation]
    /// Lines that were bad and skipped (only with `skipBadLines`).
    public var skippedLines: Int
    /// The 1-based line number each conversation came from.
    public var lineNumbers: [Int]

    public init(conversations: [Conversation], skippedLines: Int = 0, lineNumbers: [Int]? = nil) {
        self.conversations = conversations
        self.skippedLines = skippedLines
        self.lineNumbers = lineNumbers ?? (0..<conversations.count).map { $0 + 1 }
    }

    /// Number of samples per format.
    public var formatCounts: [Conversation.Format: Int] {
        conversations.reduce(into: [:]) { $0[$1.format, default: 0] += 1 }
    }

    /// Read and validate `url`. A bad line (bad JSON, unknown role, impossible order, empty
    /// content) throws a `.data` error naming `file:line`, or is skipped and counted.
    /// An empty result (no usable line) throws too.
    public static func load(_ url: URL, skipBadLines: Bool = false,
                            skipOption: BadLineSkip = .recipeKey("sft.skip_bad_lines")) throws -> SFTDataset {
        var conversations: [Conversation] = []
        var lines: [Int] = []
        var parsed: Conversation?
        let skipped = try JSONLines.forEachObject(in: url, skipBadLines: skipBadLines, skipOption: skipOption, isBad: { object in
            switch Conversation.parse(object) {
            case .success(let c): parsed = c; return nil
            case .failure(let p): parsed = nil; return p.reason
            }
        }) { line, _ in
            guard let c = parsed else { return }
            conversations.append(c)
            lines.append(line)
        }
        if conversations.isEmpty {
            throw StrataError.data("read SFT data \(url.path)",
                                   "no usable samples (\(skipped) bad lines skipped)",
                                   fix: "give a JSONL file with \"messages\", \"prompt\"/\"completion\" or \"text\" records")
        }
        return SFTDataset(conversations: conversations, skippedLines: skipped, lineNumbers: lines)
    }

    /// Render every sample with `template` (inputs, next-token targets and loss mask), in order.
    public func render(_ template: ChatTemplate, _ tokenizer: ChatTokenizer) throws -> [RenderedSample] {
        try conversations.map { try template.render($0, tokenizer) }
    }
}
