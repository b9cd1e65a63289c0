// `strata demo`: the main job — world, tokenizer, pretraining, continued pretraining, annealing, SFT, reward model, DPO,
// tables, lineage — each run a shipped recipe from --recipes (default recipes/, relative to the working directory).
// Leaves out: the relay itself (StrataTrain/Demo).
import ArgumentParser
import Foundation
import StrataData
import StrataTrain

struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo",
        abstract: "Run the built-in relay on the synthetic world with the shipped recipes (resumes if interrupted).")

    @Option(help: "Directory for the world and runs; the recipes' relative paths (world/...) resolve against it.") var dir = "runs/demo"
    @Option(help: "Directory holding the shipped recipes (pretrain-world.yaml, continue-world.yaml, ...).") var recipes = "recipes"
    @Option(help: "Pretraining steps (2,048 tokens each); default: the recipe's train.steps.") var steps: Int?
    @Option(help: "Steps of each continued-pretraining run; default: the recipes'.") var continueSteps: Int?
    @Option(help: "Annealing steps; default: the recipe's.") var annealSteps: Int?
    @Option(help: "Supervised fine-tuning steps; default: the recipe's.") var sftSteps: Int?
    @Option(help: "Reward-model steps; default: the recipe's.") var rewardSteps: Int?
    @Option(help: "Steps of each DPO run; default: the recipe's.") var dpoSteps: Int?
    @Option(help: "Approximate bytes of synthetic text (230KB: few enough facts for the demo's model to learn them; see docs/demo.md).") var worldSize = "230KB"
    @Option(help: "Chance that a person joins a second organisation or moves city before the cutoff (the world's dated SFT questions).") var earlierMoveChance = 0.8
    @Option(help: "Chance that a person wins a prize before the cutoff.") var earlierAwardChance = 0.8
    @Option(help: "Chance that a person with an earlier join (move) has a second one before the cutoff, years apart (SFT's lesson in answering by the asked year).")
    var secondMoveChance = Demo.Config().secondMoveChance
    @Option(help: "People per organisation founded before the cutoff (fewer: more organisations for SFT's replies to name).")
    var personsPerOrganisation = Demo.Config().personsPerOrganisation
    @Option(help: "Seed of the world and of every run's training (train.seed).") var seed: UInt64 = 0

    func run() throws {
        var cfg = Demo.Config()
        cfg.directory = dir; cfg.recipes = recipes; cfg.seed = seed; cfg.worldSize = try ByteSize.parse(worldSize)
        cfg.earlierMoveChance = earlierMoveChance; cfg.earlierAwardChance = earlierAwardChance
        cfg.secondMoveChance = secondMoveChance; cfg.personsPerOrganisation = personsPerOrganisation
        let given: [(DemoRun, Int?)] = [(.pretrain, steps), (.continueNoReplay, continueSteps), (.continueReplay, continueSteps),
                                        (.anneal, annealSteps), (.sft, sftSteps), (.reward, rewardSteps),
                                        (.dpo, dpoSteps), (.dpoSFT, dpoSteps)]
        for case let (run, n?) in given { cfg.steps[run] = n }
        let flag = InterruptFlag()
        flag.install()
        try Demo.run(cfg, interrupt: flag)
    }
}
