// Preference pairs from the synthetic world, deterministic by seed. Each QA
// pair of a split gives one conversational pair whose chosen reply is the
// correct concise answer and whose rejected reply is, by label:
//   wrong_fact — another entity's value of the same relation (from world.json's
//                facts; the QA pair's distractor when the relation has one value);
//   hedging    — a verbose non-answer;
//   refusal    — an unjustified refusal of the benign question.
// Labels follow `benignPattern` over the split's QA pairs in seeded random order,
// so their shares are exact up to rounding. Invented "harmful" requests (brew an
// invented poison, sabotage an invented machine; names from the world's name
// generator, never a world entity) add round(harmfulPerBenign · benign) pairs
// per split, with a refusal plus reason chosen and compliance rejected; train and
// test use disjoint invented names. Each split's list is shuffled.
// Leaves out: multi-turn pairs, system prompts, pairs on textbook or cloze text.

import Foundation
import StrataCore

extension SyntheticWorld {
    public struct PreferenceConfig: Codable, Sendable, Equatable {
        public var seed: UInt64 = 0
        /// Harmful pairs per benign pair in each split (rounded; at least one when positive).
        public var harmfulPerBenign: Double = 0.25
        /// Labels of benign pairs, repeated over each split's shuffled QA pairs.
        public var benignPattern: [PreferenceType] = [.wrongFact, .wrongFact, .hedging, .refusal]

        public init(seed: UInt64 = 0, harmfulPerBenign: Double = 0.25) {
            self.seed = seed
            self.harmfulPerBenign = harmfulPerBenign
        }
    }

    /// Preference pairs for training (QA "train" split) and held-out evaluation ("test" split).
    public struct PreferenceData: Sendable, Equatable {
        public var train: [PreferencePair]
        public var test: [PreferencePair]
        /// The held-out (test split) harmful requests with their parts, in generation order (attack sets wrap these).
        public var heldOutHarmful: [HarmfulRequest] = []
    }

    /// An invented harmful request: its text, the invented name it is about (a poison or a machine) and the city.
    public struct HarmfulRequest: Sendable, Equatable {
        public var text: String
        public var name: String
        public var isPoison: Bool
        public var city: String
    }

    /// Build the pairs (see the file header). `world` supplies same-relation values and the
    /// names invented requests must avoid.
    public static func preferences(qa: [QAPair], world: Description, config: PreferenceConfig = PreferenceConfig()) -> PreferenceData {
        var values: [String: [String]] = [:]
        var seen = Set<String>()
        for f in world.facts where seen.insert(f.relation + "\u{1}" + f.object).inserted { values[f.relation, default: []].append(f.object) }
        let pattern = config.benignPattern.filter { $0 != .harmful }
        func benign(_ split: String, _ stage: UInt64) -> [PreferencePair] {
            guard !pattern.isEmpty else { return [] }
            var rng = StrataRNG(seed: Hash64.combine(config.seed, 0x9EF, stage))
            var pool = qa.filter { $0.split == split }
            rng.shuffle(&pool)
            return pool.enumerated().map { i, q in
                benignPair(q, type: pattern[i % pattern.count], values: values[q.relation] ?? [], &rng)
            }
        }
        var train = benign("train", 1), test = benign("test", 2)
        let nTrain = harmfulCount(train.count, config.harmfulPerBenign), nTest = harmfulCount(test.count, config.harmfulPerBenign)
        var harm = HarmfulRequests(world: world, seed: config.seed)
        var heldOut: [HarmfulRequest] = []
        for _ in 0..<nTest { let r = harm.request(); heldOut.append(r); test.append(harm.pair(r)) }   // request, then its pair:
        for _ in 0..<nTrain { let r = harm.request(); train.append(harm.pair(r)) }                   // the seed's draw order
        var rng = StrataRNG(seed: Hash64.combine(config.seed, 0x9EF, 3))
        rng.shuffle(&train)
        rng.shuffle(&test)
        return PreferenceData(train: train, test: test, heldOutHarmful: heldOut)
    }

    static func harmfulCount(_ benign: Int, _ ratio: Double) -> Int {
        guard ratio > 0, ratio.isFinite else { return 0 }
        return max(1, Int((Double(benign) * ratio).rounded()))
    }

    static func benignPair(_ q: QAPair, type: PreferenceType, values: [String], _ rng: inout StrataRNG) -> PreferencePair {
        let rejected: String
        switch type {
        case .wrongFact:
            let others = values.filter { $0 != q.answer }
            rejected = others.isEmpty ? q.wrongAnswer : others[rng.int(below: others.count)]
        case .hedging:
            rejected = PreferencePhrases.hedges[rng.int(below: PreferencePhrases.hedges.count)]
        case .refusal, .harmful:
            rejected = PreferencePhrases.refusals[rng.int(below: PreferencePhrases.refusals.count)]
        }
        return .chat(q.question, chosen: q.answer, rejected: rejected, type: type.rawValue)
    }

    /// Invented harmful requests with fresh names, each name used once.
    struct HarmfulRequests {
        var forge: NameForge
        var rng: StrataRNG
        let cities: [String]

        init(world: Description, seed: UInt64) {
            var forbidden = WorldBuilder.templateWords()
            for e in world.entities { forbidden.insert(e.name.lowercased()) }
            for f in world.facts { forbidden.insert(f.object.lowercased()) }
            forge = NameForge(seed: Hash64.combine(seed, 0x9EF, 4), forbidden: forbidden)
            rng = StrataRNG(seed: Hash64.combine(seed, 0x9EF, 5))
            let c = world.entities.filter { $0.type == EntityKind.city.rawValue }.map(\.name)
            cities = c.isEmpty ? ["the city"] : c
        }

        mutating func request() -> HarmfulRequest {
            let poison = rng.int(below: 2) == 0
            let kind = poison ? PreferencePhrases.poison : PreferencePhrases.machine
            let name = forge.make(poison ? .agent : .organisation)
            let city = cities[rng.int(below: cities.count)]
            return HarmfulRequest(text: PreferencePhrases.fill(pick(kind.requests), name: name, poison: poison, city: city),
                                  name: name, isPoison: poison, city: city)
        }

        /// The request paired with a refusal (chosen) and a compliant reply (rejected).
        mutating func pair(_ r: HarmfulRequest) -> PreferencePair {
            let kind = r.isPoison ? PreferencePhrases.poison : PreferencePhrases.machine
            let refusal = pick(PreferencePhrases.refusals) + " " + pick(PreferencePhrases.harmReasons)
            let compliance = PreferencePhrases.fill(pick(kind.compliance), name: r.name, poison: r.isPoison, city: r.city)
            return .chat(r.text, chosen: refusal, rejected: compliance, type: PreferenceType.harmful.rawValue)
        }

        private mutating func pick(_ a: [String]) -> String { a[rng.int(below: a.count)] }
    }
}

extension SyntheticWorld.Output {
    /// This world's preference pairs (seed defaults to the world's seed).
    public func preferences(_ config: SyntheticWorld.PreferenceConfig? = nil) -> SyntheticWorld.PreferenceData {
        SyntheticWorld.preferences(qa: qa, world: world, config: config ?? SyntheticWorld.PreferenceConfig(seed: world.seed))
    }
}
