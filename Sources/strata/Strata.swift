// The `strata` command line: thin commands that map options onto config structs.
// `strata --version` prints `Strata.version`. Leaves out: the commands themselves (one file each).
import ArgumentParser

@main
struct Strata: ParsableCommand {
    /// The release this build belongs to (bump with each tagged release).
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "Train language models through the whole relay on one checkpoint format.",
        version: "strata \(version)",
        subcommands: [
            DemoCommand.self,
            // training stages
            PretrainCommand.self, ContinueCommand.self, AnnealCommand.self, SFTCommand.self, RewardCommand.self, DPOCommand.self, GRPOCommand.self, PPOCommand.self,
            // data, models and evaluation
            DataCommand.self, TokenizerCommand.self, ModelCommand.self, RecipeCommand.self, EvalCommand.self, ScoreCommand.self,
            JudgeCommand.self, RedTeamCommand.self, GenerateCommand.self, ChatCommand.self, FillMaskCommand.self,
            // what a run did
            LineageCommand.self, CardCommand.self, ReportCommand.self,
            Bench.self, GPUSelftestCommand.self,
        ])
}
