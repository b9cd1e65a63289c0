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
        let tape = Tape.noGrad(), cfg = config, batch = DecodeBatch(rows: rows, tokens: tokens, cache: cache)
        let n = batch.ids.count
        var x = tape.embedding(embed, batch.ids)                                       // [N, C]
        for (l, block) in blocks.enumerated() {
            let (q, k, v) = block.projections(block.inputNorm(x, tape), tape, cfg: cfg, positions: batch.positions, rope: rope)
            cache.storeGrouped(k, v, layer: l, positions: batch.positions, owners: batch.owners)
            let att: Tensor
            if batch.path == .prefill {
                let qkv = tape.groupedQKV(q, k, v, heads: cfg.numAttentionHeads, kvHeads: cfg.kvHeads)
                att = tape.attention(qkv.reshaped([1, n, 3 * cfg.queryWidth]), heads: cfg.numAttentionHeads, docStart: batch.docStart)
                    .reshaped([n, cfg.queryWidth])
            } else {
                att = cache.attention(batch, queries: q.ptr, rowStride: cfg.queryWidth, heads: cfg.numAttentionHeads,
                                      kvHeads: cfg.kvHeads, headSize: cfg.headSize, layer: l, backend: tape.backend)
            }
            x = block.mlp(tape.add(x, block.o(att, tape)), tape)
        }
        return logits(norm(batch.finish(x, cache: cache), tape), tape: tape)
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
