// Preference pairs as token ids, and pairs laid out as one [2·P, T] batch.
//
// Rendering (`ChatTemplate.render(pair:_:)`): each side's whole sequence is the ids
// TRL's RewardTrainer tokenises — conversational: the template's text of prompt +
// response encoded whole as apply_chat_template + the tokenizer do
// (ChatTemplate+Render.swift); plain: the prompt + response text encoded whole,
// then end of text (TRL appends eos). The sequence is split into
//   prompt   = its leading tokens shared by both sides that end inside the prompt's
//              text (conversational: through the generation prompt
//              `<|im_start|>assistant\n`); a token merging the prompt's last characters
//              with the response's first belongs to the response, as SFT's mask has it;
//   response = the rest: content + `<|im_end|>` (several assistant turns continue with
//              `\n<|im_start|>assistant\n` + content + `<|im_end|>`), or text + eos;
//   suffix   = the newline the template writes after the final `<|im_end|>`: part of
//              the sequence (a reward model reads there) but not trained (it is the
//              same in chosen and rejected; SFT does not train it). Plain: none.
// Every response token carries loss; suffix tokens do not. (TRL's DPO tokenises the
// prompt and response texts apart; the two agree unless a response starts with
// whitespace that merges with the prompt's last characters.)
//
// Where a reward is read — one rule, transformers' GPT2ForSequenceClassification:
// at the rightmost token of the row that is not pad_token_id, the row holding
// prompt + response + suffix exactly as TRL's RewardTrainer tokenises a pair
// (apply_chat_template of the whole conversation, or prompt + response + eos text).
// Conversational: the trailing "\n". Plain with pad = eos (TRL's default for GPT-2):
// the trailing eos counts as padding, so the last response token before it. See
// RewardModel.swift.
//
// Batch layout (`PreferenceBatch.make`): rows 0..<P are the chosen sequences of
// the kept pairs in order, rows P..<2P the rejected ones in the same order (not
// interleaved), as TRL's concatenated forward. Row r holds the whole sequence
// prompt+response (n tokens) at positions 0..<n, then `padID` up to T. For
// i in 0..<T: targets[i] = ids[i+1] when i+1 is a response position
// (prompt.count ≤ i+1 < n), else -100; mask[i] = 1 exactly where targets[i] ≠ -100.
// The row is prompt + response + suffix (n tokens); the loss positions are
// prompt.count-1 ... prompt.count+response.count-2 (one per response token), and
// `lastIndex[r]` = n-1 is the last token written before the padding.
// A pair whose longer side has n > T is dropped (both rows) and counted.
// Leaves out: truncation, left padding, packing several pairs into one row.

import Foundation
import StrataCore

/// A preference pair as token ids: the shared prompt and each response (see the header).
public struct RenderedPair: Codable, Sendable, Equatable {
    public var prompt: [Int32]
    public var chosen: [Int32]
    public var rejected: [Int32]
    /// Tokens the template writes after either response (ChatML: the final newline); not trained.
    public var suffix: [Int32]
    /// The pair's own Bradley–Terry margin (TRL's "margin" column), if it has one.
    public var margin: Float?

    public init(prompt: [Int32], chosen: [Int32], rejected: [Int32], suffix: [Int32] = [], margin: Float? = nil) {
        self.prompt = prompt
        self.chosen = chosen
        self.rejected = rejected
        self.suffix = suffix
        self.margin = margin
    }

    private enum CodingKeys: String, CodingKey { case prompt, chosen, rejected, suffix, margin }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        prompt = try c.decode([Int32].self, forKey: .prompt)
        chosen = try c.decode([Int32].self, forKey: .chosen)
        rejected = try c.decode([Int32].self, forKey: .rejected)
        suffix = try c.decodeIfPresent([Int32].self, forKey: .suffix) ?? []
        margin = try c.decodeIfPresent(Float.self, forKey: .margin)
    }

    /// Tokens of the longer of the two full sequences (prompt + response + suffix).
    public var longestSequence: Int { prompt.count + max(chosen.count, rejected.count) + suffix.count }

    /// The whole sequence of one side as a reward model reads it: prompt + response + suffix.
    public func sequence(chosen side: Bool) -> [Int32] { prompt + (side ? chosen : rejected) + suffix }
}

