// `strata demo`: the main job — world, tokenizer, pretraining, continued pretraining, annealing, SFT, reward model, DPO, tables, lineage.
import ArgumentParser
import Foundation
import StrataTrain

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo",
        abstract: "Run the built-in relay on the synthetic world (resumes if interrupted).")

    @Option(help: "Directory for the world, recipes and runs.") var dir = "runs/demo"
    @Option(help: "Pretraining steps (2,048 tokens each).") var steps = 600
    @Option(help: "Steps of each continued-pretraining run.") var continueSteps = 200
    @Option(help: "Annealing steps.") var annealSteps = 100
    @Option(help: "Supervised fine-tuning steps.") var sftSteps = 300
    @Option(help: "Reward-model steps.") var rewardSteps = 150
    @Option(help: "Steps of each DPO run.") var dpoSteps = 150
    @Option(help: "Approximate bytes of synthetic text.") var worldSize = 1_000_000
    @Option(help: "Seed.") var seed: UInt64 = 0

    func run() throws {
        var cfg = Demo.Config()
        cfg.directory = dir; cfg.seed = seed; cfg.worldSize = worldSize
        cfg.pretrainSteps = steps; cfg.continueSteps = continueSteps; cfg.annealSteps = annealSteps
        cfg.sftSteps = sftSteps; cfg.rewardSteps = rewardSteps; cfg.dpoSteps = dpoSteps
        let flag = InterruptFlag()
        flag.install()
        try Demo.run(cfg, interrupt: flag)
    }
}
