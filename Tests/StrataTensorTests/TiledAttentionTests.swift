// Tests of the tiled (online-softmax) attention kernel against the materialised
// reference kernel — forward outputs and qkv gradients on random shapes (odd T,
// T not a multiple of the block, several heads, packed rows with several
// documents), a finite-difference check, and a count of the products it issues
// (masked blocks are never computed); the materialised kernel's row blocks against
// its one-block form, with the flops they skip.
// Leaves out: speed (measured by `strata bench`, not by tests).

import XCTest
import StrataCore
import StrataTensor
import StrataTestSupport

final class TiledAttentionTests: XCTestCase {
    struct Case { let b: Int, t: Int, h: Int, d: Int; let tiling: AttentionTiling; let docs: Bool }

    /// Packed-row document starts: each batch row split at random points into documents.
    static func docStarts(b: Int, t: Int, _ rng: inout StrataRNG) -> [Int32] {
        var out = [Int32]()
        for _ in 0..<b {
            var start = 0
            for p in 0..<t {
                if p > 0 && rng.int(below: 7) == 0 { start = p }
                out.append(Int32(start))
            }
        }
        return out
    }

    /// Output and qkv gradient of one kernel for a fixed upstream gradient.
    func run(_ kernel: AttentionKernel, _ qkv: Tensor, _ dy: Tensor, heads: Int, docStart: [Int32]?) -> ([Float], [Float]) {
        run(qkv, dy) { tape, x in
            tape.attentionKernel = kernel
            return tape.attention(x, heads: heads, docStart: docStart)
        }
    }

    /// Output and qkv gradient of `attention` on a fresh tape for a fixed upstream gradient.
    func run(_ qkv: Tensor, _ dy: Tensor, _ attention: (Tape, Tensor) -> Tensor) -> ([Float], [Float]) {
        qkv.grad = nil
        let tape = Tape()
        let y = attention(tape, qkv)
        tape.backward(tape.sum(tape.mul(y, dy)))
        return (y.toArray(), qkv.grad!.toArray())
    }

