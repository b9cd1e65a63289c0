// `strata sft`: a thin command over RunOptions and the SFT stage.
import ArgumentParser
import Foundation
import StrataTrain

struct SFTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sft",
        abstract: "Supervised fine-tuning of a checkpoint on chat data (TRL JSONL), loss on assistant tokens only.")
    @OptionGroup var options: StageArguments
    func run() throws { try options.launch(SFT.run) }
}
