// Continued pretraining and annealing: a checkpoint's weights trained further on
// next-token prediction. Continue moves to new sources (usually mixed with replay
// of the old ones); Anneal decays the LR from optim.lr to optim.min_lr (shape
// optim.decay_shape) while the mixture follows the recipe's weight schedules
// toward high-quality sources. Both keep the checkpoint's tokenizer and model
// shape, and record it (id and content hash) as their lineage parent; with
// `optimizerState` the AdamW moments carry over too.
// Leaves out: extending the tokenizer while continuing (refused with an error).

import Foundation
import StrataCore
import StrataModel

public enum Continue: TrainingStage {
    public static let kind = Stage.continue

    public static func run(_ options: RunOptions) throws -> TrainingRun.Outcome { try StageRunner.run(Continue.self, options) }

    public static func parts(_ start: StageStart) throws -> StageParts { try fromCheckpoint(start, stage: kind) }

    /// The parts of a next-token stage started from a checkpoint (or resumed from its own).
    static func fromCheckpoint(_ start: StageStart, stage: Stage) throws -> StageParts {
        let origin = try start.requireOrigin()
        let tokenizer = start.isResume ? origin.tokenizer : try NextTokenStage.inheritTokenizer(start.recipe, origin, stage: stage)
        if !start.isResume { NextTokenStage.describe(origin.model, from: origin.checkpoint.url.path, log: start.log) }
        return try NextTokenStage.parts(start, model: origin.model, tokenizer: tokenizer)
    }
}

public enum Anneal: TrainingStage {
    public static let kind = Stage.anneal
    public static let fixedOverrides = ["optim.schedule=anneal", "optim.warmup_steps=0"]

    public static func run(_ options: RunOptions) throws -> TrainingRun.Outcome { try StageRunner.run(Anneal.self, options) }

    public static func parts(_ start: StageStart) throws -> StageParts { try Continue.fromCheckpoint(start, stage: kind) }
}
