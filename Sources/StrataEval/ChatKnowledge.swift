// Knowledge measured through the chat interface without generating: for each
// held-out world question (QA "test" split), the log-probability of the correct
// answer and of its distractors as the assistant's whole reply (the reference
// sentence with that answer — "Ilse Marno was born in Paris." — plus the end-of-message token) after the question rendered as generation prompts are; accuracy = the correct
// answer ranked first, overall and by period. Unlike exact match it does not need
// the model to have learnt the reply format, so it separates "knows the fact"
// from "answers in the asked-for way" — before and after SFT or DPO.
// Questions whose prompt and longest candidate reply exceed the model's context are
// skipped and counted (chat_rank_skipped).
// Leaves out: length normalisation (candidates are short names, years and words).

import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataTokenizer

public enum ChatKnowledge {
    /// Metrics "chat_rank_acc", "chat_rank_acc.<period>", "chat_rank_count" over up to `limit` test questions
    /// (seeded choice), with `batch` rows per forward pass.
    public static func evaluate(model: any CausalLM, tokenizer: BPETokenizer, template: ChatTemplate = .chatML, qa: [SyntheticWorld.QAPair],
                                limit: Int, seed: UInt64 = 0, batch: Int = 32) throws -> [String: Double] {
        let chat = try InstructionEval.chatTokenizer(tokenizer, template: template)
        guard let end = chat.specialID(template.messageEnd) else { return [:] }
        var pool = qa.filter { $0.split == "test" && !$0.distractors.isEmpty }
        var rng = StrataRNG(seed: seed)
        rng.shuffle(&pool)
        let questions = Array(pool.prefix(limit))
        var correct: [String: (Int, Int)] = [:], skipped = 0
        for q in questions {
            let promptIDs = try template.promptTokens([ChatMessage(.user, q.question)], chat).map { Int32($0) }
            let candidates = [q.answer] + q.distractors
            let responses = candidates.map { tokenizer.encode(q.reply(answering: $0)).map(Int32.init) + [Int32(end)] }
            // A question whose prompt and longest reply do not fit the model's context is skipped and counted.
            guard promptIDs.count + (responses.map(\.count).max() ?? 0) <= model.contextLength else { skipped += 1; continue }
            let rows = try scores(model: model, prompt: promptIDs, responses: responses, pad: Int32(tokenizer.eosID ?? 0), batch: batch)
            let best = rows.indices.max { rows[$0] < rows[$1] }!
            for key in ["all", q.period] {
                correct[key, default: (0, 0)].1 += 1
                if best == 0 { correct[key, default: (0, 0)].0 += 1 }
            }
        }
        var out: [String: Double] = ["chat_rank_count": Double(questions.count - skipped)]
        if skipped > 0 { out["chat_rank_skipped"] = Double(skipped) }
        for (k, (ok, n)) in correct where n > 0 { out[k == "all" ? "chat_rank_acc" : "chat_rank_acc." + k] = Double(ok) / Double(n) }
        return out
    }

    static func scores(model: any CausalLM, prompt: [Int32], responses: [[Int32]], pad: Int32, batch: Int) throws -> [Float] {
        var out: [Float] = []
        for start in stride(from: 0, to: responses.count, by: batch) {
            let chunk = Array(responses[start..<min(responses.count, start + batch)])
            let rb = try ResponseBatch(prompts: Array(repeating: prompt, count: chunk.count), responses: chunk, padId: pad)
            let lp = try model.sequenceLogProbs(rb, tape: .noGrad())
            out += (0..<lp.logps.count).map { lp.logps.ptr[$0] }
        }
        return out
    }
}
