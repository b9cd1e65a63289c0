// KV-cache incremental decoding for GPT-2: keys and values of every past
// position are kept per layer, so each new token costs one row of work instead of
// a full recomputation. Rows of a batch advance independently (prompts of
// different lengths need no padding): each row has its own length.
// Every linear layer runs once per call over all the call's new tokens ([N, C]·[C, 3C]
// and so on). Attention over the cache takes one of three paths:
//   prefill (every row of the call starts empty): the prompts are packed into one
//     sequence and run through the tiled attention kernel with a document mask;
//   step (one new token per row): batched products over [B, H] against the cache,
//     S[B,H,1,L] = Q·Kᵀ and O = P·V with L the longest row rounded up to 32
//     (columns past a row's length are masked to zero weight);
//   per row (anything else, or `batchedAttention` off): dot products per row and head.
// Shapes: cache per layer [B, H, T_max, D]; a call feeds N new tokens over rows.
// The cache itself and the path choice serve the Llama family too (Llama+Decode.swift),
// whose cache holds its key/value heads only (H = Hkv there).
// Leaves out: paged or shared-prefix caches, evicting old positions (a row that
// reaches n_positions stops).

import StrataCore
import StrataTensor

public final class KVCache {
    public let batch: Int, capacity: Int
    let heads: Int, headSize: Int
    let keys: [Tensor], values: [Tensor]      // per layer [B, H, T_max, D]
    public private(set) var lengths: [Int]    // positions filled per row
    /// Prefill and single-token steps through batched products (default); off, every call takes the per-row
    /// dot-product path (the reference the batched paths are tested against).
    public var batchedAttention = true

    public convenience init(model: GPT2, batch: Int, capacity: Int? = nil) {
        let cfg = model.config
        self.init(layers: cfg.nLayer, heads: cfg.nHead, headSize: cfg.headSize, positions: cfg.nPositions,
                  batch: batch, capacity: capacity, batched: model.batchedDecoding)
    }

    /// A cache of `heads` key/value heads of size `headSize` per layer (for grouped-query attention, the
    /// key/value heads), holding at most min(capacity, positions) positions per row.
    init(layers: Int, heads: Int, headSize: Int, positions: Int, batch: Int, capacity: Int?, batched: Bool) {
        self.batch = batch
        self.capacity = min(capacity ?? positions, positions)
        self.heads = heads; self.headSize = headSize
        // Zeroed: the batched step reads (with zero weight) slots past a row's length, which must not hold NaNs.
        let shape = [batch, heads, self.capacity, headSize]
        keys = (0..<layers).map { _ in Tensor(zeros: shape) }
        values = (0..<layers).map { _ in Tensor(zeros: shape) }
        lengths = [Int](repeating: 0, count: batch)
        batchedAttention = batched
    }

    func advance(_ row: Int, by n: Int) { lengths[row] += n }
    @inline(__always) func slot(_ layer: Int, _ row: Int, _ head: Int, _ pos: Int) -> Int {
        ((row * heads + head) * capacity + pos) * headSize
    }

    /// Copies the keys and values of N new tokens (qkv [N, 3C]) into layer `l` at their rows and positions.
    func store(_ qkv: Tensor, layer l: Int, positions: [Int32], owners: [Int]) {
        let c = heads * headSize, kc = keys[l].ptr, vc = values[l].ptr, q = qkv.ptr
        for i in 0..<positions.count {
            for hh in 0..<heads {
                let s = slot(l, owners[i], hh, Int(positions[i]))
                (kc + s).update(from: q + i * 3 * c + c + hh * headSize, count: headSize)
                (vc + s).update(from: q + i * 3 * c + 2 * c + hh * headSize, count: headSize)
            }
        }
    }
}

/// Which attention path one `decode` call takes (see the header).
enum CachedAttentionPath {
    case prefill, step, perRow

    init(rows: [Int], tokens: [[Int32]], cache: KVCache) {
        if !cache.batchedAttention { self = .perRow }
        else if rows.allSatisfy({ cache.lengths[$0] == 0 }) { self = .prefill }
        else if tokens.allSatisfy({ $0.count == 1 }) && Set(rows).count == rows.count { self = .step }
        else { self = .perRow }
    }
}

