// `strata data synth`: a deterministic synthetic world for tiny-model
// experiments. Invented people, places, organisations, prizes and an invented
// medicine are rendered through many templates into an encyclopedia/news/story
// corpus before a cutoff year, a news corpus of facts after it, a small textbook
// corpus and a medical domain corpus, with cloze probes on held-out phrasings
// and question/answer pairs. Same config → same bytes. Leaves out: multi-hop
// reasoning data, non-English text.

import Foundation
import StrataCore

public enum SyntheticWorld {
    public struct Config: Codable, Sendable, Equatable {
        public var seed: UInt64 = 0
        /// Approximate total bytes of the four corpora; the number of entities scales with it.
        public var size: Int = 3_000_000
        /// Facts dated after this year appear only in the after-cutoff corpus.
        public var cutoffYear: Int = 2020
        /// Each fact is rendered this many times (uniform in the range) in its training corpus.
        public var minRenderings: Int = 6
        public var maxRenderings: Int = 14
        /// Chance that a person joins a second organisation before the cutoff, and (drawn separately) that they move
        /// city before it. These dated events are the only before-cutoff examples SFT sees of the relations every
        /// after-cutoff question asks about (docs/demo.md §5, rounds 9–10).
        public var earlierMoveChance: Double = 0.2
        /// Chance that a person old enough wins a prize before the cutoff (such a person wins none after it).
        public var earlierAwardChance: Double = 0.3
        /// Chance that a person with an earlier join (or move) has a second one before the cutoff, years apart, to
        /// another organisation (city). Then SFT's before-cutoff questions include a person with two events of one
        /// relation, told apart only by the asked year — the skill every after-cutoff question about a person with an
        /// earlier event needs. The demo's ~1M-parameter model does not learn it (docs/demo.md, round 15): 0 by default.
        public var secondMoveChance: Double = 0
        /// People per organisation founded before the cutoff (a third as many are founded after it). Fewer people per
        /// organisation give SFT more organisations to name in its replies (docs/demo.md, round 15).
        public var personsPerOrganisation: Int = 7

        public init(seed: UInt64 = 0, size: Int = 3_000_000) {
            self.seed = seed
            self.size = size
        }

        func validate() throws {
            guard size >= 20_000, size <= 2_000_000_000 else {
                throw StrataError.config("synth", "size \(size) bytes is outside 20KB...2GB", fix: "use e.g. --size 2MB")
            }
            guard minRenderings >= 1, maxRenderings >= minRenderings, maxRenderings <= 100 else {
                throw StrataError.config("synth", "renderings \(minRenderings)...\(maxRenderings) must satisfy 1 ≤ min ≤ max ≤ 100")
            }
            for (name, chance) in [("earlier move chance", earlierMoveChance), ("earlier award chance", earlierAwardChance),
                                   ("second move chance", secondMoveChance)]
            where !(0...1).contains(chance) {
                throw StrataError.config("synth", "\(name) \(chance) is outside 0...1", fix: "give a probability, e.g. 0.6")
            }
            guard (2...50).contains(personsPerOrganisation) else {
                throw StrataError.config("synth", "persons per organisation \(personsPerOrganisation) is outside 2...50",
                                         fix: "give e.g. 7 (the default) or 4 for more organisations")
            }
            guard (1000...3000).contains(cutoffYear) else {
                throw StrataError.config("synth", "cutoff year \(cutoffYear) is outside 1000...3000")
            }
        }
    }

    /// A named corpus: its JSONL file name and documents.
    public struct Corpus: Sendable {
        public var name: String
        public var file: String
        public var documents: [String]
        public var bytes: Int { documents.reduce(0) { $0 + $1.utf8.count } }
    }

    /// A cloze prompt on a held-out phrasing; score " " + answer against " " + each distractor.
    public struct ClozeProbe: Codable, Sendable, Equatable {
        public var prompt: String
        public var answer: String
        public var distractors: [String]
        public var period: String
        public var domain: String
        public var factID: String
        public var relation: String
        public var subject: String

        enum CodingKeys: String, CodingKey {
            case prompt, answer, distractors, period, domain, relation, subject
            case factID = "fact_id"
        }
    }

    /// A question with short and sentence answers, plus wrong and verbose variants for preference data.
    public struct QAPair: Codable, Sendable, Equatable {
        public var question: String
        public var answer: String
        public var sentenceAnswer: String
        public var verboseAnswer: String
        public var wrongAnswer: String
        public var verboseWrongAnswer: String
        public var distractors: [String]
        public var period: String
        public var domain: String
        public var factID: String
        public var relation: String
        public var subject: String
        /// "train" or "test" (about one in five before the cutoff, one in two after it), so instruction tuning can be evaluated on unseen questions.
        public var split: String

