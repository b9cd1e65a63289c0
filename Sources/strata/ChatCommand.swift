// `strata chat`: an interactive terminal chat with a checkpoint using the ChatML
// template. Thin: options map onto ChatConfig (StrataTrain) and the loop only
// wires stdin/stdout to ChatSession (history, streaming, context truncation).
// Slash commands (/help, /reset, /system, /quit) are handled here and never sent to
// the model; Ctrl-D (end of input) ends the chat on a fresh line.
// Leaves out: line editing and history recall (use rlwrap), colours.

import ArgumentParser
import Foundation
import StrataCore
import StrataTrain

struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "chat",
        abstract: "Chat with a checkpoint in the terminal (ChatML). Commands: /help, /reset, /system TEXT, /quit.")

    @Option(help: "Checkpoint directory, or a run directory (its latest valid checkpoint).") var checkpoint: String
    @Option(help: "System message (default: none).") var system: String?
    @Option(help: "Sampling temperature (0 = greedy).") var temperature: Float = 0.7
    @Option(help: "Top-k filter (0 = off).") var topK = 0
    @Option(help: "Top-p (nucleus) filter (1 = off).") var topP: Float = 1.0
    @Option(help: "Tokens per reply at most; the history gets n_positions minus this (default 128, or half the context when that does not fit).")
    var maxNewTokens: Int?
    @Option(help: "Random seed (reply n uses seed + n).") var seed: UInt64 = 0

    func run() throws {
        let cfg = ChatConfig(system: system, temperature: temperature, topK: topK, topP: topP,
                             maxNewTokens: maxNewTokens, seed: seed)
        let (session, notices) = try ChatSession.open(checkpoint: checkpoint, config: cfg)
        for n in notices { print(n) }
        session.onNotice = { print($0) }
        let interactive = isatty(STDIN_FILENO) != 0
        if interactive { print("chatting with \(checkpoint) — /help lists the commands, Ctrl-D ends") }
        while true {
            if interactive { print("> ", terminator: ""); fflush(nil) }
            guard let line = readLine() else {
                if interactive { print("") }   // Ctrl-D: end on a fresh line, not after the prompt
                break
            }
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            if let command = ChatSlashCommand.parse(text) {
                switch command {
                case .quit: return
                case .help: print(ChatSlashCommand.helpText)
                case .reset: session.reset(); print("(history cleared)")
                case .system(let s):
                    session.setSystem(s)
                    print(s.isEmpty ? "(system message removed)" : "(system message set)")
                case .unknown(let name): print(ChatSlashCommand.unknownText(name))
                }
                continue
            }
            do {
                _ = try session.reply(to: ChatSlashCommand.message(line)) { piece in print(piece, terminator: ""); fflush(nil) }
                print("")
            } catch let e as StrataError {
                print("error: \(e)")
            }
        }
    }
}