extension GPT2 {
    /// Feeds `tokens[i]` (new tokens) to row `rows[i]` of `cache` and returns the logits of each row's
    /// last new token, [rows.count, V]. Rows must not exceed the cache capacity.
    public func decode(rows: [Int], tokens: [[Int32]], cache: KVCache) -> Tensor {
        precondition(rows.count == tokens.count && !rows.isEmpty, "decode: rows and tokens must pair up")
        let tape = Tape.noGrad()
        var ids = [Int32](), pos = [Int32](), owner = [Int](), docStart = [Int32]()
        for (r, toks) in zip(rows, tokens) {
            precondition(cache.lengths[r] + toks.count <= cache.capacity, "decode: row \(r) would exceed the cache capacity \(cache.capacity)")
            let start = Int32(ids.count)
            for (k, t) in toks.enumerated() { ids.append(t); pos.append(Int32(cache.lengths[r] + k)); owner.append(r); docStart.append(start) }
        }
        let path = CachedAttentionPath(rows: rows, tokens: tokens, cache: cache)
        var x = tape.add(tape.embedding(wte, ids), tape.embedding(wpe, pos))     // [N, C]
        for (l, block) in blocks.enumerated() {
            let qkv = block.attn(block.ln1(x, tape), tape)                         // [N, 3C]
            cache.store(qkv, layer: l, positions: pos, owners: owner)
            let att: Tensor
            switch path {
            case .prefill:   // packed prompts, each attending within itself
                att = tape.attention(qkv.reshaped([1, ids.count, 3 * config.nEmbd]), heads: config.nHead, docStart: docStart)
                    .reshaped([ids.count, config.nEmbd])
            case .step: att = stepAttention(qkv, layer: l, positions: pos, owners: owner, cache: cache, backend: tape.backend)
            case .perRow: att = cachedAttention(qkv, layer: l, positions: pos, owners: owner, cache: cache)
            }
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

    /// Attends each new token (keys/values already stored) to its row's positions 0...p by dot
    /// products per row and head. qkv: [N, 3C] → [N, C].
    private func cachedAttention(_ qkv: Tensor, layer l: Int, positions: [Int32], owners: [Int], cache: KVCache) -> Tensor {
        let n = positions.count, c = config.nEmbd, h = config.nHead, d = config.headSize
        let kc = cache.keys[l].ptr, vc = cache.values[l].ptr, q = qkv.ptr
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

extension GPT2 {
    /// One new token per row: the cache's step attention with every head its own key/value head. qkv: [N, 3C] → [N, C].
    func stepAttention(_ qkv: Tensor, layer l: Int, positions: [Int32], owners: [Int], cache: KVCache, backend: Backend) -> Tensor {
        cache.stepAttention(queries: qkv.ptr, rowStride: 3 * config.nEmbd, heads: config.nHead, kvHeads: config.nHead,
                            headSize: config.headSize, layer: l, positions: positions, owners: owners, backend: backend)
    }
}

extension KVCache {
    /// One new token per row (keys/values already stored), all B cache rows at once, per key/value head kv
    /// (G = H / Hkv query heads share one; G = 1 is plain multi-head attention):
    ///   S[B,Hkv,G,L] = Q[B,Hkv,G,D]·Kᵀ[B,Hkv,D,L],  P = softmax over each row's positions 0...p (0 past p),
    ///   O[B,Hkv,G,D] = P·V[B,Hkv,L,D],
    /// L = the longest row rounded up to 32 (a bounded set of product shapes). Query head j = kv·G + r sits at
    /// [kv, r]: the queries' own layout. Rows without a new token get zero queries and zero weights.
    /// queries: N rows of H·D values, `rowStride` apart → [N, H·D].
    func stepAttention(queries: UnsafePointer<Float>, rowStride: Int, heads h: Int, kvHeads hk: Int, headSize d: Int,
                       layer l: Int, positions: [Int32], owners: [Int], backend: Backend) -> Tensor {
        let n = positions.count, g = h / hk, c = h * d, bsz = batch, cap = capacity
        let span = min(cap, (Int(positions.max()!) + 1 + 31) / 32 * 32)
        let qb = Tensor(zeros: [bsz, c]), s = Tensor(zeros: [bsz, h, span]), o = Tensor(uninitialized: [bsz, c])
        for i in 0..<n { (qb.ptr + owners[i] * c).update(from: queries + i * rowStride, count: c) }
        let grouped = { (p: UnsafeMutablePointer<Float>) in MatView(p, dims: [bsz, hk, g, d], strides: [c, g * d, d, 1]) }
        let scores = MatView(s.ptr, dims: [bsz, hk, g, span], strides: [h * span, g * span, span, 1])
        backend.matmul(grouped(qb.ptr), MatView(keys[l].ptr, dims: [bsz, hk, d, span], strides: [hk * cap * d, cap * d, 1, d]),
                       into: scores)                                                                                  // S = Q·Kᵀ
        let scale = 1 / Float(d).squareRoot()
        var active = [Int](repeating: -1, count: bsz)                                                                 // row → position
        for i in 0..<n { active[owners[i]] = Int(positions[i]) }
        active.withUnsafeBufferPointer { ap in
            let box = UnsafeSendableBox(ap)
            Parallel.rows(bsz * h, minPerChunk: max(1, 4096 / span)) { j0, j1 in
                for job in j0..<j1 {
                    let row = s.ptr + job * span, p = box.value[job / h]
                    guard p >= 0 else { row.update(repeating: 0, count: span); continue }
                    AttentionMath.softmaxInPlace(row, count: p + 1, scale: scale)
                    if p + 1 < span { (row + p + 1).update(repeating: 0, count: span - p - 1) }
                }
            }
        }
        backend.matmul(scores, MatView(values[l].ptr, dims: [bsz, hk, span, d], strides: [hk * cap * d, cap * d, d, 1]),
                       into: grouped(o.ptr))                                                                          // O = P·V
        let out = Tensor(uninitialized: [n, c])
        for i in 0..<n { (out.ptr + i * c).update(from: o.ptr + owners[i] * c, count: c) }
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
