// Evaluation and instruction material derived from the facts: cloze probes on
// each fact's held-out phrasing (prompt ends just before the answer), question/
// answer pairs with sentence, verbose and wrong variants, and the world.json
// description. Leaves out: multiple-fact questions.

import StrataCore

extension SyntheticWorld.WorldBuilder {
    func clozeProbes() -> [SyntheticWorld.ClozeProbe] {
        var rng = stream(40)
        return facts.map { f in
            let template = f.relation.templates[f.heldOut]
            let head = String(template[..<template.range(of: "{O}")!.lowerBound])
            let prompt = fill(head, f, object: "").trimmingCharacters(in: .whitespaces)
            return SyntheticWorld.ClozeProbe(prompt: prompt, answer: f.object, distractors: distractors(for: f, &rng),
                                             period: f.period.rawValue, domain: f.relation.domain.rawValue,
                                             factID: "F\(f.id)", relation: f.relation.rawValue, subject: entities[f.subject].name)
        }
    }

    func questionAnswers() -> [SyntheticWorld.QAPair] {
        var rng = stream(41)
        func pick(_ a: [String]) -> String { a[rng.int(below: a.count)] }
        let held = heldOutFacts()
        return facts.map { f in
            let question = fill(pick(f.relation.questions), f, object: f.object)
            let wrong = distractors(for: f, &rng)
            let right = sentence(f, template: f.relation.answerTemplate)
            let wrongSentence = fill(f.relation.templates[trainingTemplate(f, &rng)], f, object: wrong[0])
            let verbose = [pick(Phrases.verboseOpeners), right, pick(Phrases.verboseMiddles), pick(Phrases.verboseClosers)]
            let verboseWrong = [pick(Phrases.verboseOpeners), wrongSentence, pick(Phrases.verboseMiddles), pick(Phrases.verboseClosers)]
            return SyntheticWorld.QAPair(question: question, answer: f.object, sentenceAnswer: right,
                                         verboseAnswer: verbose.joined(separator: " "), wrongAnswer: wrong[0],
                                         verboseWrongAnswer: verboseWrong.joined(separator: " "), distractors: wrong,
                                         period: f.period.rawValue, domain: f.relation.domain.rawValue, factID: "F\(f.id)",
                                         relation: f.relation.rawValue, subject: entities[f.subject].name,
                                         split: held.contains(f.id) ? "test" : "train")
        }
    }

    /// The facts whose questions are held out: exactly `testFraction` of each period (rounded), drawn on a stream
    /// of their own — so every seed has the same number of test questions per period, and the split does not move
    /// when another draw (a distractor, a phrasing) changes.
    func heldOutFacts() -> Set<Int> {
        var rng = stream(42)
        var held = Set<Int>()
        for period in [SyntheticWorld.Period.before, .after] {
            var ids = facts.filter { $0.period == period }.map(\.id)
            rng.shuffle(&ids)
            held.formUnion(ids.prefix(Int((Float(ids.count) * testFraction(period)).rounded())))
        }
        return held
    }

    /// The share of a period's questions held out as "test". Before the cutoff one in five: the rest are SFT's
    /// training questions. After it one in two: SFT never asks about after-cutoff facts, so their questions serve
    /// only evaluation and RL prompts, and at one in five the demo had 5–11 after-cutoff test questions — too few
    /// for a rate.
    func testFraction(_ period: SyntheticWorld.Period) -> Float { period == .after ? 0.5 : 0.2 }

    func describe(corpora: [SyntheticWorld.Corpus]) -> SyntheticWorld.Description {
        let ents = entities.map {
            SyntheticWorld.EntityRecord(id: "E\($0.id)", type: $0.kind.rawValue, name: $0.name, period: $0.period.rawValue)
        }
        let fs = facts.map { f in
            SyntheticWorld.FactRecord(id: "F\(f.id)", subject: "E\(f.subject)", subjectName: entities[f.subject].name,
                                      relation: f.relation.rawValue, object: f.object, objectID: f.objectEntity.map { "E\($0)" },
                                      year: f.year, period: f.period.rawValue, domain: f.relation.domain.rawValue,
                                      renderings: f.renderings, heldOutTemplate: f.relation.templates[f.heldOut])
        }
        return SyntheticWorld.Description(seed: config.seed, size: config.size, cutoffYear: cutoff,
                                          corpora: Dictionary(uniqueKeysWithValues: corpora.map { ($0.file, $0.bytes) }),
                                          entities: ents, facts: fs)
    }
}
