// `strata grpo` and `strata ppo`: thin commands over the RL stages.
// Leaves out: everything but argument parsing (the stages live in StrataTrain/Stages).
import ArgumentParser
import Foundation
import StrataCore
import StrataTrain

struct GRPOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "grpo",
        abstract: "GRPO (and Dr. GRPO, RLOO, DAPO) on prompts with verifiable or model rewards.")
    @OptionGroup var options: StageArguments
    func run() throws { try options.launch(GRPO.run) }
}

struct PPOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ppo",
        abstract: "RLHF with PPO: policy, frozen reference, reward sources and a value model (GAE, clipped losses, KL control).")
    @OptionGroup var options: StageArguments
    func run() throws { try options.launch(PPO.run) }
}
