// The synthetic world's internal model: entities, facts (with their held-out
// template and rendering count), and the builder's shared state and helpers —
// sentence rendering, per-stage random streams, and distractor pools.
// Leaves out: generation steps (Build.swift, After.swift) and rendering of
// documents (Render.swift, Textbook.swift).

import Foundation
import StrataCore

extension SyntheticWorld {
    enum Period: String { case before, after }

    enum EntityKind: String {
        case country, city, person, organisation, prize, disease, remedy
    }

    struct Entity {
        let id: Int
        let kind: EntityKind
        let name: String
        let period: Period
    }

    struct Fact {
        let id: Int
        let subject: Int
        let relation: Relation
        let object: String
        let objectEntity: Int?
        let year: Int?
        let period: Period
        /// Index into relation.templates of the phrasing kept out of all training text.
        let heldOut: Int
        let renderings: Int
    }

    /// World sizes derived from the requested corpus size.
    struct Scale {
        let persons, cities, countries, organisations, prizes, newOrganisations, diseases, remedies: Int

        init(size: Int, personsPerOrganisation: Int) {
            let mb = Double(size) / 1_000_000
            persons = max(16, Int(215 * mb))
            cities = max(6, persons / 6)
            countries = max(4, cities / 6)
            organisations = max(4, persons / personsPerOrganisation)
            prizes = max(4, min(12, persons / 25))
            newOrganisations = max(2, organisations / 3)
            diseases = max(6, Int(38 * mb))
            remedies = max(4, diseases * 2 / 3)
        }
    }

    struct WorldBuilder {
        let config: Config
        let scale: Scale
        var names: NameForge
        var entities: [Entity] = []
        var facts: [Fact] = []
        /// Facts by subject entity and by object entity (indices into `facts`).
        var bySubject: [[Int]] = []
        var byObject: [[Int]] = []
        /// Each entity name's period (the first entity of a name, should two share one), for distractor tiers.
        var periodByName: [String: Period] = [:]
        /// Value words per kind for distractors (entity kinds are looked up from `entities`).
        var rivers: [String] = []
        var currencies: [String] = []
        var agents: [String] = []
        var plants: [String] = []

        init(config: Config) {
            self.config = config
            scale = Scale(size: config.size, personsPerOrganisation: config.personsPerOrganisation)
            names = NameForge(seed: Hash64.combine(config.seed, 1), forbidden: WorldBuilder.templateWords())
        }

        /// A random stream for one stage, independent of every other stage.
        func stream(_ stage: UInt64) -> StrataRNG { StrataRNG(seed: Hash64.combine(config.seed, 0xC0FFEE, stage)) }

        var cutoff: Int { config.cutoffYear }

        mutating func addEntity(_ kind: EntityKind, _ name: String, _ period: Period = .before) -> Int {
            entities.append(Entity(id: entities.count, kind: kind, name: name, period: period))
            if periodByName[name] == nil { periodByName[name] = period }
            bySubject.append([])
            byObject.append([])
            return entities.count - 1
        }

        /// Record a fact; the held-out template and rendering count are drawn from `rng`.
        mutating func addFact(_ subject: Int, _ relation: Relation, _ object: String, entity: Int? = nil, year: Int? = nil,
                              period: Period = .before, rng: inout StrataRNG) {
            let cloze = relation.heldOutCandidates
            let span = config.maxRenderings - config.minRenderings + 1
            let f = Fact(id: facts.count, subject: subject, relation: relation, object: object, objectEntity: entity,
                         year: year, period: period, heldOut: cloze[rng.int(below: cloze.count)],
                         renderings: config.minRenderings + rng.int(below: span))
            facts.append(f)
            bySubject[subject].append(f.id)
            if let entity { byObject[entity].append(f.id) }
        }

        /// A fact's sentence in template `t`, first letter capitalised.
        func sentence(_ f: Fact, template t: Int, blank: Bool = false) -> String {
            fill(f.relation.templates[t], f, object: blank ? "____" : f.object)
        }

