// Shared fixture of the RL stage tests (GRPO, PPO): a tiny pretrained + SFT
// checkpoint that speaks ChatML, a four-prompt conversational prompt file, and
// readers of a run's metrics.jsonl.

import XCTest
import Foundation
import StrataCore
import StrataData
import StrataEval
@testable import StrataTrain

class RLStageTestCase: WorldTestCase {
    var sftCheckpoint: String!

    override func setUpWithError() throws {
        try super.setUpWithError()
        sftCheckpoint = try tinySFTCheckpoint(positions: 64, context: 64, pretrainSteps: 2, sftSteps: 1, perKind: 2)
        let prompts = ["What is two plus two?", "Name a city.", "Say a number.", "Reverse the list a b c."].map {
            "{\"prompt\": [{\"role\": \"user\", \"content\": \"\($0)\"}]}"
        }
        try (prompts.joined(separator: "\n") + "\n").write(to: dir.appendingPathComponent("prompts.jsonl"), atomically: true, encoding: .utf8)
    }

    func stage(_ file: String?, resume: String? = nil) -> RunOptions {
        var c = RunOptions(from: sftCheckpoint, recipeFile: file, resume: resume)
        c.log = { _ in }; c.showProgress = false
        return c
    }

    func metricsLines(_ run: String) throws -> [[String: Any]] {
        try String(contentsOf: runDir(run).appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
            .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func extras(_ run: String) throws -> [[String: Double]] {
        try metricsLines(run).compactMap { $0["extra"] as? [String: Double] }
    }
}
