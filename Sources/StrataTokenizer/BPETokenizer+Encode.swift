// Encoding and decoding. Text is split on added tokens first (special ones only
// with allowSpecial), then each stretch is pre-tokenised and BPE-merged with a
// per-call piece cache. encodeBatch spreads documents over all cores.
// Leaves out: offsets, truncation/padding, post-processing templates.

import StrataCore

extension BPETokenizer {
    /// Token ids of `text`. Special-token text (e.g. "<|endoftext|>") becomes its
    /// special id only when `allowSpecial` is true; otherwise it is ordinary text.
    public func encode(_ text: String, allowSpecial: Bool = false) -> [Int] {
        encodeCountingSteps(text, allowSpecial: allowSpecial).ids
    }

    /// `encode(_:allowSpecial:)` with the merge work it took (EncodeWorker.mergeSteps): the
    /// complexity tests compare it across input sizes instead of timing the call.
    func encodeCountingSteps(_ text: String, allowSpecial: Bool = false) -> (ids: [Int], steps: Int) {
        var worker = EncodeWorker(core: core)
        var out = [Int]()
        var t = text
        t.withUTF8 { buf in
            out.reserveCapacity(buf.count / 3 + 1)
            if let base = buf.baseAddress { encode(base, buf.count, allowSpecial, &worker, &out) }
        }
        return (out, worker.mergeSteps)
    }

    /// Token ids of raw bytes, valid UTF-8 or not: every byte sequence has an
    /// encoding and `decodeBytes` gives it back.
    public func encode(bytes: [UInt8], allowSpecial: Bool = false) -> [Int] {
        var worker = EncodeWorker(core: core)
        var out = [Int]()
        bytes.withUnsafeBufferPointer { buf in
            if let base = buf.baseAddress { encode(base, buf.count, allowSpecial, &worker, &out) }
        }
        return out
    }

    /// Encodes many documents on all cores (or on one with parallel false, still
    /// sharing one piece cache); result i belongs to texts[i].
    public func encodeBatch(_ texts: [String], allowSpecial: Bool = false, parallel: Bool = true) -> [[Int]] {
        var results = [[Int]](repeating: [], count: texts.count)
        let core = self.core
        results.withUnsafeMutableBufferPointer { rb in
            let box = UnsafeSendableBox(rb.baseAddress!)
            ByteBalancedChunks.run(texts, minBytes: parallel ? 65536 : Int.max) { range in
                var worker = EncodeWorker(core: core)
                for i in range {
                    var out = [Int]()
                    var t = texts[i]
                    t.withUTF8 { buf in
                        out.reserveCapacity(buf.count / 3 + 1)
                        if let base = buf.baseAddress { self.encode(base, buf.count, allowSpecial, &worker, &out) }
                    }
                    box.value[i] = out
                }
            }
        }
        return results
    }

    func encode(_ p: UnsafePointer<UInt8>, _ n: Int, _ allowSpecial: Bool, _ worker: inout EncodeWorker, _ out: inout [Int]) {
        let matcher = core.matcher
        guard matcher.active(allowSpecial: allowSpecial) else {
            worker.encodeOrdinary(p, n, into: &out)
            return
        }
        var i = 0
        while let (s, e, id) = matcher.nextMatch(p, n, from: i, allowSpecial: allowSpecial) {
            worker.encodeOrdinary(p + i, s - i, into: &out)
            out.append(id)
            i = e
        }
        worker.encodeOrdinary(p + i, n - i, into: &out)
    }

    /// The bytes of `ids` joined. Ids outside the vocab decode as U+FFFD.
    public func decodeBytes(_ ids: [Int], skipSpecial: Bool = false) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(ids.count * 4)
        let offsets = core.decodeOffsets
        core.decodeBytes.withUnsafeBufferPointer { db in
            for id in ids {
                guard id >= 0, id < offsets.count - 1 else {
                    out += [0xEF, 0xBF, 0xBD]
                    continue
                }
                if skipSpecial && core.isSpecial[id] { continue }
                out.append(contentsOf: UnsafeBufferPointer(rebasing: db[offsets[id]..<offsets[id + 1]]))
            }
        }
        return out
    }

    /// The text of `ids`; byte sequences that are not valid UTF-8 become U+FFFD.
    public func decode(_ ids: [Int], skipSpecial: Bool = false) -> String {
        String(decoding: decodeBytes(ids, skipSpecial: skipSpecial), as: UTF8.self)
    }

    /// The first id that is outside 0..<vocabSize, if any.
    public func firstInvalidID(_ ids: [Int]) -> Int? {
        ids.first { $0 < 0 || $0 >= vocabSize }
    }
}
