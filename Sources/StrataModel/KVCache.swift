// KV-cache incremental decoding for GPT-2: keys and values of every past
// position are kept per layer, so each new token costs one row of work instead of
// a full recomputation. Rows of a batch advance independently (prompts of
// different lengths need no padding): each row has its own length.
// Shapes: cache per layer [B, H, T_max, D]; a step feeds N new tokens over rows.
// Leaves out: paged or shared-prefix caches, evicting old positions (a row that
// reaches n_positions stops).

import StrataCore
import StrataTensor

public final class KVCache {
    public let batch: Int, capacity: Int
    let heads: Int, headSize: Int
    let keys: [Tensor], values: [Tensor]      // per layer [B, H, T_max, D]
    public private(set) var lengths: [Int]    // positions filled per row

    public init(model: GPT2, batch: Int, capacity: Int? = nil) {
        let cfg = model.config
        self.batch = batch
        self.capacity = min(capacity ?? cfg.nPositions, cfg.nPositions)
        heads = cfg.nHead; headSize = cfg.headSize
        keys = (0..<cfg.nLayer).map { _ in Tensor(uninitialized: [batch, cfg.nHead, min(capacity ?? cfg.nPositions, cfg.nPositions), cfg.headSize]) }
        values = (0..<cfg.nLayer).map { _ in Tensor(uninitialized: [batch, cfg.nHead, min(capacity ?? cfg.nPositions, cfg.nPositions), cfg.headSize]) }
        lengths = [Int](repeating: 0, count: batch)
    }

    func advance(_ row: Int, by n: Int) { lengths[row] += n }
    @inline(__always) func slot(_ layer: Int, _ row: Int, _ head: Int, _ pos: Int) -> Int {
        ((row * heads + head) * capacity + pos) * headSize
    }
}

extension GPT2 {
    /// Feeds `tokens[i]` (new tokens) to row `rows[i]` of `cache` and returns the logits of each row's
    /// last new token, [rows.count, V]. Rows must not exceed the cache capacity.
    public func decode(rows: [Int], tokens: [[Int32]], cache: KVCache) -> Tensor {
        precondition(rows.count == tokens.count && !rows.isEmpty, "decode: rows and tokens must pair up")
        let tape = Tape.noGrad()
        var ids = [Int32](), pos = [Int32](), owner = [Int]()
        for (r, toks) in zip(rows, tokens) {
            precondition(cache.lengths[r] + toks.count <= cache.capacity, "decode: row \(r) would exceed the cache capacity \(cache.capacity)")
            for (k, t) in toks.enumerated() { ids.append(t); pos.append(Int32(cache.lengths[r] + k)); owner.append(r) }
        }
        var x = tape.add(tape.embedding(wte, ids), tape.embedding(wpe, pos))     // [N, C]
        for (l, block) in blocks.enumerated() {
            let qkv = block.attn(block.ln1(x, tape), tape)                         // [N, 3C]
            let att = cachedAttention(qkv, layer: l, positions: pos, owners: owner, cache: cache)
            x = tape.add(x, block.attnProj(att, tape))
            x = tape.add(x, block.fcProj(tape.gelu(block.fc(block.ln2(x, tape), tape)), tape))
        }
        for (r, toks) in zip(rows, tokens) { cache.advance(r, by: toks.count) }
        // The last new token of each row.
        var lastIndex = [Int](), running = 0
        for toks in tokens { running += toks.count; lastIndex.append(running - 1) }
        let c = config.nEmbd
        let last = Tensor(uninitialized: [rows.count, c])
        for (i, src) in lastIndex.enumerated() { (last.ptr + i * c).update(from: x.ptr + src * c, count: c) }
        return logits(lnF(last, tape), tape: tape)
    }

    /// Writes the new keys/values into the cache, then attends each new token to its row's
    /// positions 0...p. qkv: [N, 3C] → [N, C].
    private func cachedAttention(_ qkv: Tensor, layer l: Int, positions: [Int32], owners: [Int], cache: KVCache) -> Tensor {
        let n = positions.count, c = config.nEmbd, h = config.nHead, d = config.headSize
        let kc = cache.keys[l].ptr, vc = cache.values[l].ptr, q = qkv.ptr
        for i in 0..<n {
            for hh in 0..<h {
                let s = cache.slot(l, owners[i], hh, Int(positions[i]))
                (kc + s).update(from: q + i * 3 * c + c + hh * d, count: d)
                (vc + s).update(from: q + i * 3 * c + 2 * c + hh * d, count: d)
            }
        }
        let out = Tensor(zeros: [n, c]), po = out.ptr
        let scale = 1 / Float(d).squareRoot()
        positions.withUnsafeBufferPointer { pp in
            owners.withUnsafeBufferPointer { op in
                let box = UnsafeSendableBox((pp, op))
                Parallel.rows(n * h, minPerChunk: 4) { s, e in
                    let scores = UnsafeMutablePointer<Float>.allocate(capacity: cache.capacity)
                    defer { scores.deallocate() }
                    for job in s..<e {
                        let i = job / h, hh = job % h, p = Int(box.value.0[i]), row = box.value.1[i]
                        let qi = q + i * 3 * c + hh * d, base = cache.slot(l, row, hh, 0)
                        for j in 0...p { scores[j] = VMath.dot(qi, kc + base + j * d, d) }
                        AttentionMath.softmaxInPlace(scores, count: p + 1, scale: scale)
                        let o = po + i * c + hh * d
                        for j in 0...p { let w = scores[j], vj = vc + base + j * d; for k in 0..<d { o[k] += w * vj[k] } }
                    }
                }
            }
        }
        return out
    }
}

enum AttentionMath {
    static func softmaxInPlace(_ p: UnsafeMutablePointer<Float>, count n: Int, scale: Float) {
        let m = VMath.max(p, n) * scale
        for j in 0..<n { p[j] = VMath.exp(p[j] * scale - m) }
        let inv = 1 / VMath.sum(p, n)
        for j in 0..<n { p[j] *= inv }
    }
}