        /// The reply sentence up to the answer ("Ilse Marno was born in"), when the sentence answer restates
        /// the subject before the answer — what a reply says first; nil when it does not.
        public var answerLead: String? {
            guard let s = sentenceAnswer.range(of: subject), let a = sentenceAnswer.range(of: answer, range: s.upperBound..<sentenceAnswer.endIndex)
            else { return nil }
            let lead = sentenceAnswer[..<a.lowerBound].trimmingCharacters(in: .whitespaces)
            return lead.isEmpty ? nil : lead
        }

        /// The reply sentence with `candidate` in the answer's place when the sentence restates the subject
        /// first; otherwise `candidate` alone.
        public func reply(answering candidate: String) -> String {
            guard let lead = answerLead, let a = sentenceAnswer.range(of: answer, range: sentenceAnswer.range(of: lead)!.upperBound..<sentenceAnswer.endIndex)
            else { return candidate }
            return lead + " " + candidate + sentenceAnswer[a.upperBound...]
        }

        enum CodingKeys: String, CodingKey {
            case question, answer, distractors, period, domain, relation, subject, split
            case sentenceAnswer = "sentence_answer", verboseAnswer = "verbose_answer", wrongAnswer = "wrong_answer"
            case verboseWrongAnswer = "verbose_wrong_answer", factID = "fact_id"
        }
    }

    public struct EntityRecord: Codable, Sendable, Equatable {
        public var id: String
        public var type: String
        public var name: String
        public var period: String
    }

    public struct FactRecord: Codable, Sendable, Equatable {
        public var id: String
        public var subject: String
        public var subjectName: String
        public var relation: String
        public var object: String
        public var objectID: String?
        public var year: Int?
        public var period: String
        public var domain: String
        public var renderings: Int
        public var heldOutTemplate: String

        enum CodingKeys: String, CodingKey {
            case id, subject, relation, object, year, period, domain, renderings
            case subjectName = "subject_name", objectID = "object_id", heldOutTemplate = "held_out_template"
        }
    }

    /// world.json: the whole world, so experiments can be checked against ground truth.
    public struct Description: Codable, Sendable, Equatable {
        public var seed: UInt64
        public var size: Int
        public var cutoffYear: Int
        public var corpora: [String: Int]
        public var entities: [EntityRecord]
        public var facts: [FactRecord]

        enum CodingKeys: String, CodingKey {
            case seed, size, corpora, entities, facts
            case cutoffYear = "cutoff_year"
        }
    }

    public struct Output: Sendable {
        public var corpora: [Corpus]
        public var probes: [ClozeProbe]
        public var qa: [QAPair]
        public var world: Description
    }

    /// Build the world, render the corpora and derive probes and QA pairs.
    public static func generate(_ config: Config) throws -> Output {
        try config.validate()
        var b = WorldBuilder(config: config)
        b.buildBeforeWorld()
        b.buildMedicine()
        let before = b.renderCorpus(period: .before, domain: .general)
        let textbook = b.renderTextbook()
        b.buildAfterFacts(avoiding: WorldBuilder.coMentions(before + textbook))
        let after = b.renderCorpus(period: .after, domain: .general)
        let medicine = b.renderCorpus(period: .before, domain: .medicine)
        let corpora = [
            Corpus(name: "before_cutoff", file: "before_cutoff.jsonl", documents: before.map(\.text)),
            Corpus(name: "after_cutoff", file: "after_cutoff.jsonl", documents: after.map(\.text)),
            Corpus(name: "textbook", file: "textbook.jsonl", documents: textbook.map(\.text)),
            Corpus(name: "domain", file: "domain.jsonl", documents: medicine.map(\.text)),
        ]
        let world = b.describe(corpora: corpora)
        return Output(corpora: corpora, probes: b.clozeProbes(), qa: b.questionAnswers(), world: world)
    }
}

/// Byte sizes written like "2MB", "500KB", "1.5GB" or a plain number of bytes (1KB = 1000 bytes).
public enum ByteSize {
    public static func parse(_ text: String) throws -> Int {
        let t = text.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(String, Double)] = [("GB", 1e9), ("MB", 1e6), ("KB", 1e3), ("G", 1e9), ("M", 1e6), ("K", 1e3), ("B", 1)]
        var number = t, scale = 1.0
        for (u, s) in units where t.hasSuffix(u) {
            number = String(t.dropLast(u.count)).trimmingCharacters(in: .whitespaces)
            scale = s
            break
        }
        guard let v = Double(number), v.isFinite, v > 0, v * scale < 1e13 else {
            throw StrataError.config("parse size", "'\(text)' is not a size", fix: "write e.g. 2MB, 500KB or 3000000")
        }
        return Int((v * scale).rounded())
    }
}
