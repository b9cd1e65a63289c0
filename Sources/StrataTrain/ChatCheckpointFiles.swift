// The Hugging Face side files that make a Strata chat or reward checkpoint behave
// in transformers as it does in Strata:
//   - generation_config.json for chat checkpoints (SFT, DPO): eos_token_id lists
//     the end-of-turn token <|im_end|> first and <|endoftext|> after it, so
//     `generate`/`pipeline` stop where `strata chat` stops (TRL's
//     clone_chat_template sets the end-of-turn token as the generation eos the
//     same way); pad_token_id = bos_token_id = <|endoftext|>;
//   - tokenizer_config.json (chat template, special tokens with ids) for chat and
//     reward checkpoints; a reward checkpoint's also names its pad token, the one
//     config.json's pad_token_id points at, so tokenizer padding and the
//     classifier's "last non-pad token" agree.
// The stages attach these through their CheckpointContent. Leaves out:
// sampling defaults (temperature, top-p) in generation_config.json.

import Foundation
import StrataCore
import StrataData
import StrataCheckpoint
import StrataTokenizer

public enum ChatCheckpointFiles {
    public static let generationConfigFile = "generation_config.json"
    public static let tokenizerConfigFile = "tokenizer_config.json"

    /// generation_config.json's fields (transformers' GenerationConfig names).
    public struct GenerationConfig: Codable, Sendable, Equatable {
        public var bos_token_id: Int
        /// Generation stops at any of these; the end-of-turn token first.
        public var eos_token_id: [Int]
        public var pad_token_id: Int
    }

    /// generation_config.json for a chat checkpoint whose tokenizer holds `template`'s tokens.
    public static func generationConfig(template: ChatTemplate, tokenizer: BPETokenizer) throws -> GenerationConfig {
        let op = "write \(generationConfigFile)"
        guard let endOfTurn = tokenizer.id(forSpecial: template.messageEnd) else {
            throw StrataError.config(op, "the tokenizer has no end-of-turn token \(template.messageEnd)",
                                     fix: "write generation_config.json only for chat checkpoints (after SFT added \(template.specialTokens))")
        }
        guard let eos = tokenizer.id(forSpecial: DataPipeline.endOfText) else {
            throw StrataError.config(op, "the tokenizer has no \(DataPipeline.endOfText) token", fix: "use a tokenizer with \(DataPipeline.endOfText)")
        }
        return GenerationConfig(bos_token_id: eos, eos_token_id: [endOfTurn, eos], pad_token_id: eos)
    }

    /// tokenizer_config.json for a checkpoint whose tokenizer holds `template`'s tokens; `padToken` is named
    /// when given (reward checkpoints).
    public static func tokenizerConfig(template: ChatTemplate, tokenizer: BPETokenizer, maxLength: Int,
                                       padToken: String? = nil) throws -> HFTokenizerConfig {
        var ids: [String: Int] = [:]
        for t in template.specialTokens + [DataPipeline.endOfText] + [padToken].compactMap({ $0 }) {
            if let id = tokenizer.id(forSpecial: t) ?? tokenizer.id(forToken: t) { ids[t] = id }
        }
        for t in template.specialTokens where ids[t] == nil {
            throw StrataError.config("write \(tokenizerConfigFile)", "the tokenizer has no special token \(t)",
                                     fix: "add the template's tokens \(template.specialTokens) first (SFT does)")
        }
        let eos = DataPipeline.endOfText
        return template.tokenizerConfig(eosToken: eos, bosToken: eos, modelMaxLength: maxLength, padToken: padToken, specialIDs: ids)
    }

    /// The files of a chat (SFT, DPO) checkpoint: tokenizer_config.json and generation_config.json.
    public static func chat(template: ChatTemplate, tokenizer: BPETokenizer, maxLength: Int) throws -> [CheckpointFile] {
        [.data(tokenizerConfigFile, try StrataJSON.encode(tokenizerConfig(template: template, tokenizer: tokenizer, maxLength: maxLength))),
         .data(generationConfigFile, try StrataJSON.encode(generationConfig(template: template, tokenizer: tokenizer)))]
    }

    /// The files of a reward checkpoint: tokenizer_config.json with the chat template and the pad token whose id is
    /// config.json's pad_token_id.
    public static func reward(template: ChatTemplate, tokenizer: BPETokenizer, maxLength: Int, padTokenId: Int) throws -> [CheckpointFile] {
        guard let pad = tokenizer.token(forID: padTokenId) else {
            throw StrataError.config("write \(tokenizerConfigFile)", "pad_token_id \(padTokenId) is not a token of the tokenizer "
                                     + "(\(tokenizer.vocabSize) ids)", fix: "use a pad id from the checkpoint's tokenizer (e.g. <|endoftext|>)")
        }
        let cfg = try tokenizerConfig(template: template, tokenizer: tokenizer, maxLength: maxLength, padToken: pad)
        return [.data(tokenizerConfigFile, try StrataJSON.encode(cfg))]
    }
}
