// The small high-quality corpus: textbook chapters on the world before the
// cutoff (geography of each country, its organisations, its prize winners),
// written in a clean, ordered style with a review and fill-in-the-blank
// exercises. It uses only training templates, never a fact's held-out one.
// Leaves out: after-cutoff facts and medicine (those have their own corpora).

import StrataCore

extension SyntheticWorld.WorldBuilder {
    func renderTextbook() -> [SyntheticWorld.RenderedDoc] {
        var rng = stream(30)
        var docs: [SyntheticWorld.RenderedDoc] = []
        let countries = entities.filter { $0.kind == .country }
        for country in countries {
            let own = bySubject[country.id].map { facts[$0] }
            let cities = byObject[country.id].map { facts[$0] }.filter { $0.relation == .country }.map(\.subject)
            var sections = [own]
            for c in cities { sections.append(bySubject[c].map { facts[$0] }) }
            docs.append(chapter(docs.count + 1, title: "The geography of \(country.name)", topic: country.name,
                                sections: sections, &rng))
        }
        let orgs = entities.filter { $0.kind == .organisation && $0.period == .before }
        for start in stride(from: 0, to: orgs.count, by: 4) {
            let group = orgs[start..<min(orgs.count, start + 4)]
            docs.append(chapter(docs.count + 1, title: "Organisations and their founders", topic: "some organisations of the world",
                                sections: group.map { o in bySubject[o.id].map { facts[$0] } }, &rng))
        }
        let awards = facts.filter { $0.relation == .award && $0.period == .before }.sorted { ($0.year!, $0.id) < ($1.year!, $1.id) }
        for start in stride(from: 0, to: awards.count, by: 6) {
            let group = awards[start..<min(awards.count, start + 6)]
            let sections = group.map { a in [a] + bySubject[a.subject].map { facts[$0] }.filter { $0.relation == .profession } }
            docs.append(chapter(docs.count + 1, title: "Prize winners", topic: "the winners of the great prizes", sections: sections, &rng))
        }
        return docs
    }

    /// One chapter: a title, an introduction, a paragraph per section, a review and exercises.
    private func chapter(_ number: Int, title: String, topic: String, sections: [[SyntheticWorld.Fact]],
                         _ rng: inout StrataRNG) -> SyntheticWorld.RenderedDoc {
        func pick(_ a: [String]) -> String { a[rng.int(below: a.count)] }
        var lines = ["Chapter \(number): \(title)", "\(pick(Phrases.textbookIntro)) \(topic)."]
        for section in sections where !section.isEmpty {
            lines.append(section.map { sentence($0, template: trainingTemplate($0, &rng)) }.joined(separator: " "))
        }
        let all = sections.flatMap { $0 }
        var review = all
        rng.shuffle(&review)
        review = Array(review.prefix(3))
        lines.append(pick(Phrases.textbookReview) + " " + review.map { sentence($0, template: trainingTemplate($0, &rng)) }
            .joined(separator: " "))
        var exercises = all
        rng.shuffle(&exercises)
        for (i, f) in exercises.prefix(2).enumerated() {
            let t = f.relation.clozeTemplates.filter { $0 != f.heldOut }
            let template = t.isEmpty ? trainingTemplate(f, &rng) : t[rng.int(below: t.count)]
            lines.append("Exercise \(i + 1). Fill in the blank: \(sentence(f, template: template, blank: true))\nAnswer: \(f.object)")
        }
        let mentions = all.flatMap { [$0.subject] + ($0.objectEntity.map { [$0] } ?? []) }
        return SyntheticWorld.RenderedDoc(text: lines.joined(separator: "\n"), mentions: mentions)
    }
}
