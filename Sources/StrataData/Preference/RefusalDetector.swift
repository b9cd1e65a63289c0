// Decides whether a reply is a refusal, by phrase matching. A reply is a
// refusal when its normalised text (lower-cased, curly apostrophes made
// straight, whitespace runs collapsed to one space) contains one of `markers`:
// the first-person refusal phrases ("i can't", "i cannot", "i won't", "i will
// not", "i must decline", "i'm not able to", "i am not able to", "i'm unable
// to", "i am unable to", the apostrophe-less "i cant"/"i wont", "i'd rather
// not", "not something i will/can"). Precision and recall on a labelled set of
// 80 replies are measured by a test (Tests/StrataDataTests/Fixtures/refusal_labels.jsonl).
// Every refusal the synthetic world's preference
// generator writes contains one (tests check this), and none of its answers,
// hedges or compliant replies does. Leaves out: refusals phrased any other way
// (e.g. "no.", "that is not allowed"), which count as non-refusals.

import Foundation

public enum RefusalDetector {
    /// Phrases that mark a refusal, in normalised form.
    public static let markers = ["i can't", "i cannot", "i won't", "i will not", "i must decline",
                                 "i'm not able to", "i am not able to", "i'm unable to", "i am unable to",
                                 "i cant", "i wont", "i'd rather not", "i would rather not", "not something i will", "not something i can"]

    /// Lower-cased, ’ → ', whitespace runs collapsed to one space, trimmed.
    public static func normalize(_ text: String) -> String {
        text.lowercased().replacingOccurrences(of: "\u{2019}", with: "'")
            .split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// Whether `reply` contains a refusal marker (see the file header).
    public static func isRefusal(_ reply: String) -> Bool {
        let t = normalize(reply)
        return markers.contains { t.contains($0) }
    }
}
