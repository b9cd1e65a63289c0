// Scoring with a reward model: each line of a JSONL file is either a preference
// pair (TRL explicit or implicit: both responses scored, and whether the chosen
// one wins) or a prompt with a response (TRL messages ending in an assistant turn,
// or prompt/completion), rendered with the chat template and read at its last token.
// Output is one JSON object per input line. Leaves out: batching across lines of
// different kinds (each kind is batched separately), text-only records.

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataEval

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
            throw StrataError.config("score", "\(ckpt.url.path) is not a reward model (config.json architectures: \(loaded.model.config.architectures))",
                                     fix: "pass a checkpoint written by strata reward")
        }
        let chat = try InstructionEval.chatTokenizer(loaded.tokenizer)
        let url = URL(fileURLWithPath: c.file)
        let pad = Int32(rm.padTokenId), t = rm.config.nPositions
        if try isPreferenceFile(url) {
            let set = try PreferenceDataset.load(url)
            let rendered = try set.pairs.map { try ChatTemplate.chatML.render(pair: $0, chat) }
            let scores = try rewards(rm, rendered.flatMap { [$0.prompt + $0.chosen, $0.prompt + $0.rejected] }, pad: pad, limit: t,
                                     batch: c.batch, lines: set.lineNumbers.flatMap { [$0, $0] }, file: url.path)
            return set.lineNumbers.indices.map { i in
                Line(line: set.lineNumbers[i], chosen: scores[2 * i], rejected: scores[2 * i + 1], prefersChosen: scores[2 * i] > scores[2 * i + 1])
            }
        }
        let set = try SFTDataset.load(url)
        let seqs = try set.conversations.enumerated().map { i, conv -> [Int32] in
            guard conv.messages.last?.role == .assistant, conv.messages.count >= 2 else {
                throw StrataError.data("score \(url.path):\(set.lineNumbers[i])", "the record does not end with an assistant response",
                                       fix: "give prompt/completion or messages ending in an assistant turn")
            }
            let pair = PreferencePair(format: .conversational, prompt: Array(conv.messages.dropLast()), chosen: [conv.messages.last!],
                                      rejected: [conv.messages.last!], type: nil)
            let r = try ChatTemplate.chatML.render(pair: pair, chat)
            return r.prompt + r.chosen
        }
        let scores = try rewards(rm, seqs, pad: pad, limit: t, batch: c.batch, lines: set.lineNumbers, file: url.path)
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

    /// Rewards of token sequences, batched; a sequence longer than the model's positions is an error naming its line.
    static func rewards(_ rm: RewardModel, _ seqs: [[Int32]], pad: Int32, limit: Int, batch: Int, lines: [Int], file: String) throws -> [Double] {
        if let i = seqs.firstIndex(where: { $0.count > limit }) {
            throw StrataError.data("score \(file):\(lines[i])", "\(seqs[i].count) tokens exceed the reward model's n_positions \(limit)",
                                   fix: "shorten the record")
        }
        var out: [Double] = []
        for start in stride(from: 0, to: seqs.count, by: batch) {
            let chunk = Array(seqs[start..<min(seqs.count, start + batch)])
            let t = chunk.map(\.count).max()!
            let ids = chunk.flatMap { $0 + Array(repeating: pad, count: t - $0.count) }
            let r = try rm.rewards(ids, rows: chunk.count, time: t, tape: .noGrad(), positions: chunk.map { $0.count - 1 })
            out += (0..<r.count).map { Double(r.ptr[$0]) }
        }
        return out
    }
}
