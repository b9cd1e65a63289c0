// Opening a chat on a checkpoint: load the model and tokenizer, check the
// checkpoint's tokenizer_config.json chat template (if any) against ChatML, and,
// for a base model whose tokenizer lacks the chat tokens, add them (growing the
// vocabulary) so the chat can at least be tried. Leaves out: reading other
// templates from Jinja (a different template is reported, ChatML is used).

import Foundation
import StrataCore
import StrataData
import StrataModel
import StrataTokenizer

extension ChatSession {
    /// A model and tokenizer that know `template`'s special tokens: new tokens are added to the
    /// tokenizer and the model's vocabulary grows to match (new rows start at the mean embedding).
    /// Returns whether anything was added. Meant for trying chat on a base model only.
    public static func addingChatTokens(model: any CausalLM, tokenizer: BPETokenizer, template: ChatTemplate = .chatML)
        throws -> (model: any CausalLM, tokenizer: BPETokenizer, added: Bool) {
        let missing = template.specialTokens.filter { tokenizer.id(forSpecial: $0) == nil }
        guard !missing.isEmpty else { return (model, tokenizer, false) }
        let (grown, _) = try tokenizer.addingSpecialTokens(template.specialTokens)
        let m = grown.vocabSize > model.vocabSize ? try model.resizingVocabulary(to: grown.vocabSize) : model
        return (m, grown, true)
    }

    /// A session on the checkpoint at `path` (a checkpoint, run or Hugging Face directory) and the
    /// notices to show the user (base model with added chat tokens, a different chat template).
    public static func open(checkpoint path: String, config: ChatConfig) throws -> (ChatSession, [String]) {
        let ckpt = try TrainingCheckpoint.resolve(path)
        let loaded = try TrainingCheckpoint.load(ckpt)
        try loaded.model.requireDecoder(for: "strata chat", source: "checkpoint \(ckpt.url.path)")
        var notices: [String] = []
        let configURL = ckpt.url.appendingPathComponent("tokenizer_config.json")
        if FileManager.default.fileExists(atPath: configURL.path) {
            let hf = try StrataJSON.read(HFTokenizerConfig.self, at: configURL)
            if hf.chat_template != ChatTemplate.chatML.jinja {
                notices.append("note: \(configURL.path) has a chat_template other than Strata's ChatML; chatting with ChatML anyway")
            }
        }
        let (model, tokenizer, added) = try addingChatTokens(model: loaded.model, tokenizer: loaded.tokenizer)
        if added {
            notices.append("note: this checkpoint's tokenizer has no chat tokens \(ChatTemplate.chatML.specialTokens); "
                           + "they were added with untrained embeddings, so this base model is not a chat model and replies "
                           + "will be ordinary continuations (fine-tune with SFT for real chat)")
        }
        let session = try ChatSession(model: model, tokenizer: tokenizer, config: config)
        if let n = session.maxNewTokensNotice { notices.append(n) }
        return (session, notices)
    }
}
