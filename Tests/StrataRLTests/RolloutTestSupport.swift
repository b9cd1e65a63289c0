// Test support for the rollout engine, prompt files and reward sources: a tiny
// BPE tokenizer with the chat template's special tokens, tiny random GPT-2
// models, and scratch directories. Names carry an `RL` prefix so they do not
// collide with other helpers in this test target.
// Leaves out: trained models (every model here is random; tests assert
// mechanics such as determinism and batching, not quality).

import Foundation
import XCTest
import StrataCore
import StrataModel
import StrataData
import StrataTokenizer

enum RLTestModels {
    /// Text the tiny tokenizer is trained on: the words the tests' prompts and judge templates use.
    static let corpus = [
        "Where was Person1 born? Town1. Add 3 and 4. 7. Reverse the list: apple, river, stone. Yes No A B",
        "Is the reply correct? Answer Yes or No. Which reply is better, A or B? Paris is the capital of France.",
        "Answer in one word: Answer in JSON with the key \"answer\": {\"answer\": \"Town2\"} hello world",
    ] + Array(repeating: "Yes\nNo\n", count: 40)

    /// A byte-level BPE tokenizer (about 300 ids) with end of text and the ChatML tokens.
    static func tokenizer() throws -> BPETokenizer {
        try BPETokenizer.train(texts: corpus, config: BPETrainer.Config(
            vocabSize: 300, specialTokens: ["<|endoftext|>"] + ChatTemplate.chatML.specialTokens))
    }

    /// A random GPT-2 over `tokenizer`'s vocabulary.
    static func model(_ tokenizer: BPETokenizer, seed: UInt64, positions: Int = 96) -> GPT2 {
        GPT2(GPT2Config(vocabSize: tokenizer.vocabSize, nPositions: positions, nEmbd: 16, nLayer: 1, nHead: 2), seed: seed)
    }
}

