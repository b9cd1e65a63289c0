// Hugging Face `tokenizer_config.json` content for a chat-tuned checkpoint: the
// Jinja chat template, eos/bos/pad tokens, model_max_length and the template's
// special tokens (with ids, as `added_tokens_decoder`, when known). Leaves out:
// every other tokenizer_config field (normalisation flags, padding side).

import Foundation
import StrataCore

public struct HFTokenizerConfig: Codable, Sendable, Equatable {
    public struct AddedToken: Codable, Sendable, Equatable {
        public var content: String
        public var lstrip = false
        public var normalized = false
        public var rstrip = false
        public var single_word = false
        public var special = true
    }
    public var chat_template: String
    public var eos_token: String
    public var bos_token: String?
    public var pad_token: String?
    public var model_max_length: Int
    public var additional_special_tokens: [String]
    public var added_tokens_decoder: [String: AddedToken]?
    public var tokenizer_class: String?
}

extension ChatTemplate {
    /// tokenizer_config.json content. `specialIDs` (token → id) fills `added_tokens_decoder`
    /// for the template's special tokens and the eos/bos tokens it contains.
    public func tokenizerConfig(eosToken: String, bosToken: String?, modelMaxLength: Int,
                                padToken: String? = nil, specialIDs: [String: Int] = [:],
                                tokenizerClass: String? = "GPT2Tokenizer") -> HFTokenizerConfig {
        var decoder: [String: HFTokenizerConfig.AddedToken] = [:]
        for t in specialTokens + [eosToken] + [bosToken, padToken].compactMap({ $0 }) {
            if let id = specialIDs[t] { decoder[String(id)] = .init(content: t) }
        }
        return HFTokenizerConfig(chat_template: jinja, eos_token: eosToken, bos_token: bosToken, pad_token: padToken,
                                 model_max_length: modelMaxLength, additional_special_tokens: specialTokens,
                                 added_tokens_decoder: decoder.isEmpty ? nil : decoder, tokenizer_class: tokenizerClass)
    }

    /// The same as JSON bytes (sorted keys, pretty printed), ready to write next to tokenizer.json.
    public func tokenizerConfigJSON(eosToken: String, bosToken: String?, modelMaxLength: Int,
                                    padToken: String? = nil, specialIDs: [String: Int] = [:]) throws -> Data {
        try StrataJSON.encode(tokenizerConfig(eosToken: eosToken, bosToken: bosToken, modelMaxLength: modelMaxLength,
                                              padToken: padToken, specialIDs: specialIDs))
    }
}
