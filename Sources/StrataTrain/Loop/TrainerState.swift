// TrainerState: everything besides weights and optimizer moments that a run
// needs to continue bit-exactly — step, tokens seen, the loader's position, the
// spike guard's history, compute spent — saved as trainer_state.json in every
// checkpoint. Leaves out: RNG state for dropout (derived from seed, step and
// micro-batch, so nothing needs saving).

import Foundation
import StrataCore
import StrataData

public struct TrainerState: Codable, Sendable {
    public var formatVersion = 1
    /// The stage that wrote this state (pretrain, continue, anneal, sft, ...).
    public var stage: String
    /// Optimizer steps completed (also the index of the next step).
    public var step: Int
    /// Total steps the run is configured for.
    public var totalSteps: Int
    public var tokensSeen: Int
    /// AdamW's update count (bias correction); differs from `step` when updates were skipped.
    public var optimizerStep: Int
    public var loader: LoaderState
    public var spikeGuard: SpikeGuard
    /// Learning rate of the last step, for reference (the schedule recomputes it).
    public var lastLR: Double
    /// Wall time and FLOPs spent in this stage so far.
    public var wallSeconds: Double
    public var flops: Double
    public var events: [TrainingEvent]
    /// Latest validation results (loss per source).
    public var validation: [String: Double]
    /// Stage evaluations (e.g. instruction accuracy before and after SFT): name → metric → value.
    public var evaluations: [String: [String: Double]] {
        get { stageEvaluations ?? [:] }
        set { stageEvaluations = newValue }
    }
    /// Stored optionally so trainer_state.json files written before this field existed still load.
    var stageEvaluations: [String: [String: Double]]?
    /// Processes that trained together (1 until data parallelism lands).
    public var worldSize = 1
    /// sha256 of the resolved recipe JSON, to refuse resuming with a different recipe.
    public var recipeSHA256: String
    /// Where this stage started from, recorded again in lineage.
    public var parentCheckpoint: String?

    public static let fileName = "trainer_state.json"
}
