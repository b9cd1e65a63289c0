// Scoring with a Strata reward-model checkpoint, shared by `strata score` and
// the RL stages so both read a reply's reward the same way: the prompt
// messages and the reply are rendered as a conversational preference response
// (template prompt + generation prompt, reply content + end-of-message), and
// the reward is read at that last token in right-padded no-grad batches.
// `RewardModelSource` wraps this as a reward source. Leaves out: loading the
// checkpoint (callers pass the model, tokenizer and identity) and value heads.

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataTokenizer
import StrataEval

public enum RewardModelScoring {
    /// The token ids a reward model scores for `prompt` followed by the assistant `response` turns.
    public static func sequence(prompt: [ChatMessage], response: [ChatMessage], chat: ChatTokenizer,
                                template: ChatTemplate = .chatML) throws -> [Int32] {
        let r = try template.render(pair: PreferencePair(format: .conversational, prompt: prompt, chosen: response, rejected: response), chat)
        return r.sequence(chosen: true)
    }

    /// Rewards of token sequences in batches of `batchRows`, each read at its last token. A sequence longer than
    /// the model's n_positions is an error at `location(index)` (e.g. "score data.jsonl:7").
    public static func rewards(_ rm: RewardModel, _ seqs: [[Int32]], batchRows: Int, location: (Int) -> String) throws -> [Double] {
        let limit = rm.trunk.contextLength, pad = Int32(truncatingIfNeeded: rm.padTokenId)
        if let i = seqs.firstIndex(where: { $0.count > limit || $0.isEmpty }) {
            throw StrataError.data(location(i), "\(seqs[i].count) tokens do not fit the reward model's n_positions \(limit)",
                                   fix: "shorten the record (or the reply budget)")
        }
        var out: [Double] = []
        out.reserveCapacity(seqs.count)
        for start in stride(from: 0, to: seqs.count, by: max(1, batchRows)) {
            let chunk = Array(seqs[start..<min(seqs.count, start + max(1, batchRows))])
            let t = chunk.map(\.count).max()!
            let ids = chunk.flatMap { $0 + Array(repeating: pad, count: t - $0.count) }
            let r = try rm.rewards(ids, rows: chunk.count, time: t, tape: .noGrad(), positions: chunk.map { $0.count - 1 })
            out += (0..<r.count).map { Double(r.ptr[$0]) }
        }
        return out
    }
}

/// A reward-model checkpoint as a reward source.
public final class RewardModelSource: RewardSource {
    public let identity: RewardSourceIdentity
    public let model: RewardModel
    let chat: ChatTokenizer
    let template: ChatTemplate
    let batchRows: Int

    /// `checkpoint` and `sha256` identify the checkpoint in lineage. Throws when the tokenizer lacks the chat tokens.
    public init(model: RewardModel, tokenizer: BPETokenizer, checkpoint: String, sha256: String, name: String = "reward_model",
                template: ChatTemplate = .chatML, batchRows: Int = 16) throws {
        guard batchRows >= 1 else { throw StrataError.config("reward model source", "batch rows is \(batchRows)", fix: "give at least 1") }
        self.model = model
        chat = try InstructionEval.chatTokenizer(tokenizer, template: template)
        self.template = template
        self.batchRows = batchRows
        identity = RewardSourceIdentity(kind: .rewardModel, name: name, checkpoint: checkpoint, sha256: sha256,
                                        parameters: ["template": template.name])
    }

    public func score(_ items: [RewardItem]) throws -> [Double] {
        let seqs = try items.map {
            try RewardModelScoring.sequence(prompt: $0.prompt.messages, response: [ChatMessage(.assistant, $0.reply)], chat: chat, template: template)
        }
        return try RewardModelScoring.rewards(model, seqs, batchRows: batchRows) { "reward model \(identity.name), reply \($0)" }
    }
}
