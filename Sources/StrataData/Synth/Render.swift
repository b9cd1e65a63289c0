// Renders facts into documents. Every fact has a rendering budget; rounds over
// the focus entities (in a fresh random order each round) write one document per
// entity — an encyclopedia entry, a news item or a short story — covering the
// entity's own facts plus a few facts that point at it, until every budget is
// spent. Each mention picks a training template at random. Documents record the
// entities they mention. Leaves out: the textbook corpus (Textbook.swift).

import StrataCore

extension SyntheticWorld {
    struct RenderedDoc {
        var text: String
        var mentions: [Int]
    }

    enum DocStyle { case article, news, story }
}

extension SyntheticWorld.WorldBuilder {
    typealias Phrases = SyntheticWorld.Phrases

    func renderCorpus(period: SyntheticWorld.Period, domain: SyntheticWorld.Domain) -> [SyntheticWorld.RenderedDoc] {
        var rng = stream(domain == .medicine ? 20 : period == .before ? 10 : 11)
        let chosen = facts.filter { $0.period == period && $0.relation.domain == domain }
        var budget = [Int](repeating: 0, count: facts.count)
        for f in chosen { budget[f.id] = f.renderings }
        var focus = Array(Set(chosen.flatMap { [$0.subject] + ($0.objectEntity.map { [$0] } ?? []) })).sorted()
        var docs: [SyntheticWorld.RenderedDoc] = []
        var remaining = chosen.reduce(0) { $0 + $1.renderings }
        while remaining > 0 {
            rng.shuffle(&focus)
            for e in focus {
                let own = bySubject[e].filter { budget[$0] > 0 && facts[$0].period == period }
                let style = pickStyle(entities[e], period: period, &rng)
                var picked = select(own, style: style, &rng)
                var related = byObject[e].filter { budget[$0] > 0 && facts[$0].period == period }
                rng.shuffle(&related)
                picked += related.prefix(own.isEmpty ? 3 : 2)
                guard !picked.isEmpty else { continue }
                for id in picked { budget[id] -= 1; remaining -= 1 }
                docs.append(document(focus: e, facts: picked.map { facts[$0] }, style: style, period: period, &rng))
            }
        }
        rng.shuffle(&docs)
        return docs
    }

    private func pickStyle(_ e: SyntheticWorld.Entity, period: SyntheticWorld.Period, _ rng: inout StrataRNG) -> SyntheticWorld.DocStyle {
        let u = rng.uniform()
        if period == .after { return u < 0.7 ? .news : .article }
        switch e.kind {
        case .person: return u < 0.45 ? .article : u < 0.7 ? .news : .story
        case .disease, .remedy: return u < 0.5 ? .article : u < 0.8 ? .news : .story
        default: return u < 0.7 ? .article : .news
        }
    }

    /// Articles cover all of an entity's pending facts; news and stories a few of them.
    private func select(_ own: [Int], style: SyntheticWorld.DocStyle, _ rng: inout StrataRNG) -> [Int] {
        guard style != .article, own.count > 2 else { return own }
        var s = own
        rng.shuffle(&s)
        let dated = s.filter { facts[$0].year != nil }
        let n = style == .news ? 1 + rng.int(below: 2) : 2 + rng.int(below: 2)
        return Array((dated + s.filter { facts[$0].year == nil }).prefix(n))
    }

    private func document(focus: Int, facts list: [SyntheticWorld.Fact], style: SyntheticWorld.DocStyle,
                          period: SyntheticWorld.Period, _ rng: inout StrataRNG) -> SyntheticWorld.RenderedDoc {
        let sentences = list.map { sentence($0, template: trainingTemplate($0, &rng)) }
        let medicine = list[0].relation.domain == .medicine
        func pick(_ a: [String]) -> String { a[rng.int(below: a.count)] }
        var parts: [String]
        switch style {
        case .article:
            let body = sentences.count > 4
                ? sentences[..<(sentences.count / 2)].joined(separator: " ") + "\n" + sentences[(sentences.count / 2)...].joined(separator: " ")
                : sentences.joined(separator: " ")
            let title = entities[focus].kind == .prize ? "The \(entities[focus].name) Prize" : entities[focus].name
            parts = [title + "\n" + body, pick(medicine ? Phrases.medicineClosers : Phrases.articleClosers)]
        case .news:
            let opener = medicine ? Phrases.medicineOpeners : period == .after ? Phrases.afterOpeners : Phrases.newsOpeners
            let closer = medicine ? Phrases.medicineClosers : period == .after ? Phrases.afterClosers : Phrases.newsClosers
            parts = [pick(opener)] + sentences + [pick(closer)]
        case .story:
            parts = [pick(medicine ? Phrases.medicineOpeners : Phrases.storyOpeners)] + sentences
                + [pick(medicine ? Phrases.medicineClosers : Phrases.storyClosers)]
        }
        let mentions = [focus] + list.flatMap { [$0.subject] + ($0.objectEntity.map { [$0] } ?? []) }
        return SyntheticWorld.RenderedDoc(text: parts.filter { !$0.isEmpty }.joined(separator: " "), mentions: mentions)
    }
}