    func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? 0 }

    func testTiledAttentionMatchesMaterializedForwardAndBackward() {
        let cases = [
            Case(b: 2, t: 13, h: 3, d: 4, tiling: .init(queryBlock: 4, keyChunk: 8), docs: false),
            Case(b: 1, t: 37, h: 2, d: 8, tiling: .init(queryBlock: 8, keyChunk: 8), docs: false),
            Case(b: 3, t: 29, h: 2, d: 6, tiling: .init(queryBlock: 4, keyChunk: 12), docs: true),
            Case(b: 2, t: 50, h: 4, d: 8, tiling: .init(queryBlock: 16, keyChunk: 32), docs: true),
            Case(b: 1, t: 301, h: 2, d: 16, tiling: .standard, docs: false),
            Case(b: 2, t: 131, h: 3, d: 8, tiling: .standard, docs: true),
        ]
        var rng = StrataRNG(seed: 18)
        for k in cases {
            let c = k.h * k.d
            let qkv = randomTensor([k.b, k.t, 3 * c], &rng)
            let dy = randomTensor([k.b, k.t, c], &rng, requiresGrad: false)
            let ds = k.docs ? Self.docStarts(b: k.b, t: k.t, &rng) : nil
            let (yRef, gRef) = run(.materialized, qkv, dy, heads: k.h, docStart: ds)
            let (yTil, gTil) = run(.tiled(k.tiling), qkv, dy, heads: k.h, docStart: ds)
            XCTAssertLessThan(maxAbsDiff(yRef, yTil), 1e-5, "forward, case \(k)")
            XCTAssertLessThan(maxAbsDiff(gRef, gTil), 1e-5, "qkv gradient, case \(k)")
            XCTAssertGreaterThan(gRef.map(abs).max()!, 0.01, "the reference gradient must not be trivially zero")
        }
    }

    func testTiledAttentionGradientMatchesFiniteDifferences() {
        var rng = StrataRNG(seed: 7)
        let b = 1, t = 9, h = 2, d = 3
        let qkv = randomTensor([b, t, 3 * h * d], &rng, scale: 0.7)
        let ds: [Int32] = [0, 0, 0, 0, 4, 4, 4, 4, 4]   // two documents, the second starting mid-block: rows 4, 5 see no key of chunk [0, 3)
        gradCheck([qkv], tol: 1e-2) { tape, x in
            tape.attentionTiled(x[0], heads: h, docStart: ds, tiling: .init(queryBlock: 3, keyChunk: 3))
        }
    }

    /// Causal, T = 256, blocks of 64 with chunks of 64: 4·5/2 = 10 of the 16 block pairs are visited, each
    /// with two products (Q·Kᵀ and P·V) of 2·64·64·D flops per head. With a document starting at 128, the
    /// query blocks past it skip the key blocks before it: 1 + 2 + 1 + 2 = 6 pairs.
    func testTiledAttentionNeverComputesMaskedBlocks() {
        let t = 256, h = 2, d = 8, bq = 64
        var rng = StrataRNG(seed: 3)
        let qkv = randomTensor([1, t, 3 * h * d], &rng, requiresGrad: false)
        let perPair = 2.0 * 2 * Double(bq * bq * d * h)
        for (ds, pairs) in [(nil, 10.0), ((0..<t).map { Int32($0 < 128 ? 0 : 128) }, 6.0)] as [([Int32]?, Double)] {
            Backend.shared.resetCounters()
            _ = Tape.noGrad().attentionTiled(qkv, heads: h, docStart: ds, tiling: .init(queryBlock: bq, keyChunk: bq))
            XCTAssertEqual(Backend.shared.flops, pairs * perPair, "docStart \(ds == nil ? "none" : "split at 128")")
        }
    }

    /// The materialised kernel with its query rows in blocks (the causal skipping of its products) equals itself in one
    /// block — forward and qkv gradient, plain and packed rows, bit for bit where blocks are a multiple of 16 rows (the
    /// demo's runs stay reproducible) — and issues (n+1)/2n of the one-block products' flops.
    func testMaterializedRowBlocksEqualOneBlockAndSkipTheMaskedOffDiagonalBlocks() {
        var rng = StrataRNG(seed: 34)
        func run(_ blocks: Int, _ qkv: Tensor, _ dy: Tensor, heads: Int, docStart: [Int32]?) -> ([Float], [Float]) {
            self.run(qkv, dy) { tape, x in tape.attentionMaterialized(x, heads: heads, docStart: docStart, rowBlocks: blocks) }
        }
        for (b, t, h, d, docs) in [(2, 16, 3, 4, false), (3, 24, 2, 8, true), (1, 40, 4, 6, true)] {
            let qkv = randomTensor([b, t, 3 * h * d], &rng)
            let dy = randomTensor([b, t, h * d], &rng, requiresGrad: false)
            let ds = docs ? Self.docStarts(b: b, t: t, &rng) : nil
            let (y1, g1) = run(1, qkv, dy, heads: h, docStart: ds)
            for blocks in [2, 4, 8] {
                let (y, g) = run(blocks, qkv, dy, heads: h, docStart: ds)
                XCTAssertLessThan(maxAbsDiff(y1, y), 1e-6, "forward, T \(t), \(blocks) blocks")
                XCTAssertLessThan(maxAbsDiff(g1, g), 1e-6, "qkv gradient, T \(t), \(blocks) blocks")
            }
            XCTAssertGreaterThan(g1.map(abs).max()!, 0.01, "the gradient must not be trivially zero")
        }
        // Blocks of a multiple of 16 rows (the softmax backward's lanes): bit for bit the one-block kernel.
        let q64 = randomTensor([2, 64, 3 * 32], &rng), dy64 = randomTensor([2, 64, 32], &rng, requiresGrad: false)
        let one = run(1, q64, dy64, heads: 2, docStart: nil)
        for blocks in [2, 4] {
            let (y, g) = run(blocks, q64, dy64, heads: 2, docStart: nil)
            XCTAssertEqual(y, one.0, "forward bit for bit, \(blocks) blocks")
            XCTAssertEqual(g, one.1, "qkv gradient bit for bit, \(blocks) blocks")
        }
        let qkv = randomTensor([2, 32, 3 * 8], &rng, requiresGrad: false)
        var flops: [Int: Double] = [:]
        for blocks in [1, 2, 4] {
            Backend.shared.resetCounters()
            _ = Tape.noGrad().attentionMaterialized(qkv, heads: 2, rowBlocks: blocks)
            flops[blocks] = Backend.shared.flops
        }
        XCTAssertEqual(flops[2]! / flops[1]!, 3.0 / 4, accuracy: 1e-12, "two blocks: three quarters of the square")
        XCTAssertEqual(flops[4]! / flops[1]!, 5.0 / 8, accuracy: 1e-12, "four blocks: five eighths")
        // By default two blocks where each is a multiple of 16 rows (T = 32), one block otherwise (T = 48).
        Backend.shared.resetCounters()
        _ = Tape.noGrad().attentionMaterialized(qkv, heads: 2)
        XCTAssertEqual(Backend.shared.flops, flops[2]!, "T = 32: two blocks by default")
        Backend.shared.resetCounters()
        _ = Tape.noGrad().attentionMaterialized(randomTensor([2, 48, 3 * 8], &rng, requiresGrad: false), heads: 2)
        XCTAssertEqual(Backend.shared.flops, flops[1]! * 48 * 48 / (32 * 32), accuracy: 1e-6, "T = 48: one block by default")
        // A T the blocks do not divide runs as one block.
        Backend.shared.resetCounters()
        _ = Tape.noGrad().attentionMaterialized(randomTensor([2, 33, 3 * 8], &rng, requiresGrad: false), heads: 2, rowBlocks: 2)
        XCTAssertEqual(Backend.shared.flops, flops[1]! * 33 * 33 / (32 * 32), accuracy: 1e-6)
    }

    func testBlockedMaterializedGradientMatchesFiniteDifferences() {
        var rng = StrataRNG(seed: 11)
        let qkv = randomTensor([1, 8, 3 * 2 * 3], &rng, scale: 0.7)
        let ds: [Int32] = [0, 0, 0, 3, 3, 3, 3, 3]   // a document starting inside the first block
        gradCheck([qkv], tol: 1e-2) { tape, x in tape.attentionMaterialized(x[0], heads: 2, docStart: ds, rowBlocks: 2) }
    }

    /// nano (B=8, H=6, T=256): 12 MiB of probabilities per layer, under the 64 MiB budget; T=2048 at B=1: 96 MiB.
    func testStandardKernelIsMaterializedUnderTheBudgetAndTiledBeyond() {
        XCTAssertEqual(AttentionKernel.standard.resolved(b: 8, t: 256, heads: 6), .materialized)
        XCTAssertEqual(AttentionKernel.standard.resolved(b: 1, t: 2048, heads: 6), .tiled(.standard))
        XCTAssertEqual(AttentionKernel.materialized.resolved(b: 1, t: 4096, heads: 12), .materialized)
    }
}
