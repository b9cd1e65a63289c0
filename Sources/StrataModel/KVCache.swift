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
// The cache, a call's flattened tokens (DecodeBatch) and the step and per-row paths serve
// the Llama family too (Llama+Decode.swift), whose cache holds its key/value heads only
// (Hkv ≤ H there: query head j reads key/value head j / (H/Hkv)).
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

/// One `decode` call's new tokens flattened over its rows, for either family: N token ids with their positions in
/// their rows and the rows that own them, each token's first position in the packed sequence (the prefill path's
/// document mask), and the attention path the call takes.
struct DecodeBatch {
    private(set) var ids = [Int32](), positions = [Int32](), owners = [Int](), docStart = [Int32]()
    let path: CachedAttentionPath
    private let rows: [Int], counts: [Int]

    init(rows: [Int], tokens: [[Int32]], cache: KVCache) {
        precondition(rows.count == tokens.count && !rows.isEmpty, "decode: rows and tokens must pair up")
        for (r, toks) in zip(rows, tokens) {
            precondition(cache.lengths[r] + toks.count <= cache.capacity, "decode: row \(r) would exceed the cache capacity \(cache.capacity)")
            let start = Int32(ids.count)
            for (k, t) in toks.enumerated() { ids.append(t); positions.append(Int32(cache.lengths[r] + k)); owners.append(r); docStart.append(start) }
        }
        path = CachedAttentionPath(rows: rows, tokens: tokens, cache: cache)
        self.rows = rows
        counts = tokens.map(\.count)
    }

    /// After the layers: the rows' lengths move past their new tokens, and x [N, C] → [rows, C], the hidden state
    /// of each row's last new token.
    func finish(_ x: Tensor, cache: KVCache) -> Tensor {
        for (r, n) in zip(rows, counts) { cache.advance(r, by: n) }
        let c = x.cols
        let last = Tensor(uninitialized: [rows.count, c])
        var end = 0
        for (i, n) in counts.enumerated() { end += n; (last.ptr + i * c).update(from: x.ptr + (end - 1) * c, count: c) }
        return last
    }
}

extension GPT2 {
    /// Feeds `tokens[i]` (new tokens) to row `rows[i]` of `cache` and returns the logits of each row's
    /// last new token, [rows.count, V]. Rows must not exceed the cache capacity.
    public func decode(rows: [Int], tokens: [[Int32]], cache: KVCache) -> Tensor {
        let tape = Tape.noGrad(), batch = DecodeBatch(rows: rows, tokens: tokens, cache: cache)
        let n = batch.ids.count, c = config.nEmbd
        var x = tape.add(tape.embedding(wte, batch.ids), tape.embedding(wpe, batch.positions))     // [N, C]
        for (l, block) in blocks.enumerated() {
            let qkv = block.attn(block.ln1(x, tape), tape)                         // [N, 3C]
            cache.store(qkv, layer: l, positions: batch.positions, owners: batch.owners)
            let att: Tensor
            if batch.path == .prefill {   // packed prompts, each attending within itself
                att = tape.attention(qkv.reshaped([1, n, 3 * c]), heads: config.nHead, docStart: batch.docStart).reshaped([n, c])
            } else {                      // every head its own key/value head
                att = cache.attention(batch, queries: qkv.ptr, rowStride: 3 * c, heads: config.nHead, kvHeads: config.nHead,
                                      headSize: config.headSize, layer: l, backend: tape.backend)
            }
            x = tape.add(x, block.attnProj(att, tape))
            x = tape.add(x, block.fcProj(tape.gelu(block.fc(block.ln2(x, tape), tape)), tape))
        }
        return logits(lnF(batch.finish(x, cache: cache), tape), tape: tape)
    }
}

extension KVCache {
    /// Attention of a call's new tokens over the cache, by the call's path (the models run prefill through the fused
    /// op; sent here, it takes the per-row path, which serves any call). queries: N rows of H·D values, `rowStride` apart; query head j reads key/value head j / (H/Hkv). → [N, H·D].
    func attention(_ batch: DecodeBatch, queries: UnsafePointer<Float>, rowStride: Int, heads: Int, kvHeads: Int, headSize: Int,
                   layer l: Int, backend: Backend) -> Tensor {
        switch batch.path {
        case .step:
            return stepAttention(queries: queries, rowStride: rowStride, heads: heads, kvHeads: kvHeads, headSize: headSize,
                                 layer: l, positions: batch.positions, owners: batch.owners, backend: backend)
        case .perRow, .prefill:
            return perRowAttention(queries: queries, rowStride: rowStride, heads: heads, kvHeads: kvHeads, headSize: headSize,
                                   layer: l, positions: batch.positions, owners: batch.owners)
        }
    }

    /// The reference path: each new token, head by head, attends to its row's positions 0...p by dot products,
    /// softmax(q·Kᵀ/√D)·V, with query head j reading key/value head j / G (G = H / Hkv). → [N, H·D].
    func perRowAttention(queries q: UnsafePointer<Float>, rowStride: Int, heads h: Int, kvHeads hk: Int, headSize d: Int,
                         layer l: Int, positions: [Int32], owners: [Int]) -> Tensor {
        let n = positions.count, c = h * d, group = h / hk
        let kc = keys[l].ptr, vc = values[l].ptr
        let out = Tensor(zeros: [n, c]), po = out.ptr
        let scale = 1 / Float(d).squareRoot()
        positions.withUnsafeBufferPointer { pp in
            owners.withUnsafeBufferPointer { op in
                let box = UnsafeSendableBox((pp, op))
                Parallel.rows(n * h, minPerChunk: 4) { s, e in
                    let scores = UnsafeMutablePointer<Float>.allocate(capacity: self.capacity)
                    defer { scores.deallocate() }
                    for job in s..<e {
                        let i = job / h, hh = job % h, p = Int(box.value.0[i]), row = box.value.1[i]
                        let qi = q + i * rowStride + hh * d, base = self.slot(l, row, hh / group, 0)
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
