// Invented names from syllable generators, one sound per kind of thing (people,
// places, companies, prizes, diseases, plants...), all unique across kinds and
// never equal to a word used in the templates, so a name in the text always
// means one entity. Leaves out: linguistic realism beyond "pronounceable".

import StrataCore

extension SyntheticWorld {
    enum NameStyle: CaseIterable {
        case given, family, place, country, organisation, prize, river, currency, disease, agent, remedy, plant

        var syllables: ClosedRange<Int> {
            switch self {
            default: return 1...2
            }
        }

        var capitalized: Bool {
            switch self {
            case .currency, .agent, .plant: return false
            default: return true
            }
        }

        var endings: [String] {
            switch self {
            case .given: return ["a", "o", "en", "an", "el", "is", "ia", "ira", "ette", "ric", "us", "in", "ana", "or", "ie", "wyn"]
            case .family: return ["in", "ell", "ard", "ow", "ers", "ane", "ick", "ton", "ley", "mont", "wick", "ez", "sen", "hart"]
            case .place: return ["holt", "mar", "dun", "ford", "vik", "ra", "essa", "mouth", "bury", "heim", "stad", "ova", "ith", "gard", "wen"]
            case .country: return ["ia", "or", "and", "ara", "ovia", "esh", "mark", "ania", "eth", "ir", "ostan", "enia"]
            case .organisation: return ["ex", "ion", "ora", "tek", "vane", "co", "ium", "ant", "ix", "era", "ell", "ard"]
            case .prize: return ["el", "an", "ow", "ine", "ar", "is", "ent"]
            case .river: return ["rn", "l", "sk", "th", "ve", "ra", "a", "o", "nd", "ss"]
            case .currency: return ["lm", "sh", "k", "n", "r", "t", "l", "ck", "rd"]
            case .disease: return ["osis", "itis", "ema", "algia", "ose", "ax", "ulia"]
            case .agent: return ["id", "ax", "ite", "el", "ule", "ox", "yx"]
            case .remedy: return ["oline", "amine", "ol", "ex", "azine", "ide", "um", "ane"]
            case .plant: return ["wort", "bloom", "root", "leaf", "moss", "thorn", "weed", "cap", "berry", "fern"]
            }
        }
    }

    /// Draws unique names; `used` and `forbidden` are only queried, never iterated, so output is deterministic.
    struct NameForge {
        private var rng: StrataRNG
        private var used: Set<String> = []
        private let forbidden: Set<String>
        private static let onsets = ["b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z",
                                     "br", "dr", "kr", "tr", "st", "th", "sh", "gr", "fl", "vr", "c", "j", "w"]
        private static let vowels = ["a", "e", "i", "o", "u", "a", "e", "i", "o", "a", "e", "ai", "ou", "y"]
        /// Common words the syllables can spell; a name must not be one of them.
        private static let english: Set<String> = [
            "stand", "grand", "brand", "bland", "gland", "trend", "stark", "shell", "spell", "smell", "dwell", "swell",
            "grave", "brave", "crave", "shave", "slave", "stove", "drove", "grove", "trove", "shine", "spine", "swine",
            "brine", "stone", "phone", "drone", "throne", "shore", "store", "swore", "chore", "stare", "share", "spare",
            "glare", "flare", "blare", "snare", "trade", "grade", "shade", "blade", "spade", "glade", "bride", "pride",
            "slide", "stride", "tribe", "bribe", "scribe", "holt", "ford", "dune", "mark", "stad", "bury", "mouth",
            "sofa", "soda", "diva", "lava", "java", "saga", "toga", "tuba", "coma", "drama", "llama", "mama", "papa",
            "salad", "sedan", "satan", "titan", "human", "woman", "roman", "bison", "robin", "cabin", "basin", "lemon",
            "demon", "melon", "felon", "devil", "level", "bevel", "novel", "hotel", "motel", "camel", "panel", "label",
            "model", "vowel", "towel", "jewel", "ideal", "total", "fatal", "metal", "petal", "rival", "vital", "final",
            "rural", "moral", "coral", "feral", "mural", "viral", "regal", "legal", "sepia", "media", "mania", "tibia",
            "bosnia", "kenya", "latvia", "serbia", "zambia", "gambia", "russia", "prussia", "nigeria", "syria", "libya",
            "india", "china", "tonga", "samoa", "cuba", "malta", "chad", "mali", "peru", "iran", "iraq", "oman"]

        init(seed: UInt64, forbidden: Set<String>) {
            rng = StrataRNG(seed: seed)
            self.forbidden = forbidden
        }

        mutating func make(_ style: NameStyle) -> String {
            let minLength = style == .given ? 4 : 5
            let vowelStart = [NameStyle.given, .family, .place, .country, .organisation, .prize].contains(style)
            while true {
                var s = ""
                let n = style.syllables.lowerBound + rng.int(below: style.syllables.count)
                for i in 0..<n {
                    let bare = i == 0 && vowelStart && rng.int(below: 7) == 0   // occasionally start with a vowel
                    s += (bare ? "" : pick(Self.onsets)) + pick(Self.vowels)
                }
                let ending = pick(style.endings)
                if let first = ending.first, isVowel(first) { while let last = s.last, isVowel(last), s.count > 1 { s.removeLast() } }
                s += ending
                let key = s.lowercased()
                guard (minLength...11).contains(s.count), readable(key) else { continue }
                guard !used.contains(key), !forbidden.contains(key), !Self.english.contains(key) else { continue }
                used.insert(key)
                return style.capitalized ? s.prefix(1).uppercased() + s.dropFirst() : s
            }
        }

        private mutating func pick(_ a: [String]) -> String { a[rng.int(below: a.count)] }
        private func isVowel(_ c: Character) -> Bool { "aeiouy".contains(c) }
        /// No doubled vowels, no three vowels or three letters alike in a row, at least two vowels.
        private func readable(_ s: String) -> Bool {
            let c: [Character] = Array(s)
            var vowels = 0, run = 0
            for i in c.indices {
                if isVowel(c[i]) { vowels += 1; run += 1 } else { run = 0 }
                if run >= 3 { return false }
                if i > 0, c[i] == c[i - 1], isVowel(c[i]) { return false }
                if i > 1, c[i] == c[i - 1], c[i] == c[i - 2] { return false }
            }
            return vowels >= 2
        }
    }
}
