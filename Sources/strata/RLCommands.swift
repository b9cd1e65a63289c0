// `strata grpo` (and `strata ppo` once its stage lands): thin commands over the RL stages.
// Leaves out: everything but argument parsing (the stages live in StrataTrain/Stages).
import ArgumentParser
import Foundation
import StrataCore
import StrataTrain

struct GRPOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "grpo",
        abstract: "GRPO (and Dr. GRPO, RLOO, DAPO) on prompts with verifiable or model rewards.")
    @OptionGroup var options: StageArguments
    func run() throws { report(try GRPO.run(options.runOptions())) }
}
