// `strata continue` and `strata anneal`: thin commands over RunOptions and the stages,
// and how every stage command is launched (alone, or as one rank under mpirun).
import ArgumentParser
import Foundation
import StrataCore
import StrataTrain

/// Options every stage takes: a new run (--from, --config, --set) or a resumed one (--resume).
struct StageArguments: ParsableArguments {
    @Option(help: "Checkpoint (or run directory) to start from.") var from: String?
    @Option(help: "Recipe file (YAML).") var config: String?
    @Option(name: .customLong("set"), help: "Override a recipe key, e.g. --set optim.lr=3e-4 (repeatable).") var overrides: [String] = []
    @Option(help: "Resume the run in this directory.") var resume: String?
    @Flag(help: "Resume even though the run's recipe.yaml was edited since it started (recorded in lineage).")
    var acceptEditedRecipe = false
    @Option(help: "Where the steps run: cpu, or cuda (one NVIDIA GPU; pretrain, continue, anneal, full sft).")
    var device: ComputeDevice = .cpu

    /// The run's options, with SIGINT/SIGTERM routed to a clean stop.
    func runOptions() -> RunOptions {
        var o = RunOptions(from: from, recipeFile: config, overrides: overrides, resume: resume)
        o.acceptEditedRecipe = acceptEditedRecipe
        o.device = device
        let flag = InterruptFlag()
        flag.install()
        o.interrupt = flag
        return o
    }
}

extension StageArguments {
    /// Runs the stage with these options (see `launchStage`).
    func launch(_ stage: (RunOptions) throws -> TrainingRun.Outcome) throws { try launchStage(runOptions(), stage) }
}

/// Runs a stage alone, or as one rank of a world started by mpirun: MPI starts before anything else (and only
/// then), the thread budget goes to OpenMP too, the ranks after 0 print nothing, an error on any rank ends
/// every rank (MPI_Abort) so none waits in a collective, and a clean finish closes MPI on every rank.
func launchStage(_ base: RunOptions, _ stage: (RunOptions) throws -> TrainingRun.Outcome) throws {
    let env = ProcessInfo.processInfo.environment
    ThreadBudget.applyToOpenMP(Parallel.workers, environment: env)
    guard let world = try World.fromLauncher(env) else { return report(try stage(base)) }
    var o = base
    o.world = world
    if !world.isRoot { o.log = { _ in }; o.showProgress = false }
    do {
        let outcome = try stage(o)
        if world.isRoot { report(outcome) }
        world.finish()
    } catch {
        FileHandle.standardError.write(Data("Error (rank \(world.rank) of \(world.size)): \(error)\n".utf8))
        world.abort(1)
    }
}

/// Continued stages may also carry the starting checkpoint's optimizer moments.
struct ContinuedStageArguments: ParsableArguments {
    @OptionGroup var run: StageArguments
    @Flag(help: "Also load the starting checkpoint's AdamW moments.") var optimizerState = false

    func runOptions() -> RunOptions {
        var o = run.runOptions()
        o.optimizerState = optimizerState
        return o
    }

    func launch(_ stage: (RunOptions) throws -> TrainingRun.Outcome) throws { try launchStage(runOptions(), stage) }
}

struct ContinueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "continue",
        abstract: "Continued pretraining from a checkpoint on new or domain data (mix in replay of general data).")
    @OptionGroup var options: ContinuedStageArguments
    func run() throws { try options.launch(Continue.run) }
}

struct AnnealCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "anneal",
        abstract: "Anneal a checkpoint: decay the LR from optim.lr to optim.min_lr while the mixture shifts to high-quality data.")
    @OptionGroup var options: ContinuedStageArguments
    func run() throws { try options.launch(Anneal.run) }
}

extension ComputeDevice: ExpressibleByArgument {}

func report(_ outcome: TrainingRun.Outcome) {
    if !outcome.interrupted, let ckpt = outcome.lastCheckpoint { print("finished at step \(outcome.step); final checkpoint \(ckpt.url.path)") }
}
