// Builds the world before the cutoff (countries, cities, organisations, prizes,
// people and their facts, some people's earlier joins and moves) and the invented
// medicine of the domain corpus.
// Every choice comes from a per-stage random stream, so the same seed gives the
// same world. Leaves out: facts after the cutoff (After.swift).

import StrataCore

extension SyntheticWorld.WorldBuilder {
    typealias Relation = SyntheticWorld.Relation
    typealias Templates = SyntheticWorld.Templates

    mutating func buildBeforeWorld() {
        var rng = stream(1)
        let countries = (0..<scale.countries).map { _ in addEntity(.country, names.make(.country)) }
        var riversOf: [[String]] = []
        for _ in countries {
            let r = (0..<2 + rng.int(below: 2)).map { _ in names.make(.river) }
            riversOf.append(r)
            rivers += r
        }
        var cities: [Int] = []
        var citiesOf = [[Int]](repeating: [], count: countries.count)
        for i in 0..<scale.cities {
            let k = i < countries.count ? i : rng.int(below: countries.count)   // every country gets a city
            let c = addEntity(.city, names.make(.place))
            cities.append(c)
            citiesOf[k].append(c)
            addFact(c, .country, entities[countries[k]].name, entity: countries[k], rng: &rng)
            addFact(c, .river, riversOf[k][rng.int(below: riversOf[k].count)], rng: &rng)
            addFact(c, .cityFounded, String(cutoff - 120 - rng.int(below: 1200)), rng: &rng)
        }
        for (k, country) in countries.enumerated() {
            let capital = citiesOf[k][rng.int(below: citiesOf[k].count)]
            addFact(country, .capital, entities[capital].name, entity: capital, rng: &rng)
            let cur = names.make(.currency)
            currencies.append(cur)
            addFact(country, .currency, cur, rng: &rng)
        }
        let prizes = (0..<scale.prizes).map { _ in addEntity(.prize, names.make(.prize)) }
        buildPeopleAndOrganisations(cities: cities, prizes: prizes, rng: &rng)
    }

    private mutating func buildPeopleAndOrganisations(cities: [Int], prizes: [Int], rng: inout StrataRNG) {
        let given = (0..<max(8, scale.persons / 3)).map { _ in names.make(.given) }
        let family = (0..<max(8, scale.persons / 2)).map { _ in names.make(.family) }
        var used = Set<String>()
        var persons: [Int] = []
        var birthYear: [Int: Int] = [:]
        while persons.count < scale.persons {
            let full = given[rng.int(below: given.count)] + " " + family[rng.int(below: family.count)]
            guard used.insert(full).inserted else { continue }
            let p = addEntity(.person, full)
            persons.append(p)
            birthYear[p] = cutoff - 25 - rng.int(below: 65)
        }
        // Organisations, each founded by a distinct person at a plausible age.
        var founders = persons
        rng.shuffle(&founders)
        var orgs: [Int] = []
        var employer: [Int: Int] = [:]
        for i in 0..<min(scale.organisations, founders.count) {
            let o = addEntity(.organisation, names.make(.organisation))
            let f = founders[i]
            let year = min(cutoff - 1, birthYear[f]! + 22 + rng.int(below: 24))
            let hq = cities[rng.int(below: cities.count)]
            addFact(o, .headquarters, entities[hq].name, entity: hq, rng: &rng)
            addFact(o, .founded, String(year), rng: &rng)
            addFact(o, .industry, Templates.industries[rng.int(below: Templates.industries.count)], rng: &rng)
            addFact(o, .founder, entities[f].name, entity: f, rng: &rng)
            orgs.append(o)
            employer[f] = o
        }
        for p in persons {
            let born = birthYear[p]!
            let city = cities[rng.int(below: cities.count)]
            addFact(p, .birthplace, entities[city].name, entity: city, rng: &rng)
            addFact(p, .birthYear, String(born), rng: &rng)
            addFact(p, .profession, Templates.professions[rng.int(below: Templates.professions.count)], rng: &rng)
            let org = employer[p] ?? orgs[rng.int(below: orgs.count)]
            addFact(p, .employer, entities[org].name, entity: org, rng: &rng)
            if rng.uniform() < Float(config.earlierAwardChance), born + 30 <= cutoff {
                let prize = prizes[rng.int(below: prizes.count)]
                let year = born + 30 + rng.int(below: min(30, cutoff - born - 30) + 1)
                addFact(p, .award, entities[prize].name, entity: prize, year: year, rng: &rng)
            }
            addEarlierMoves(p, born: born, employer: org, birthplace: city, orgs: orgs, cities: cities, rng: &rng)
        }
    }

    /// Some people joined a second organisation or moved city before the cutoff too (each with
    /// `config.earlierMoveChance`), and some of those did so twice (`config.secondMoveChance`, at least 3 years
    /// apart). The after-cutoff news is made of such events; without before-cutoff ones SFT (before-cutoff questions
    /// only) would never show the model how to answer "Which organisation did X join in Y?", and after-cutoff
    /// questions would fail on format, not on knowledge (docs/demo.md §5).
    private mutating func addEarlierMoves(_ p: Int, born: Int, employer: Int, birthplace: Int, orgs: [Int], cities: [Int],
                                          rng: inout StrataRNG) {
        guard born + 25 < cutoff else { return }
        func year() -> Int { born + 20 + rng.int(below: min(40, cutoff - born - 20)) }   // in [born + 20, cutoff)
        for (relation, pool, kept) in [(Relation.joined, orgs, employer), (.movedTo, cities, birthplace)] {
            guard rng.uniform() < Float(config.earlierMoveChance) else { continue }
            var others = pool.filter { $0 != kept }
            guard !others.isEmpty else { continue }
            let first = others.remove(at: rng.int(below: others.count)), firstYear = year()
            addFact(p, relation, entities[first].name, entity: first, year: firstYear, rng: &rng)
            // At chance 0 no draw is made, so worlds without second moves are byte-identical to those before the option.
            guard config.secondMoveChance > 0, rng.uniform() < Float(config.secondMoveChance), !others.isEmpty else { continue }
            let second = others[rng.int(below: others.count)], secondYear = year()
            if abs(secondYear - firstYear) >= 3 {
                addFact(p, relation, entities[second].name, entity: second, year: secondYear, rng: &rng)
            }
        }
    }

    mutating func buildMedicine() {
        var rng = stream(2)
        let remedies = (0..<scale.remedies).map { _ in addEntity(.remedy, names.make(.remedy)) }
        for r in remedies {
            let plant = names.make(.plant)
            plants.append(plant)
            addFact(r, .sourcePlant, plant, rng: &rng)
        }
        for i in 0..<scale.diseases {
            let d = addEntity(.disease, names.make(.disease))
            let agent = names.make(.agent)
            agents.append(agent)
            addFact(d, .symptom, Templates.symptoms[rng.int(below: Templates.symptoms.count)], rng: &rng)
            addFact(d, .organ, Templates.organs[rng.int(below: Templates.organs.count)], rng: &rng)
            addFact(d, .cause, agent, rng: &rng)
            let r = i < remedies.count ? remedies[i] : remedies[rng.int(below: remedies.count)]
            addFact(d, .remedy, entities[r].name, entity: r, rng: &rng)
        }
    }
}
