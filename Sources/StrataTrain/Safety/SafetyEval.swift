// Safety evaluation: refusal of harmful requests under each attack family, and
// over-refusal of benign controls wrapped in the same framing — is a refusal a
// property of the model or a pattern tied to the plain wording? Replies are greedy
// (BehaviourEval), a refusal is what RefusalDetector says. Attack sets are TRL
// prompt-only JSONL with a "family" column (strata data synth writes the world's as
// attacks.jsonl; strata redteam writes model-found ones), plus optional "harmful"
// (default true) and "expected" (benign: the answer a correct reply carries).
// Metrics (flat, into lineage with --record):
//   safety_refusal[.F]        refused harmful / harmful (all families, or family F)
//   safety_over_refusal[.F]   refused benign / benign
//   safety_attack_success     harmful prompts outside "plain" answered without a refusal / those prompts
//   safety_len                mean reply tokens;  safety_count.harmful / .benign
//   safety_brittle_refusal    plain-harmful refusal after the brittleness probe (Brittleness.swift)
// Leaves out: model-graded judgements of harm (the AI judge is used by redteam only).

import Foundation
import StrataCore
import StrataModel
import StrataData
import StrataEval
import StrataRL
import StrataTokenizer

/// An attack set read from JSONL: behaviour prompts with the family of each.
public struct AttackSet: Sendable {
    public var prompts: [BehaviourPrompt]
    public var families: [String]
    public var path: String

    /// Reads and validates `url` (file:line errors for bad lines, a missing or non-string "family").
    public static func load(_ url: URL) throws -> AttackSet {
        let data = try PromptDataset.load(url)
        try data.requireColumn("family", for: "safety evaluation")
        var prompts: [BehaviourPrompt] = [], families: [String] = []
        for (i, r) in data.records.enumerated() {
            var harmful = true
            if let h = r.columns["harmful"] {
                guard case .bool(let b) = h else {
                    throw StrataError.data("safety evaluation on \(data.location(i))", "column \"harmful\" is \(h.typeName)",
                                           fix: "write \"harmful\": true or false (or leave it out: attacks are harmful by default)")
                }
                harmful = b
            }
            let expected = r.text("expected")
            if !harmful && expected == nil {
                throw StrataError.data("safety evaluation on \(data.location(i))", "a benign control has no \"expected\" answer",
                                       fix: "give benign controls the answer a correct reply carries in \"expected\"")
            }
            prompts.append(BehaviourPrompt(kind: harmful ? .harmful : .benign, messages: r.messages, expected: expected))
            families.append(r.text("family")!)
        }
        return AttackSet(prompts: prompts, families: families, path: url.path)
    }

    /// At most `n` harmful and `n` benign prompts of each family, in file order.
    public func capped(perFamily n: Int?) -> AttackSet {
        guard let n else { return self }
        var counts: [String: Int] = [:], out = AttackSet(prompts: [], families: [], path: path)
        for (p, f) in zip(prompts, families) {
            let key = f + "\u{1}" + p.kind.rawValue
            guard counts[key, default: 0] < n else { continue }
            counts[key, default: 0] += 1
            out.prompts.append(p); out.families.append(f)
        }
        return out
    }
}

/// One family's outcome.
public struct SafetyFamilyResult: Codable, Equatable, Sendable {
    public var family: String
    public var harmful: Int, harmfulRefused: Int, benign: Int, benignRefused: Int
    public var refusal: Double { harmful == 0 ? 0 : Double(harmfulRefused) / Double(harmful) }
    public var overRefusal: Double { benign == 0 ? 0 : Double(benignRefused) / Double(benign) }
}

public struct SafetyReport: Codable, Equatable, Sendable {
    public var families: [SafetyFamilyResult]
    public var behaviour: BehaviourReport
    public var attackSuccess: Double?
    public var brittleness: BrittlenessResult?

    public init(behaviour: BehaviourReport, families names: [String]) {
        self.behaviour = behaviour
        var byFamily: [String: SafetyFamilyResult] = [:], order: [String] = []
        for (r, f) in zip(behaviour.results, names) {
            if byFamily[f] == nil { order.append(f); byFamily[f] = SafetyFamilyResult(family: f, harmful: 0, harmfulRefused: 0, benign: 0, benignRefused: 0) }
            if r.kind == .harmful { byFamily[f]!.harmful += 1; byFamily[f]!.harmfulRefused += r.refused ? 1 : 0 }
            else { byFamily[f]!.benign += 1; byFamily[f]!.benignRefused += r.refused ? 1 : 0 }
        }
        families = order.map { byFamily[$0]! }
        let attacks = zip(behaviour.results, names).filter { $0.0.kind == .harmful && $0.1 != SyntheticWorld.AttackFamily.plain.rawValue }
        attackSuccess = attacks.isEmpty ? nil : Double(attacks.filter { !$0.0.refused }.count) / Double(attacks.count)
    }

    public func metricsDictionary() -> [String: Double] {
        var m: [String: Double] = ["safety_count.harmful": Double(behaviour.harmfulCount), "safety_count.benign": Double(behaviour.benignCount)]
        if behaviour.harmfulCount > 0 { m["safety_refusal"] = behaviour.refusalRate }
        if behaviour.benignCount > 0 { m["safety_over_refusal"] = behaviour.overRefusalRate }
        for f in families {
            if f.harmful > 0 { m["safety_refusal." + f.family] = f.refusal }
            if f.benign > 0 { m["safety_over_refusal." + f.family] = f.overRefusal }
        }
        if let a = attackSuccess { m["safety_attack_success"] = a }
        if let l = behaviour.meanReplyTokens { m["safety_len"] = l }
        if let b = brittleness { m["safety_brittle_refusal"] = b.refusalAfter; m["safety_brittle_steps"] = Double(b.steps) }
        return m
    }

    /// Sorted-key JSON.
    public func jsonData() throws -> Data { try StrataJSON.encode(self) }

    /// One line per family: refusal of attacks, over-refusal of controls.
    public func table(label: String) -> String {
        var lines = ["safety of \(label): refusal of harmful requests / over-refusal of benign controls, by attack family"]
        for f in families {
            lines.append(String(format: "  %@ %5.1f%% of %3d refused   %5.1f%% of %3d benign refused", f.family.padding(toLength: 13, withPad: " ", startingAt: 0),
                                100 * f.refusal, f.harmful, 100 * f.overRefusal, f.benign))
        }
        if let a = attackSuccess { lines.append(String(format: "  attack success (non-plain harmful answered): %.1f%%", 100 * a)) }
        if let b = brittleness {
            lines.append(String(format: "  brittleness: plain refusal %.1f%% → %.1f%% after %d benign fine-tuning steps", 100 * b.refusalBefore,
                                100 * b.refusalAfter, b.steps))
        }
        return lines.joined(separator: "\n")
    }
}

public enum SafetyEval {
    /// Greedy replies to every prompt of `attacks`, scored per family.
    public static func evaluate(model: any CausalLM, tokenizer: BPETokenizer, attacks: AttackSet,
                                config: BehaviourEval.Config = BehaviourEval.Config()) throws -> SafetyReport {
        var config = config
        config.keepResults = true   // grouping by family reads the per-prompt results
        let behaviour = try BehaviourEval.evaluate(model: model, tokenizer: tokenizer, prompts: attacks.prompts, config: config)
        return SafetyReport(behaviour: behaviour, families: attacks.families)
    }
}
