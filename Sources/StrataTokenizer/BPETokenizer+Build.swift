// Building a BPETokenizer's derived tables from its parts: the merge-rank table
// (validating that each merge's parts and result are in the vocab), the added
// tokens (ids consistent with the vocab), the decode table and the canonical form
// hashed into `tokenizerHash`. Leaves out: anything format-specific (see +JSON).

import StrataCore

extension BPETokenizer {
    static func mergeTable(_ merges: [Merge], vocab: [String], index: [String: Int], op: String) throws -> PairTable {
        var table = PairTable(capacity: merges.count)
        for (rank, m) in merges.enumerated() {
            guard m.left >= 0, m.left < vocab.count, m.right >= 0, m.right < vocab.count else {
                throw StrataError.format(op, "merge \(rank) refers to id \(m.left) or \(m.right), outside the vocab of \(vocab.count)",
                                         fix: "regenerate the tokenizer")
            }
            let joined = vocab[m.left] + vocab[m.right]
            guard let result = index[joined] else {
                throw StrataError.format(op, "merge \(rank) (\(quoted(vocab[m.left])) \(quoted(vocab[m.right]))) gives \(quoted(joined)), which is not in the vocab",
                                         fix: "add the merged token to the vocab or drop the merge")
            }
            table.set(Int32(m.left), Int32(m.right), Int64(rank) << 32 | Int64(result))
        }
        return table
    }

    static func validateAdded(_ tokens: [AddedToken], vocab: [String], op: String) throws -> [AddedToken] {
        let sorted = tokens.sorted { $0.id < $1.id }
        var next = vocab.count
        var seen = Set<String>()
        for t in sorted {
            guard !t.content.isEmpty else { throw StrataError.format(op, "added token \(t.id) has empty content", fix: "remove it") }
            guard seen.insert(t.content).inserted else {
                throw StrataError.format(op, "added token \(quoted(t.content)) appears twice", fix: "keep one entry")
            }
            if t.id < vocab.count {
                guard t.id >= 0, vocab[t.id] == t.content else {
                    throw StrataError.format(op, "added token \(quoted(t.content)) has id \(t.id), which the vocab gives to \(t.id >= 0 ? quoted(vocab[t.id]) : "nothing")",
                                             fix: "use the vocab's id or an id from \(vocab.count) on")
                }
            } else {
                guard t.id == next else {
                    throw StrataError.format(op, "added token \(quoted(t.content)) has id \(t.id) but the next free id is \(next)",
                                             fix: "number added tokens contiguously after the vocab")
                }
                next += 1
            }
        }
        return sorted
    }

    static func makeCore(vocab: [String], index: [String: Int], ranks: PairTable, added: [AddedToken],
                         options: Options, unk: Int32) -> EncoderCore {
        var byteToID = [Int32](repeating: -1, count: 256)
        for b in 0..<256 {
            if let id = index[ByteLevel.string(forBytes: [UInt8(b)])] { byteToID[b] = Int32(id) }
        }
        let total = max(vocab.count, (added.map { $0.id }.max() ?? -1) + 1)
        var content = [Int: AddedToken]()
        for a in added { content[a.id] = a }
        var bytes = [UInt8](), offsets = [0], special = [Bool](repeating: false, count: total)
        for id in 0..<total {
            if let a = content[id] {
                bytes += Array(a.content.utf8)
                special[id] = a.special
            } else {
                bytes += ByteLevel.bytes(forToken: vocab[id]) ?? Array(vocab[id].utf8)
            }
            offsets.append(bytes.count)
        }
        var whole: ByteKeyTable? = nil
        if options.ignoreMerges {
            var t = ByteKeyTable(capacity: vocab.count)
            for (id, tok) in vocab.enumerated() where content[id] == nil {
                guard let raw = ByteLevel.bytes(forToken: tok), raw.count > 1 else { continue }
                raw.withUnsafeBufferPointer { rb in _ = t.findOrInsert(rb.baseAddress!, rb.count, value: Int64(id)) }
            }
            whole = t
        }
        return EncoderCore(mergeRanks: ranks, byteToID: byteToID, unkID: unk, fuseUnk: options.fuseUnk,
                           pre: PreTokenizer(options.pattern), addPrefixSpace: options.addPrefixSpace,
                           wholeTokens: whole, decodeBytes: bytes, decodeOffsets: offsets, isSpecial: special,
                           matcher: AddedTokenMatcher(added))
    }

    /// Everything that decides ids, in one deterministic string. Offsets-only flags
    /// (trim_offsets, post-processor) are left out.
    static func canonicalForm(vocab: [String], merges: [Merge], added: [AddedToken], options: Options) -> String {
        var s = "strata-bpe-v1\npattern=\(options.pattern.rawValue)\nadd_prefix_space=\(options.addPrefixSpace)\n"
        s += "ignore_merges=\(options.ignoreMerges)\nunk=\(options.unkToken.map(quoted) ?? "null")\nfuse_unk=\(options.fuseUnk)\n"
        s.reserveCapacity(vocab.count * 12 + merges.count * 14)
        s += "vocab \(vocab.count)\n"
        for t in vocab { s += quoted(t); s += "\n" }
        s += "merges \(merges.count)\n"
        for m in merges { s += "\(m.left) \(m.right)\n" }
        s += "added \(added.count)\n"
        for a in added { s += "\(a.id) \(quoted(a.content)) \(a.special)\n" }
        return s
    }
}

