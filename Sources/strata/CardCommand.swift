// `strata card CHECKPOINT [-o README.md]`: the checkpoint's Hugging Face model
// card, written from its lineage.json and config.json. Thin: ModelCard (StrataTrain)
// builds the text. Leaves out: uploading to the Hub.

import ArgumentParser
import Foundation
import StrataCore
import StrataTrain

struct CardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "card",
        abstract: "Write a checkpoint's model card (README.md with Hub metadata) from its lineage.")

    @Argument(help: "Checkpoint directory, or a run directory (its newest checkpoint).") var checkpoint: String
    @Option(name: .shortAndLong, help: "Write the card to this file (default: print it).") var output: String?

    func run() throws {
        let c = try CheckpointLineage.load(checkpoint)
        let text = try ModelCard.markdown(lineage: c.lineage, config: c.config, links: c.links())
        guard let output else { print(text, terminator: ""); return }
        let url = URL(fileURLWithPath: output)
        do { try Data(text.utf8).write(to: url, options: .atomic) } catch {
            throw StrataError.io("write model card \(output)", error.localizedDescription, fix: "check that the directory exists and is writable")
        }
        print("wrote \(output) (model card of \(c.lineage.head?.checkpointID ?? c.directory.path))")
    }
}
