// `strata sft`: a thin command over SFT.Config.
import ArgumentParser
import Foundation
import StrataTrain

struct SFTCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sft",
        abstract: "Supervised fine-tuning of a checkpoint on chat data (TRL JSONL), loss on assistant tokens only.")
    @Option(help: "Checkpoint (or run directory) to fine-tune.") var from: String?
    @Option(help: "Recipe file (YAML) with an sft section.") var config: String?
    @Option(name: .customLong("set"), help: "Override a recipe key, e.g. --set sft.packing=pad (repeatable).") var overrides: [String] = []
    @Option(help: "Resume the run in this directory.") var resume: String?

    func run() throws {
        var c = SFT.Config(from: from, recipeFile: config, overrides: overrides, resume: resume)
        let flag = InterruptFlag()
        flag.install()
        c.base.interrupt = flag
        report(try SFT.run(c))
    }
}
