// Growing a Llama's vocabulary when tokens are added (chat markers for SFT): a
// new model whose embedding and (untied) LM head have extra rows, each set to
// the mean of the existing rows of that matrix. Every other parameter is copied.
// Leaves out: shrinking a vocabulary.

import StrataCore
import StrataTensor

extension Llama {
    /// A copy of this model with `newSize` vocabulary rows (≥ the current size).
    public func growingVocabulary(to newSize: Int) throws -> Llama {
        let old = config.vocabSize, c = config.hiddenSize
        guard newSize >= old else {
            throw StrataError.config("grow vocabulary", "new size \(newSize) is smaller than the current \(old)", fix: "vocabularies only grow")
        }
        var cfg = config
        cfg.vocabSize = newSize
        let grown = Llama(cfg, seed: 0)
        let resized: Set<String> = [embed.name!, head.name!]
        for (src, dst) in zip(parameters, grown.parameters) where !resized.contains(src.name!) { dst.copy(from: src) }
        for (src, dst) in config.tieWordEmbeddings ? [(embed, grown.embed)] : [(embed, grown.embed), (head, grown.head)] {
            VocabularyRows.grow(dst, from: src, oldRows: old, newRows: newSize, width: c)
        }
        return grown
    }
}
