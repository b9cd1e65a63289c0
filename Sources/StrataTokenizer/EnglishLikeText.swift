// A deterministic English-like text for benchmarks: common English words plus
// tens of thousands of made-up words from syllables, drawn with Zipf frequencies,
// in sentences with capitals, commas, numbers, contractions and parentheses; one
// paragraph per line. Same seed, same bytes, on every machine.
// Leaves out: realism beyond word-frequency shape (no grammar, no real topics).

import StrataCore

public enum EnglishLikeText {
    static let common = """
    the of and to a in is it you that he was for on are with as I his they be at one have this from or had by \
    not word but what some we can out other were all there when up use your how said an each she which do their \
    time if will way about many then them write would like so these her long make thing see him two has look more \
    day could go come did number sound no most people my over know water than call first who may down side been \
    now find any new work part take get place made live where after back little only round man year came show \
    every good me give our under name very through just form sentence great think say help low line differ turn \
    cause much mean before move right boy old too same tell does set three want air well also play small end put \
    home read hand port large spell add even land here must big high such follow act why ask men change went \
    light kind off need house picture try us again animal point mother world near build self earth father head \
    stand own page should country found answer school grow study still learn plant cover food sun four between \
    state keep eye never last let thought city tree cross farm hard start might story saw far sea draw left late \
    run while press close night real life few north open seem together next white children begin got walk example
    """.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)

    static let contractions = ["don't", "it's", "we're", "they've", "I'm", "we'll", "he'd", "can't", "isn't", "you're", "that's"]

    /// Paragraphs (one document each) totalling at least `bytes` UTF-8 bytes.
    public static func generate(bytes target: Int, seed: UInt64 = 20_240_501) -> [String] {
        var rng = StrataRNG(seed: seed)
        let words = vocabulary(&rng, count: 40_000)
        var cumulative = [Double](), total = 0.0
        for r in 0..<words.count {
            total += 1.0 / Double(r + 2)
            cumulative.append(total)
        }
        var docs = [String](), size = 0
        while size < target {
            var para = ""
            for s in 0..<(1 + rng.int(below: 7)) {
                if s > 0 { para += " " }
                para += sentence(&rng, words, cumulative)
            }
            size += para.utf8.count + 1
            docs.append(para)
        }
        return docs
    }

    static func vocabulary(_ rng: inout StrataRNG, count: Int) -> [String] {
        let onsets = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w",
                      "st", "tr", "pl", "br", "ch", "sh", "th", "gr", "cl", "fl", "sp", "wh"]
        let vowels = ["a", "e", "i", "o", "u", "ea", "ou", "ai", "io", "y", "ee"]
        let codas = ["", "", "n", "r", "s", "t", "l", "nd", "st", "ng", "ck", "rt", "m", "x"]
        let suffixes = ["", "", "", "", "s", "ed", "ing", "er", "ly", "tion", "ment", "ness", "able"]
        var seen = Set(common), out = common
        while out.count < count {
            var w = ""
            for _ in 0..<(1 + rng.int(below: 3)) {
                w += onsets[rng.int(below: onsets.count)] + vowels[rng.int(below: vowels.count)] + codas[rng.int(below: codas.count)]
            }
            w += suffixes[rng.int(below: suffixes.count)]
            if seen.insert(w).inserted { out.append(w) }
        }
        return out
    }

    static func pick(_ rng: inout StrataRNG, _ words: [String], _ cumulative: [Double]) -> String {
        let u = rng.uniformDouble() * cumulative[cumulative.count - 1]
        var lo = 0, hi = cumulative.count - 1
        while lo < hi {
            let mid = (lo + hi) / 2
            if cumulative[mid] < u { lo = mid + 1 } else { hi = mid }
        }
        return words[lo]
    }

    static func sentence(_ rng: inout StrataRNG, _ words: [String], _ cumulative: [Double]) -> String {
        let n = 4 + rng.int(below: 18)
        var s = ""
        for i in 0..<n {
            var w: String
            let r = rng.int(below: 100)
            if r < 3 {
                w = number(&rng)
            } else if r < 5 {
                w = contractions[rng.int(below: contractions.count)]
            } else {
                w = pick(&rng, words, cumulative)
            }
            if i == 0 { w = w.prefix(1).uppercased() + w.dropFirst() }
            if i > 0 { s += " " }
            if r == 99 && i < n - 1 { w = "(" + w + " " + pick(&rng, words, cumulative) + ")" }
            s += w
            if i < n - 1 && rng.int(below: 100) < 8 { s += "," }
        }
        let ends = [".", ".", ".", ".", ".", ".", ".", "?", "!", ";"]
        return s + ends[rng.int(below: ends.count)]
    }

    static func padded3(_ v: Int) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, 3 - s.count)) + s
    }

    static func number(_ rng: inout StrataRNG) -> String {
        switch rng.int(below: 4) {
        case 0: return String(1900 + rng.int(below: 125))
        case 1: return "\(1 + rng.int(below: 99)),\(padded3(rng.int(below: 1000)))"
        case 2: return "\(rng.int(below: 100)).\(rng.int(below: 100))"
        default: return "\(rng.int(below: 100))%"
        }
    }
}
