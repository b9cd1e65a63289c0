// The rollout engine: renders prompt records (conversational ones through the
// chat template and its generation prompt, plain ones as raw text, as TRL
// does), samples replies from the policy in batches with the KV cache
// (GPT2.generate), and returns one `Rollout` per (prompt, sample). Each row's
// sampling stream is seeded by (config seed, step, row), so a resumed run
// redraws the same tokens and a row sampled alone equals the same row in a
// batch. Generation stops at the template's end-of-message token or end of
// text. A prompt that leaves no room for max_new_tokens is an error naming it.
// Leaves out: left-truncating long prompts, stop strings, speculative decoding.

import Foundation
import StrataCore
import StrataModel
import StrataData
import StrataTokenizer
import StrataEval

public struct RolloutEngine {
    public let model: any CausalLM
    public let tokenizer: BPETokenizer
    public let template: ChatTemplate
    public let config: RolloutConfig
    /// Chat rendering; nil when the tokenizer lacks the template's tokens (then only plain prompts work).
    let chat: ChatTokenizer?
    /// End of text and the template's end-of-message token, when the tokenizer has them.
    public let stopTokens: [Int32]

    /// Throws when the config is out of range or the tokenizer's vocabulary exceeds the model's.
    public init(model: any CausalLM, tokenizer: BPETokenizer, template: ChatTemplate = .chatML, config: RolloutConfig) throws {
        try config.validate(contextLength: model.contextLength)
        try model.requireDecoder(for: "rollout engine", source: "the policy")   // an encoder cannot generate left to right
        guard tokenizer.vocabSize <= model.vocabSize else {
            throw StrataError.config("rollout engine", "the tokenizer has \(tokenizer.vocabSize) ids but the model's vocab_size is \(model.vocabSize)",
                                     fix: "use the tokenizer.json saved with the policy checkpoint")
        }
        self.model = model; self.tokenizer = tokenizer; self.template = template; self.config = config
        chat = try? InstructionEval.chatTokenizer(tokenizer, template: template)
        stopTokens = ([tokenizer.eosID] + [tokenizer.id(forSpecial: template.messageEnd)]).compactMap { $0.map(Int32.init) }
    }

    /// The prompt's token ids; `location` names it in errors (e.g. "prompts.jsonl:12").
    public func promptTokens(_ record: PromptRecord, location: String = "prompt") throws -> [Int32] {
        let op = "rollout \(location)"
        let ids: [Int32]
        switch record.format {
        case .plain:
            ids = tokenizer.encode(record.request).map(Int32.init)
        case .conversational:
            guard let chat else {
                throw StrataError.config(op, "the policy's tokenizer has no \(template.name) tokens \(template.specialTokens) for a conversational prompt",
                                         fix: "start from a chat (SFT) checkpoint, or give plain {\"prompt\": \"...\"} records")
            }
            ids = try template.promptTokens(record.messages, chat).map(Int32.init)
        }
        guard !ids.isEmpty else { throw StrataError.data(op, "the prompt encodes to no tokens", fix: "give a non-empty prompt") }
        let room = model.contextLength
        guard ids.count + config.maxNewTokens <= room else {
            throw StrataError.data(op, "\(ids.count) prompt tokens + max_new_tokens \(config.maxNewTokens) exceed the model's n_positions \(room)",
                                   fix: "shorten or drop the prompt (at most \(room - config.maxNewTokens) tokens), or lower max_new_tokens")
        }
        return ids
    }

    /// Check every record of `dataset` before training starts; errors name file:line.
    public func checkPrompts(_ dataset: PromptDataset) throws {
        for (i, r) in dataset.records.enumerated() { _ = try promptTokens(r, location: dataset.location(i)) }
    }

    /// Sample `samplesPerPrompt` replies to each prompt for step `step`. Rollouts come prompt by prompt,
    /// samples of a prompt together; the k-th rollout has row `firstRow + k` (give a later `firstRow` when
    /// drawing more rows within one step, e.g. dynamic sampling).
    public func sample(_ prompts: [PromptRecord], step: Int, samplesPerPrompt: Int = 1, firstRow: Int = 0) throws -> [Rollout] {
        guard samplesPerPrompt >= 1 else {
            throw StrataError.config("rollout", "samples per prompt is \(samplesPerPrompt)", fix: "give at least 1")
        }
        let ids = try prompts.enumerated().map { try promptTokens($1, location: "prompt \($0)") }
        var jobs: [(prompt: Int, sample: Int, row: Int)] = []
        for p in prompts.indices {
            for s in 0..<samplesPerPrompt { jobs.append((p, s, firstRow + jobs.count)) }
        }
        let sampling = SamplingConfig(maxNewTokens: config.maxNewTokens, temperature: config.temperature, topK: config.topK,
                                      topP: config.topP, stopTokens: stopTokens, seed: config.seed)
        var out: [Rollout] = []
        out.reserveCapacity(jobs.count)
        for start in stride(from: 0, to: jobs.count, by: config.maxBatchRows) {
            let chunk = jobs[start..<min(jobs.count, start + config.maxBatchRows)]
            let seeds = chunk.map { config.rowSeed(step: step, row: $0.row) }
            let done = model.generate(prompts: chunk.map { ids[$0.prompt] }, sampling: sampling, rowSeeds: seeds)
            for (job, (seed, c)) in zip(chunk, zip(seeds, done)) {
                out.append(rollout(c, prompt: ids[job.prompt], promptIndex: job.prompt, sample: job.sample, row: job.row, seed: seed))
            }
        }
        return out
    }

    private func rollout(_ c: Completion, prompt: [Int32], promptIndex: Int, sample: Int, row: Int, seed: UInt64) -> Rollout {
        let text = tokenizer.tokensText(c.tokens).trimmingCharacters(in: .whitespacesAndNewlines)
        var tokens = c.tokens, lps = c.logProbs
        var finish = Rollout.Finish.truncated
        if c.finish == .stop, let t = c.stopToken, let lp = c.stopLogProb {
            tokens.append(t); lps.append(lp); finish = .endOfTurn
        }
        return Rollout(promptIndex: promptIndex, sampleIndex: sample, row: row, seed: seed, promptTokens: prompt,
                       completionTokens: tokens, logProbs: lps, finish: finish, text: text)
    }
}
