// Growing a model's vocabulary when tokens are added (chat markers for SFT):
// a new GPT-2 whose embedding (and so its tied LM head) has extra rows, each
// initialised to the mean of the existing rows so new tokens start as an
// "average" token rather than noise. Every other parameter is copied.
// Leaves out: shrinking a vocabulary.

import StrataCore
import StrataTensor

extension GPT2 {
    /// A copy of this model with `newSize` vocabulary rows (≥ the current size).
    public func growingVocabulary(to newSize: Int) throws -> GPT2 {
        let old = config.vocabSize, c = config.nEmbd
        guard newSize >= old else {
            throw StrataError.config("grow vocabulary", "new size \(newSize) is smaller than the current \(old)", fix: "vocabularies only grow")
        }
        var cfg = config
        cfg.vocabSize = newSize
        let grown = GPT2(cfg, seed: 0)
        for (src, dst) in zip(parameters, grown.parameters) where src.name != wte.name { dst.copy(from: src) }
        VocabularyRows.grow(grown.wte, from: wte, oldRows: old, newRows: newSize, width: c)
        return grown
    }
}

/// The row rule both families use when a vocabulary grows.
enum VocabularyRows {
    /// `dst` [newRows, width] gets `src`'s `oldRows` rows, then rows oldRows..<newRows set to their mean.
    static func grow(_ dst: Tensor, from src: Tensor, oldRows old: Int, newRows: Int, width c: Int) {
        dst.ptr.update(from: src.ptr, count: old * c)
        var mean = [Double](repeating: 0, count: c)
        for r in 0..<old { for j in 0..<c { mean[j] += Double(src.ptr[r * c + j]) } }
        for r in old..<newRows { for j in 0..<c { dst.ptr[r * c + j] = Float(mean[j] / Double(max(old, 1))) } }
    }
}
