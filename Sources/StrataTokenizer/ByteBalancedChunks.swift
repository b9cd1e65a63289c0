// Splitting a list of documents into contiguous chunks of about equal UTF-8 size,
// one per core, so a few long documents do not leave a core idle (Parallel.rows
// alone splits by count). Leaves out: splitting inside a document.

import StrataCore

enum ByteBalancedChunks {
    /// Up to `parts` contiguous, non-empty index ranges covering texts, balanced by bytes.
    static func ranges(_ texts: [String], parts: Int) -> [Range<Int>] {
        let n = texts.count
        guard n > 0 else { return [] }
        let k = max(1, min(parts, n))
        if k == 1 { return [0..<n] }
        var total = 0
        for t in texts { total += t.utf8.count }
        var out = [Range<Int>](), start = 0, acc = 0
        for i in 0..<n {
            acc += texts[i].utf8.count
            let remainingParts = k - out.count - 1
            if remainingParts > 0 && acc * k >= total * (out.count + 1) && n - (i + 1) >= remainingParts {
                out.append(start..<(i + 1))
                start = i + 1
            }
        }
        if start < n { out.append(start..<n) }
        return out
    }

    /// Runs body(range) for each chunk on its own core; small inputs run inline.
    static func run(_ texts: [String], minBytes: Int = 65536, _ body: (Range<Int>) -> Void) {
        var total = 0
        for t in texts { total += t.utf8.count }
        let chunks = ranges(texts, parts: total < minBytes ? 1 : Parallel.workers)
        Parallel.rows(chunks.count, minPerChunk: 1) { c0, c1 in
            for c in c0..<c1 { body(chunks[c]) }
        }
    }
}
