// The slash commands of `strata chat` (/help, /reset, /system TEXT, /quit): a line
// starting with "/" is a command and is never sent to the model; an unknown one gets
// a did-you-mean answer. "//" at the start sends the rest (starting with "/") as a
// message. Leaves out: the terminal loop (Sources/strata/ChatCommand.swift).

import Foundation

public enum ChatSlashCommand: Equatable, Sendable {
    case help
    case reset
    /// Set the system message; empty removes it.
    case system(String)
    case quit
    /// A "/word" that is no command (the word as typed, with its slash).
    case unknown(String)

    /// Every command with what it does, in /help's order.
    public static let all: [(name: String, usage: String, summary: String)] = [
        ("/help", "/help", "list these commands"),
        ("/reset", "/reset", "forget the conversation (the system message stays)"),
        ("/system", "/system TEXT", "set the system message (no TEXT: remove it)"),
        ("/quit", "/quit", "end the chat (also /exit or Ctrl-D)"),
    ]

    /// The text /help prints.
    public static var helpText: String {
        let width = all.map(\.usage.count).max() ?? 0
        return (["commands (never sent to the model):"]
            + all.map { "  " + $0.usage.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.summary }
            + ["  start a line with // to send a message that begins with /"]).joined(separator: "\n")
    }

    /// The command on a trimmed input line, or nil when the line is a message for the model
    /// (it does not start with "/", or starts with "//").
    public static func parse(_ line: String) -> ChatSlashCommand? {
        guard line.hasPrefix("/"), !line.hasPrefix("//") else { return nil }
        let word = String(line.prefix { !$0.isWhitespace })
        let rest = String(line.dropFirst(word.count)).trimmingCharacters(in: .whitespaces)
        switch word {
        case "/help", "/?": return .help
        case "/reset", "/clear": return .reset
        case "/system": return .system(rest)
        case "/quit", "/exit": return .quit
        default: return .unknown(word)
        }
    }

    /// The message a line becomes: a leading "//" stands for a literal "/".
    public static func message(_ line: String) -> String {
        line.hasPrefix("//") ? String(line.dropFirst()) : line
    }

    /// The answer to an unknown command, with the nearest command when one is close.
    public static func unknownText(_ word: String) -> String {
        let names = all.map(\.name)
        let near = names.min { editDistance($0, word) < editDistance($1, word) }
        let hint = near.flatMap { editDistance($0, word) <= 2 ? " did you mean \($0)?" : nil } ?? ""
        return "unknown command \(word);\(hint) /help lists the commands (start with // to send it as a message)"
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(1, a.count) where !a.isEmpty {
            var prev = row[0]
            row[0] = i
            for j in 1...max(1, b.count) where !b.isEmpty {
                let cur = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
                prev = cur
            }
        }
        return row[b.count]
    }
}
