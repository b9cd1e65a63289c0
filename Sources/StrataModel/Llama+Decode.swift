// KV-cache incremental decoding for the Llama family. The cache holds the
// rotated keys and the values of the Hkv key/value heads only (grouped-query
// attention keeps it H/Hkv times smaller than GPT-2's); query head j reads
// key/value head j / (H/Hkv), G = H/Hkv query heads per key/value head. Paths
// (chosen as for GPT-2, CachedAttentionPath):
//   prefill (every row of the call starts empty): prompts packed into one
//     sequence through the fused attention op with a document mask;
//   step (one new token per row): batched products over [B, Hkv] with the G query
//     heads of a group as the rows of one product, S[B,Hkv,G,L] = Q·Kᵀ, O = P·V;
//   per row (anything else, or batched decoding off): dot products per token and head.
// Shapes: cache per layer [B, Hkv, T_max, D]; a call feeds N new tokens over rows.
// Leaves out: paged or shared-prefix caches.

import StrataCore
import StrataTensor

extension Llama {
    /// A KV cache for `batch` rows of up to `capacity` (default max_position_embeddings) positions.
    public func makeCache(batch: Int, capacity: Int? = nil) -> KVCache {
        KVCache(layers: config.numHiddenLayers, heads: config.kvHeads, headSize: config.headSize,
                positions: config.maxPositionEmbeddings, batch: batch, capacity: capacity, batched: batchedDecoding)
    }

    /// Feeds `tokens[i]` to row `rows[i]` of `cache`; returns the logits of each row's last new token, [rows.count, V].
    public func decode(rows: [Int], tokens: [[Int32]], cache: KVCache) -> Tensor {
        precondition(rows.count == tokens.count && !rows.isEmpty, "decode: rows and tokens must pair up")
        let tape = Tape.noGrad(), cfg = config
        var ids = [Int32](), pos = [Int32](), owner = [Int](), docStart = [Int32]()
        for (r, toks) in zip(rows, tokens) {
            precondition(cache.lengths[r] + toks.count <= cache.capacity, "decode: row \(r) would exceed the cache capacity \(cache.capacity)")
            let start = Int32(ids.count)
            for (k, t) in toks.enumerated() { ids.append(t); pos.append(Int32(cache.lengths[r] + k)); owner.append(r); docStart.append(start) }
        }
        let path = CachedAttentionPath(rows: rows, tokens: tokens, cache: cache)
        var x = tape.embedding(embed, ids)                                             // [N, C]
        for (l, block) in blocks.enumerated() {
            let (q, k, v) = block.projections(block.inputNorm(x, tape), tape, cfg: cfg, positions: pos, rope: rope)
            cache.storeGrouped(k, v, layer: l, positions: pos, owners: owner)
            let att: Tensor
            switch path {
            case .prefill:
                let qkv = tape.groupedQKV(q, k, v, heads: cfg.numAttentionHeads, kvHeads: cfg.kvHeads)
                att = tape.attention(qkv.reshaped([1, ids.count, 3 * cfg.queryWidth]), heads: cfg.numAttentionHeads, docStart: docStart)
                    .reshaped([ids.count, cfg.queryWidth])
            case .step: att = groupedStepAttention(q, layer: l, positions: pos, owners: owner, cache: cache, backend: tape.backend)
            case .perRow: att = groupedCachedAttention(q, layer: l, positions: pos, owners: owner, cache: cache)
            }
            x = block.mlp(tape.add(x, block.o(att, tape)), tape)
        }
        for (r, toks) in zip(rows, tokens) { cache.advance(r, by: toks.count) }
        var lastIndex = [Int](), running = 0
        for toks in tokens { running += toks.count; lastIndex.append(running - 1) }
        let c = cfg.hiddenSize
        let last = Tensor(uninitialized: [rows.count, c])
        for (i, src) in lastIndex.enumerated() { (last.ptr + i * c).update(from: x.ptr + src * c, count: c) }
        return logits(norm(last, tape), tape: tape)
    }

    /// Attends each new token's query heads (q [N, H·D]; keys/values already stored) to its row's
    /// positions 0...p: softmax(q·Kᵀ/√D)·V with key/value head j / (H/Hkv). → [N, H·D].
    private func groupedCachedAttention(_ q: Tensor, layer l: Int, positions: [Int32], owners: [Int], cache: KVCache) -> Tensor {
        let n = positions.count, h = config.numAttentionHeads, d = config.headSize, group = h / config.kvHeads, c = h * d
        let kc = cache.keys[l].ptr, vc = cache.values[l].ptr, pq = q.ptr
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
                        let qi = pq + i * c + hh * d, base = cache.slot(l, row, hh / group, 0)
                        for j in 0...p { scores[j] = VMath.dot(qi, kc + base + j * d, d) }
                        AttentionMath.softmaxInPlace(scores, count: p + 1, scale: scale)
                        let o = po + i * c + hh * d
                        for j in 0...p { let w = scores[j], vj = vc + base + j * d; for x in 0..<d { o[x] += w * vj[x] } }
                    }
                }
            }
        }
        return out
    }
}

extension Llama {
    /// One new token per row: the cache's step attention, G = H / Hkv query heads per key/value head. q: [N, H·D] → [N, H·D].
    func groupedStepAttention(_ q: Tensor, layer l: Int, positions: [Int32], owners: [Int], cache: KVCache, backend: Backend) -> Tensor {
        cache.stepAttention(queries: q.ptr, rowStride: config.numAttentionHeads * config.headSize, heads: config.numAttentionHeads,
                            kvHeads: config.kvHeads, headSize: config.headSize, layer: l, positions: positions, owners: owners,
                            backend: backend)
    }
}

extension KVCache {
    /// Copies rotated keys k and values v ([N, Hkv·D]) of N new tokens into layer `l` at their rows and positions.
    func storeGrouped(_ k: Tensor, _ v: Tensor, layer l: Int, positions: [Int32], owners: [Int]) {
        let w = heads * headSize, kc = keys[l].ptr, vc = values[l].ptr
        for i in 0..<positions.count {
            for hh in 0..<heads {
                let s = slot(l, owners[i], hh, Int(positions[i]))
                (kc + s).update(from: k.ptr + i * w + hh * headSize, count: headSize)
                (vc + s).update(from: v.ptr + i * w + hh * headSize, count: headSize)
            }
        }
    }
}
