// Facts dated after the cutoff: new organisations (names never seen before),
// and people who join an organisation, move to a city or win a prize. Objects
// are chosen so that the person and the new answer never appear together in
// any before-cutoff document (checked against the rendered documents' mentions),
// so the after-cutoff corpus really carries new knowledge.
// Leaves out: facts that retract before-cutoff facts.

import StrataCore

extension SyntheticWorld.WorldBuilder {
    /// Pairs (person, entity) mentioned together in some document.
    static func coMentions(_ docs: [SyntheticWorld.RenderedDoc]) -> Set<UInt64> {
        var set = Set<UInt64>()
        for d in docs {
            for a in d.mentions { for b in d.mentions where a != b { set.insert(UInt64(a) << 32 | UInt64(b)) } }
        }
        return set
    }

    mutating func buildAfterFacts(avoiding together: Set<UInt64>) {
        var rng = stream(3)
        let persons = entities.filter { $0.kind == .person }.map(\.id)
        let cities = entities.filter { $0.kind == .city }.map(\.id)
        let prizes = entities.filter { $0.kind == .prize }.map(\.id)
        var founderOf: [Int: Int] = [:]
        for f in facts where f.relation == .founder { founderOf[f.objectEntity!] = f.subject }
        var newFounded: [Int: Int] = [:]
        for _ in 0..<scale.newOrganisations {
            let free = persons.filter { founderOf[$0] == nil }
            guard !free.isEmpty else { break }
            let p = free[rng.int(below: free.count)]
            let o = addEntity(.organisation, names.make(.organisation), .after)
            let year = cutoff + 1 + rng.int(below: 3)
            let hq = cities[rng.int(below: cities.count)]
            addFact(o, .founded, String(year), period: .after, rng: &rng)
            addFact(o, .headquarters, entities[hq].name, entity: hq, period: .after, rng: &rng)
            addFact(o, .industry, Templates.industries[rng.int(below: Templates.industries.count)], period: .after, rng: &rng)
            addFact(o, .founder, entities[p].name, entity: p, period: .after, rng: &rng)
            founderOf[p] = o
            newFounded[o] = year
        }
        let orgs = entities.filter { $0.kind == .organisation }.map(\.id)
        var order = persons
        rng.shuffle(&order)
        for p in order {
            let own = bySubject[p].map { facts[$0] }
            let linked = Set(own.compactMap(\.objectEntity))
            func fresh(_ pool: [Int]) -> [Int] {
                pool.filter { !linked.contains($0) && !together.contains(UInt64(p) << 32 | UInt64($0)) && founderOf[p] != $0 }
            }
            if rng.uniform() < 0.3, case let c = fresh(orgs), !c.isEmpty {
                let o = c[rng.int(below: c.count)]
                let earliest = max(cutoff + 1, newFounded[o] ?? 0)
                addFact(p, .joined, entities[o].name, entity: o, year: earliest + rng.int(below: cutoff + 5 - earliest),
                        period: .after, rng: &rng)
            }
            if rng.uniform() < 0.3, case let c = fresh(cities), !c.isEmpty {
                let city = c[rng.int(below: c.count)]
                addFact(p, .movedTo, entities[city].name, entity: city, year: cutoff + 1 + rng.int(below: 4), period: .after, rng: &rng)
            }
            if !own.contains(where: { $0.relation == .award }), rng.uniform() < 0.2, case let c = fresh(prizes), !c.isEmpty {
                let prize = c[rng.int(below: c.count)]
                addFact(p, .award, entities[prize].name, entity: prize, year: cutoff + 1 + rng.int(below: 4), period: .after, rng: &rng)
            }
        }
    }
}
