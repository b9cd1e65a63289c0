// `strata reward`, `strata dpo` and `strata score`: thin commands over the preference stages.
import ArgumentParser
import Foundation
import StrataCore
import StrataTrain

struct RewardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reward",
        abstract: "Train a Bradley–Terry reward model (trunk + scalar head) on preference pairs.")
    @OptionGroup var options: StageArguments
    func run() throws { try options.launch(Reward.run) }
}

struct DPOCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dpo",
        abstract: "Direct preference optimisation (sigmoid, IPO or SimPO) against a frozen reference.")
    @OptionGroup var options: StageArguments
    func run() throws { try options.launch(DPO.run) }
}

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "score",
        abstract: "Score prompt/response records or preference pairs (JSONL) with a reward model; one JSON line per record.")
    @Option(help: "Reward-model checkpoint.") var rewardModel: String
    @Argument(help: "JSONL file: TRL preference pairs, or messages / prompt-completion records.") var file: String

    func run() throws {
        let lines = try Score.run(Score.Config(rewardModel: rewardModel, file: file))
        for l in lines { print(String(decoding: try StrataJSON.encode(l, pretty: false), as: UTF8.self)) }
        let pairs = lines.compactMap(\.prefersChosen)
        if !pairs.isEmpty {
            let acc = Double(pairs.filter { $0 }.count) / Double(pairs.count)
            FileHandle.standardError.write(Data(String(format: "%d pairs, chosen preferred in %.1f%%\n", pairs.count, 100 * acc).utf8))
        }
    }
}
