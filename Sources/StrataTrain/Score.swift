// Scoring with a reward model: each line of a JSONL file is either a preference
// pair (TRL explicit or implicit: both responses scored, and whether the chosen
// one wins) or a prompt with a response (TRL messages ending in an assistant turn,
// or prompt/completion), rendered with the chat template and read where transformers
// reads it (the rightmost non-pad token; RewardModel.swift).
// Output is one JSON object per input line. Rendering and batched reading are
// StrataRL's RewardModelScoring, shared with the RL stages' reward-model source.
// Leaves out: batching across lines of different kinds (each kind is batched
// separately), text-only records.

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataEval
import StrataRL

public enum Score {
    public struct Config {
        /// Reward-model checkpoint (directory, or a run directory).
        public var rewardModel = ""
        /// JSONL of preference pairs or prompt/response records.
        public var file = ""
        /// Rows per forward pass.
        public var batch = 16
        public init(rewardModel: String = "", file: String = "") { self.rewardModel = rewardModel; self.file = file }
    }

    public struct Line: Codable, Sendable {
        public var line: Int
        /// Prompt/response records.
        public var score: Double?
        /// Preference pairs.
        public var chosen: Double?
        public var rejected: Double?
        public var prefersChosen: Bool?
        enum CodingKeys: String, CodingKey { case line, score, chosen, rejected, prefersChosen = "prefers_chosen" }
    }

    /// Scores in file order; pairs when the file holds preference records (its first line has "chosen").
    public static func run(_ c: Config) throws -> [Line] {
        let ckpt = try TrainingCheckpoint.resolve(c.rewardModel)
        let loaded = try TrainingCheckpoint.load(ckpt)
        guard let rm = loaded.reward else {
            throw StrataError.config("score", "\(ckpt.url.path) is not a reward model (config.json architectures: \(loaded.model.architectures))",
                                     fix: "pass a checkpoint written by strata reward")
        }
        let chat = try InstructionEval.chatTokenizer(loaded.tokenizer)
        let url = URL(fileURLWithPath: c.file)
        if try isPreferenceFile(url) {
            let set = try PreferenceDataset.load(url, skipOption: .none)
            let rendered = try set.pairs.map { try ChatTemplate.chatML.render(pair: $0, chat) }
            let scores = try rewards(rm, rendered.flatMap { [$0.sequence(chosen: true), $0.sequence(chosen: false)] },
                                     batch: c.batch, lines: set.lineNumbers.flatMap { [$0, $0] }, file: url.path)
            return set.lineNumbers.indices.map { i in
                Line(line: set.lineNumbers[i], chosen: scores[2 * i], rejected: scores[2 * i + 1], prefersChosen: scores[2 * i] > scores[2 * i + 1])
            }
        }
        let set = try SFTDataset.load(url, skipOption: .none)
        let seqs = try set.conversations.enumerated().map { i, conv -> [Int32] in
            guard conv.messages.last?.role == .assistant, conv.messages.count >= 2 else {
                throw StrataError.data("score \(url.path):\(set.lineNumbers[i])", "the record does not end with an assistant response",
                                       fix: "give prompt/completion or messages ending in an assistant turn")
            }
            return try RewardModelScoring.sequence(prompt: Array(conv.messages.dropLast()), response: [conv.messages.last!], chat: chat)
        }
        let scores = try rewards(rm, seqs, batch: c.batch, lines: set.lineNumbers, file: url.path)
        return zip(set.lineNumbers, scores).map { Line(line: $0, score: $1) }
    }

    /// Whether the first non-blank line is a JSON object with "chosen". Only that line is looked at (as
    /// bytes), so a damaged or binary file is left to the dataset reader, whose errors name the line.
    static func isPreferenceFile(_ url: URL) throws -> Bool {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw StrataError.io("score \(url.path)", "file does not exist or cannot be read", fix: "check the path")
        }
        guard let first = data.split(separator: 0x0A).first(where: { !$0.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D } }),
              let obj = try? JSONSerialization.jsonObject(with: Data(first)) as? [String: Any] else { return false }
        return obj["chosen"] != nil
    }

    /// Rewards of token sequences through the shared reward-model scoring (StrataRL), errors naming file:line.
    static func rewards(_ rm: RewardModel, _ seqs: [[Int32]], batch: Int, lines: [Int], file: String) throws -> [Double] {
        try RewardModelScoring.rewards(rm, seqs, batchRows: batch) { "score \(file):\(lines[$0])" }
    }
}
