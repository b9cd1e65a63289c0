// Back-of-envelope compute figures for lineage records and recipe comments:
// GPT-2 parameter counts and training FLOPs (6 per parameter per token for the
// forward and backward passes, plus the attention-score term that grows with
// context, as in Kaplan et al. 2020).
// Leaves out: measured FLOPs, recomputation, optimizer arithmetic.

import Foundation

public enum ComputeEstimate {
    /// Parameters of a GPT-2 model with a tied output head: token and position
    /// tables, per block 12·d² + 13·d (attention + MLP weights and biases, two
    /// LayerNorms), and the final LayerNorm.
    public static func gpt2Parameters(nLayer: Int, nEmbd: Int, vocab: Int, positions: Int) -> Int {
        let d = Double(nEmbd)
        let n = Double(vocab) * d + Double(positions) * d + Double(nLayer) * (12 * d * d + 13 * d) + 2 * d
        return n < 9.0e18 ? Int(n) : Int.max   // exact below 2^53; saturates for absurd shapes
    }

    /// Training FLOPs: 6·N·T plus 6·n_layer·context·d·T for attention scores and mixing.
    /// `parameters` should exclude the position table (it costs no multiply-adds).
    public static func trainingFLOPs(parameters: Int, tokens: Int, nLayer: Int, context: Int, nEmbd: Int) -> Double {
        let perToken = 6.0 * Double(parameters) + 6.0 * Double(nLayer) * Double(context) * Double(nEmbd)
        return perToken * Double(tokens)
    }

    /// Training FLOPs of `tokens` tokens with this recipe's model and context.
    public static func trainingFLOPs(recipe: Recipe, vocab: Int, tokens: Int) -> Double {
        let m = recipe.model
        let n = m.parameterCount(vocab: vocab) - m.nPositions * m.nEmbd
        return trainingFLOPs(parameters: n, tokens: tokens, nLayer: m.nLayer, context: recipe.context, nEmbd: m.nEmbd)
    }
}
