// `strata continue` and `strata anneal`: thin commands over Continue.Config.
import ArgumentParser
import Foundation
import StrataTrain

/// Options every stage that starts from a checkpoint takes.
struct RunOptions: ParsableArguments {
    @Option(help: "Checkpoint (or run directory) to start from.") var from: String?
    @Option(help: "Recipe file (YAML).") var config: String?
    @Option(name: .customLong("set"), help: "Override a recipe key, e.g. --set optim.lr=3e-4 (repeatable).") var overrides: [String] = []
    @Option(help: "Resume the run in this directory.") var resume: String?

    /// The stage configuration, with SIGINT/SIGTERM routed to a clean stop.
    func stageConfig() -> Continue.Config {
        var c = Continue.Config(from: from, recipeFile: config, overrides: overrides, resume: resume)
        let flag = InterruptFlag()
        flag.install()
        c.base.interrupt = flag
        return c
    }
}

struct StageOptions: ParsableArguments {
    @OptionGroup var run: RunOptions
    @Flag(help: "Also load the starting checkpoint's AdamW moments.") var optimizerState = false

    func stageConfig() -> Continue.Config {
        var c = run.stageConfig()
        c.optimizerState = optimizerState
        return c
    }
}

struct ContinueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "continue",
        abstract: "Continued pretraining from a checkpoint on new or domain data (mix in replay of general data).")
    @OptionGroup var options: StageOptions
    func run() throws { report(try Continue.run(options.stageConfig())) }
}

struct AnnealCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "anneal",
        abstract: "Anneal a checkpoint: decay the LR from optim.lr to optim.min_lr while the mixture shifts to high-quality data.")
    @OptionGroup var options: StageOptions
    func run() throws { report(try Anneal.run(options.stageConfig())) }
}

func report(_ outcome: TrainingRun.Outcome) {
    if !outcome.interrupted, let ckpt = outcome.lastCheckpoint { print("finished at step \(outcome.step); final checkpoint \(ckpt.url.path)") }
}