        func fill(_ template: String, _ f: Fact, object: String) -> String {
            var s = template.replacingOccurrences(of: "{S}", with: entities[f.subject].name)
                .replacingOccurrences(of: "{O}", with: object)
            if let y = f.year { s = s.replacingOccurrences(of: "{Y}", with: String(y)) }
            return s.prefix(1).uppercased() + s.dropFirst()
        }

        /// A random training template for `f` (never its held-out one).
        func trainingTemplate(_ f: Fact, _ rng: inout StrataRNG) -> Int {
            let n = f.relation.templates.count
            let k = rng.int(below: n - 1)
            return k >= f.heldOut ? k + 1 : k
        }

        func entityNames(_ kind: EntityKind, period: Period? = nil) -> [String] {
            entities.filter { $0.kind == kind && (period == nil || $0.period == period!) }.map(\.name)
        }

        /// Same-kind wrong answers for `f` (three unless the pool is smaller), chosen so that a model which never
        /// read `f` ranks the answer first by chance alone (one in four), whatever else it knows:
        /// - never a value the subject holds in another fact while others remain: a person's own earlier employer or
        ///   city is no neutral wrong answer (a model knowing only the earlier fact prefers it; round 10 in
        ///   docs/demo.md measured 10% against 25%);
        /// - for an after-cutoff fact, names from the answer's own period first: an organisation founded after the
        ///   cutoff is a name the pretrained model never read, an easy reject beside an answer it has read (and the
        ///   reverse). Before-cutoff facts draw before-cutoff organisations only, as ever.
        /// Tiers are shuffled and taken in that order, so a tiny world's small pool still gives three.
        func distractors(for f: Fact, _ rng: inout StrataRNG, count: Int = 3) -> [String] {
            var pool: [String]
            switch f.relation.valueKind {
            case .year:
                let y = Int(f.object)!
                pool = f.period == .after ? Array(cutoff + 1...cutoff + 6).map(String.init)
                                          : (1...40).flatMap { [y - $0, y + $0] }.filter { $0 <= cutoff }.map(String.init)
            case .city: pool = entityNames(.city)
            case .country: pool = entityNames(.country)
            case .organisation: pool = entityNames(.organisation, period: f.period == .before ? .before : nil)
            case .prize: pool = entityNames(.prize)
            case .person: pool = entityNames(.person)
            case .remedy: pool = entityNames(.remedy)
            case .river: pool = rivers
            case .currency: pool = currencies
            case .agent: pool = agents
            case .plant: pool = plants
            case .profession: pool = Templates.professions
            case .industry: pool = Templates.industries
            case .symptom: pool = Templates.symptoms
            case .organ: pool = Templates.organs
            }
            let own = Set(bySubject[f.subject].map { facts[$0].object })
            let answerPeriod = f.objectEntity.map { entities[$0].period }
            var tiers: [[String]] = [[], [], []]   // same period, not the subject's; other period; the subject's own
            for v in pool where v != f.object {
                tiers[own.contains(v) ? 2 : (answerPeriod == nil || periodByName[v] == answerPeriod ? 0 : 1)].append(v)
            }
            var chosen: [String] = []
            for var tier in tiers where chosen.count < count {
                rng.shuffle(&tier)
                chosen += tier
            }
            return Array(chosen.prefix(count))
        }

        /// Every lower-cased word in templates and value lists; generated names must avoid them.
        static func templateWords() -> Set<String> {
            var text = Relation.allCases.flatMap { $0.templates + $0.questions }
            text += Templates.professions + Templates.industries + Templates.symptoms + Templates.organs
            text += Phrases.all
            var words = Set<String>()
            for t in text {
                for w in t.lowercased().split(whereSeparator: { !$0.isLetter }) { words.insert(String(w)) }
            }
            return words
        }
    }
}
