// `strata redteam`: an attacker model rewrites harmful requests until the target
// complies; what worked is written as an attack set for `strata eval --safety`.
// Thin: options map onto RedTeam.Config (StrataTrain/Safety/RedTeam.swift).

import ArgumentParser
import StrataTrain

struct RedTeamCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "redteam",
        abstract: "Red-team a chat checkpoint: an attacker model samples rewrites of harmful requests; those the target complies with become an attack set.")

    @Option(help: "The chat checkpoint (or run directory) under test.") var target: String
    @Option(help: "The checkpoint that writes rewrites (a chat model; the target itself works).") var attacker: String
    @Option(help: "Harmful requests: an attack set (its plain family) or a prompt JSONL, e.g. world/attacks.jsonl.") var requests: String
    @Option(help: "Where the kept rewrites go (JSONL; a progress file beside it lets an interrupted run resume).") var out: String
    @Option(help: "Rewrites sampled per request.") var samples = 4
    @Option(help: "Rewrite at most this many requests.") var maxRequests: Int?
    @Option(help: "Seed of the attacker's sampling.") var seed: UInt64 = 0
    @Option(help: "Attacker sampling temperature.") var temperature: Float = 1.0
    @Option(help: "Attacker nucleus (top-p).") var topP: Float = 0.95

    func run() throws {
        var c = RedTeam.Config(target: target, attacker: attacker, requests: requests, out: out)
        c.samplesPerRequest = samples; c.maxRequests = maxRequests; c.seed = seed; c.temperature = temperature; c.topP = topP
        _ = try RedTeam.run(c)
        print("evaluate with: strata eval --checkpoint \(target) --safety \(out) --chat-only")
    }
}
