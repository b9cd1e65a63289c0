// `strata fill-mask`: the top-K tokens a RoBERTa masked-LM checkpoint predicts at each
// <mask> of a text, as a table or (--json) one JSON object per mask per line:
// {"position": P, "candidates": [{"id": I, "token": S, "logit": L}, ...]}.
// Thin: FillMask (StrataEval) does the work; checkpoint paths resolve as for
// `strata generate` (a checkpoint, or a run directory's latest valid one).
// Leaves out: several texts per call.

import ArgumentParser
import Foundation
import StrataCore
import StrataEval
import StrataTrain

struct FillMaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fill-mask",
        abstract: "Predict the tokens at each <mask> of a text with a RoBERTa masked-LM checkpoint.")

    @Option(help: "Checkpoint directory, or a run directory (its latest valid checkpoint).") var checkpoint: String
    @Option(help: "Candidates per mask (default 5).") var topK = 5
    @Flag(help: "One JSON object per mask per line instead of a table.") var json = false
    @Argument(help: "The text, with <mask> where tokens are to be predicted.") var text: String

    func run() throws {
        let ckpt = try TrainingCheckpoint.resolve(checkpoint)
        let loaded = try TrainingCheckpoint.load(ckpt)
        let predictions = try FillMask.predict(model: loaded.model, tokenizer: loaded.tokenizer, text: text, topK: topK,
                                               source: "checkpoint \(ckpt.url.path)")
        for p in predictions {
            if json { print(p.jsonLine); continue }
            print("mask at position \(p.position):")
            for (i, c) in p.candidates.enumerated() {
                let shown = "\"\(c.token)\"".padding(toLength: max(20, c.token.count + 2), withPad: " ", startingAt: 0)
                print(String(format: "  %2d. ", i + 1) + shown + String(format: " id %6d  logit %8.3f", c.id, c.logit))
            }
        }
    }
}
