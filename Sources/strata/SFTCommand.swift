// `strata sft`: a thin command over SFT.Config.
import ArgumentParser
import Foundation
import StrataTrain

struct SFTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sft",
        abstract: "Supervised fine-tuning of a checkpoint on chat data (TRL JSONL), loss on assistant tokens only.")
    @OptionGroup var options: RunOptions

    func run() throws {
        let c = options.stageConfig()
        var sft = SFT.Config(from: c.from)
        sft.base = c.base
        report(try SFT.run(sft))
    }
}
