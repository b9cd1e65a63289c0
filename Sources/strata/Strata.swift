// The `strata` command line: thin commands that map options onto config structs.
import ArgumentParser

@main
struct Strata: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "strata",
        abstract: "Train language models through the whole relay on one checkpoint format.",
        subcommands: [DemoCommand.self, PretrainCommand.self, ContinueCommand.self, AnnealCommand.self, EvalCommand.self,
                      SFTCommand.self, RewardCommand.self, DPOCommand.self, ScoreCommand.self, JudgeCommand.self, GenerateCommand.self, TokenizerCommand.self, DataCommand.self, ModelCommand.self, Bench.self,
                      ChatCommand.self])
}