extension ChatTemplate {
    /// Token ids of a preference pair (see the file header for what each part holds).
    public func render(pair: PreferencePair, _ tok: ChatTokenizer) throws -> RenderedPair {
        let chosen: (ids: [Int], ends: [Int]), rejected: (ids: [Int], ends: [Int]), promptBytes: Int
        var suffix: [Int] = []
        switch pair.format {
        case .plain:
            let promptText = pair.prompt.map(\.content).joined(separator: "\n")
            promptBytes = promptText.utf8.count
            func side(_ r: [ChatMessage]) throws -> (ids: [Int], ends: [Int]) {
                let ids = try tok.encode(promptText + r.map(\.content).joined(separator: "\n"))
                var end = 0
                return (ids + [tok.endOfText], ids.map { end += tok.tokenBytes($0); return end } + [Int.max])
            }
            (chosen, rejected) = (try side(pair.chosen), try side(pair.rejected))
        case .conversational:
            guard tok.specialID(messageStart) != nil, tok.specialID(messageEnd) != nil else {
                throw StrataError.config("render \(name) preference pair", "tokenizer lacks \(specialTokens)",
                                         fix: "add the template's special tokens \(specialTokens) to the tokenizer")
            }
            promptBytes = render(text: pair.prompt, addGenerationPrompt: true).utf8.count
            chosen = try encodeWhole(render(text: pair.prompt + pair.chosen), tok)
            rejected = try encodeWhole(render(text: pair.prompt + pair.rejected), tok)
            suffix = try encodeWhole("\n", tok).ids
        }
        // The shared prompt: leading tokens equal on both sides that end inside the prompt text. A token that
        // merges the prompt's last characters with the response's first belongs to the response.
        var n = 0
        while n < chosen.ids.count, n < rejected.ids.count, chosen.ids[n] == rejected.ids[n], chosen.ends[n] <= promptBytes { n += 1 }
        guard n > 0 else {
            throw StrataError.data("render preference pair", "the prompt \"\(pair.request.prefix(40))\" encodes to no tokens of its own",
                                   fix: "give a non-empty prompt")
        }
        func response(_ side: [Int]) -> [Int32] { side[n..<(side.count - suffix.count)].map { Int32($0) } }
        return RenderedPair(prompt: chosen.ids[..<n].map { Int32($0) }, chosen: response(chosen.ids), rejected: response(rejected.ids),
                            suffix: suffix.map { Int32($0) }, margin: pair.margin.map(Float.init))
    }
}

/// Rendered pairs laid out as a [2·P, T] batch (row-major, see the file header).
public struct PreferenceBatch: Codable, Sendable, Equatable {
    /// P: pairs kept (rows = 2·P).
    public var pairCount: Int
    /// T: tokens per row.
    public var rowLength: Int
    /// [2P·T] input ids; rows 0..<P chosen, P..<2P rejected.
    public var ids: [Int32]
    /// [2P·T] next-token targets, -100 outside the response and on padding.
    public var targets: [Int32]
    /// [2P·T] 1 where a target is a response token, else 0.
    public var mask: [Float]
    /// [2P] index of each row's last real token (n-1).
    public var lastIndex: [Int32]
    /// [2P] loss positions per row (the response length in tokens).
    public var responseTokens: [Int]
    /// Indices (into the input list) of the kept pairs, in row order.
    public var keptPairs: [Int]
    /// Pairs whose longer sequence exceeded T, dropped.
    public var droppedTooLong: Int

    public var rows: Int { 2 * pairCount }

    /// Lay out `pairs` (see the file header); pairs longer than `rowLength` are dropped and counted.
    public static func make(_ pairs: [RenderedPair], rowLength: Int, padID: Int32) throws -> PreferenceBatch {
        guard rowLength > 1 else {
            throw StrataError.config("preference batch", "row length \(rowLength) is below 2",
                                     fix: "use a sequence length that holds a prompt and a response")
        }
        for (i, p) in pairs.enumerated() where p.prompt.isEmpty || p.chosen.isEmpty || p.rejected.isEmpty {
            throw StrataError.data("preference batch", "pair \(i) has an empty prompt or response",
                                   fix: "render pairs with ChatTemplate.render(pair:_:)")
        }
        let kept = pairs.indices.filter { pairs[$0].longestSequence <= rowLength }
        var b = PreferenceBatch(pairCount: kept.count, rowLength: rowLength, ids: [], targets: [], mask: [], lastIndex: [],
                                responseTokens: [], keptPairs: kept, droppedTooLong: pairs.count - kept.count)
        let n = 2 * kept.count * rowLength
        b.ids.reserveCapacity(n); b.targets.reserveCapacity(n); b.mask.reserveCapacity(n)
        for side in 0..<2 {
            for i in kept {
                b.append(prompt: pairs[i].prompt, response: side == 0 ? pairs[i].chosen : pairs[i].rejected, suffix: pairs[i].suffix,
                         padID: padID)
            }
        }
        return b
    }

    private mutating func append(prompt: [Int32], response: [Int32], suffix: [Int32], padID: Int32) {
        let seq = prompt + response + suffix, n = seq.count, responseEnd = prompt.count + response.count
        ids += seq + Array(repeating: padID, count: rowLength - n)
        for i in 0..<rowLength {
            let trained = i + 1 >= prompt.count && i + 1 < responseEnd
            targets.append(trained ? seq[i + 1] : RenderedSample.ignoreIndex)
            mask.append(trained ? 1 : 0)
        }
        lastIndex.append(Int32(n - 1))
        responseTokens.append(response.count)
    }
}
