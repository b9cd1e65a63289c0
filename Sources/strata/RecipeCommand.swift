// `strata recipe keys [--stage S]`: the recipe key reference (every key, its
// type, default and meaning), generated from the recipe types; docs/recipes.md
// is the same text for all stages.
// Leaves out: validating a recipe file (every training command does that on start).
import ArgumentParser
import StrataTrain

struct RecipeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "recipe", abstract: "About recipe files.",
                                                    subcommands: [RecipeKeysCommand.self])
}

struct RecipeKeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keys",
        abstract: "Every recipe key with its type, default and meaning (Markdown).")

    @Option(help: "Only the sections this stage reads: \(RecipeReference.stages.map(\.rawValue).joined(separator: ", ")).")
    var stage: String?

    func run() throws {
        print(try RecipeReference.markdown(stage: stage.map { Stage(rawValue: $0) }), terminator: "")
    }
}
