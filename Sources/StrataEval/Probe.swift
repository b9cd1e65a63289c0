// Cloze probes for evaluation: the record (the same JSON fields as the synthetic
// world's probes.jsonl), reading a probe file with every problem reported by file
// and line, and a deterministic seeded subset balanced across period × domain.
// Required fields: prompt, answer, distractors, period, domain; fact_id, relation
// and subject are optional for probe files users bring.
// Leaves out: multi-answer probes, probe files in other formats than JSONL.

import Foundation
import StrataCore
import StrataData

public struct Probe: Codable, Equatable, Sendable {
    /// Text up to just before the answer; candidates are scored as " " + candidate after it.
    public var prompt: String
    public var answer: String
    public var distractors: [String]
    /// "before" or "after" the knowledge cutoff (any label works; "after" counts as new knowledge).
    public var period: String
    public var domain: String
    public var factID: String?
    public var relation: String?
    public var subject: String?

    enum CodingKeys: String, CodingKey {
        case prompt, answer, distractors, period, domain, relation, subject
        case factID = "fact_id"
    }

    public init(prompt: String, answer: String, distractors: [String], period: String = "before", domain: String = "general",
                factID: String? = nil, relation: String? = nil, subject: String? = nil) {
        self.prompt = prompt; self.answer = answer; self.distractors = distractors
        self.period = period; self.domain = domain
        self.factID = factID; self.relation = relation; self.subject = subject
    }

    public init(_ p: SyntheticWorld.ClozeProbe) {
        self.init(prompt: p.prompt, answer: p.answer, distractors: p.distractors, period: p.period, domain: p.domain,
                  factID: p.factID, relation: p.relation, subject: p.subject)
    }

    /// The prompt without trailing spaces or tabs (each candidate brings its own leading space).
    public var context: String {
        var s = Substring(prompt)
        while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
        return String(s)
    }

    /// The answer first, then the distractors.
    public var candidates: [String] { [answer] + distractors }

    /// Why this probe cannot be scored, or nil if it can.
    public func problem() -> String? {
        if prompt.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return "field 'prompt' is empty" }
        if answer.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return "field 'answer' is empty" }
        if distractors.isEmpty { return "field 'distractors' is empty (a probe needs at least one wrong candidate)" }
        if let i = distractors.firstIndex(where: { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }) {
            return "distractors[\(i)] is empty"
        }
        if let d = distractors.first(where: { $0 == answer }) { return "distractor '\(d)' equals the answer" }
        if Set(distractors).count != distractors.count { return "field 'distractors' repeats a candidate" }
        if period.isEmpty || period.contains("/") { return "field 'period' is empty or contains '/'" }
        if domain.isEmpty { return "field 'domain' is empty" }
        return nil
    }
}

public enum ProbeSet {
    /// Read and validate every probe of a JSONL file; the first bad line throws a `.data` error naming file and line.
    public static func read(_ url: URL) throws -> [Probe] {
        var probes: [Probe] = []
        try JSONLines.forEachRecord(Probe.self, in: url, skipOption: .none) { line, probe in
            if let problem = probe.problem() {
                throw StrataError.data("read \(url.path):\(line)", "line \(line): \(problem)",
                                       fix: "fix or remove line \(line) of \(url.lastPathComponent)")
            }
            probes.append(probe)
        }
        guard !probes.isEmpty else {
            throw StrataError.data("read \(url.path)", "the file holds no probes", fix: "write one JSON probe per line")
        }
        return probes
    }

    /// At most `limit` probes, the same for the same seed: groups (period × domain) take turns giving
    /// one probe each (in a seeded random order within each group) until `limit` are chosen, so small
    /// groups are kept whole and large ones share the rest. The chosen probes keep their file order.
    public static func subset(_ probes: [Probe], limit: Int, seed: UInt64) -> [Probe] {
        guard limit < probes.count else { return probes }
        var groups: [String: [Int]] = [:]
        for (i, p) in probes.enumerated() { groups[p.period + "\u{1F}" + p.domain, default: []].append(i) }
        var rng = StrataRNG(seed: seed)
        let keys = groups.keys.sorted()
        let queues = keys.map { key -> [Int] in
            var members = groups[key]!
            rng.shuffle(&members)
            return members
        }
        var chosen: [Int] = []
        var round = 0
        while chosen.count < max(0, limit) {
            for g in queues.indices where round < queues[g].count && chosen.count < limit { chosen.append(queues[g][round]) }
            round += 1
        }
        return chosen.sorted().map { probes[$0] }
    }
}
