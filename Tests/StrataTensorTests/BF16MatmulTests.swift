// bf16 on the CPU: float32 → bf16 narrowing (round to nearest even, overflow to
// Inf, NaN kept NaN) against known bit patterns and an independent nearest-value
// search; linear and tied-head products in bf16 against a Double reference over the
// bf16-rounded operands (what a bf16 product with fp32 accumulation must equal) and
// within the stated bf16 bound of fp32; the weight cache converting once per
// invalidation; the refusal on CPUs without native bf16.
// bf16 products need AVX-512 BF16 or AMX: on other CPUs those tests throw XCTSkip
// (named in the output), and the refusal test still runs.

import Foundation
import XCTest
import StrataCore
@testable import StrataTensor

final class BF16MatmulTests: XCTestCase {
    func testNarrowingRoundsToNearestEvenOnKnownBitPatterns() {
        let cases: [(UInt32, UInt16, String)] = [
            (0x3F80_0000, 0x3F80, "1.0 is exact"),
            (0x3F80_7FFF, 0x3F80, "below half rounds down"),
            (0x3F80_8000, 0x3F80, "tie with even upper half stays"),
            (0x3F81_8000, 0x3F82, "tie with odd upper half rounds up to even"),
            (0x3F80_8001, 0x3F81, "above half rounds up"),
            (0xBF81_8000, 0xBF82, "negative tie rounds to even magnitude"),
            (0x7F7F_7FFF, 0x7F7F, "largest value that stays finite"),
            (0x7F7F_FFFF, 0x7F80, "float32 max overflows to +Inf"),
            (0x7F80_0000, 0x7F80, "+Inf"),
            (0xFF80_0000, 0xFF80, "-Inf"),
            (0x7FC0_0000, 0x7FC0, "quiet NaN"),
            (0x7F80_0001, 0x7FC0, "NaN with payload only in the low half stays NaN"),
            (0xFF80_0001, 0xFFC0, "negative NaN stays negative NaN"),
            (0x8000_0000, 0x8000, "-0"),
            (0x0000_8000, 0x0000, "subnormal tie rounds to even (zero)"),
            (0x0001_8000, 0x0002, "subnormal tie rounds up to even"),
        ]
        let src = cases.map { Float(bitPattern: $0.0) }
        var bulk = [UInt16](repeating: 0, count: src.count)
        src.withUnsafeBufferPointer { s in bulk.withUnsafeMutableBufferPointer { BF16.narrow(s.baseAddress!, into: $0.baseAddress!, count: s.count) } }
        for (i, (input, expected, what)) in cases.enumerated() {
            XCTAssertEqual(BF16.bits(Float(bitPattern: input)), expected, what)
            XCTAssertEqual(bulk[i], expected, "bulk: " + what)
        }
        XCTAssertTrue(BF16.rounded(.nan).isNaN)
        XCTAssertEqual(BF16.float(0x4049), 3.140625, "widening is exact")
    }

    func testNarrowingPicksTheNearestBF16ForRandomFloats() {
        var rng = StrataRNG(seed: 11)
        let n = 200_000
        // Random bit patterns over the finite range (exponent 0...253), both signs.
        let src = (0..<n).map { _ in Float(bitPattern: UInt32(rng.int(below: 0xFE00_0000 >> 1)) | (rng.int(below: 2) == 0 ? 0 : 0x8000_0000)) }
        var out = [UInt16](repeating: 0, count: n)
        src.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { BF16.narrow(s.baseAddress!, into: $0.baseAddress!, count: n) } }
        for i in 0..<n {
            // Independent reference: the two bf16 neighbours, the nearer in Double, ties to the even one.
            let b = src[i].bitPattern, lo = b & 0xFFFF_0000, hi = lo &+ 0x1_0000
            let x = Double(src[i]), dLo = abs(x - Double(Float(bitPattern: lo))), dHi = abs(Double(Float(bitPattern: hi)) - x)
            let pick = dLo < dHi || (dLo == dHi && (lo >> 16) & 1 == 0) ? lo : hi
            if out[i] != UInt16(pick >> 16) { XCTFail("\(String(b, radix: 16)) → \(String(out[i], radix: 16)), expected \(String(pick >> 16, radix: 16))"); return }
        }
    }

    func testBF16LinearMatchesRoundedOperandsAndStaysWithinBoundOfFP32() throws {
        try requireNativeBF16()
        let (n, inF, outF) = (6, 40, 24)
        var rng = StrataRNG(seed: 5)
        let xv = (0..<(n * inF)).map { _ in Float(rng.normal()) }, wv = (0..<(inF * outF)).map { _ in Float(rng.normal()) * 0.2 }
        let bv = (0..<outF).map { _ in Float(rng.normal()) }, gv = (0..<(n * outF)).map { _ in Float(rng.normal()) }
        func run() -> (y: [Float], dx: [Float], dw: [Float], db: [Float]) {
            let x = Tensor(xv, shape: [n, inF], requiresGrad: true), w = Tensor(wv, shape: [inF, outF], requiresGrad: true)
            let b = Tensor(bv, shape: [outF], requiresGrad: true)
            let tape = Tape()
            let y = tape.linear(x, w, b)
            let loss = tape.sum(tape.mul(y, Tensor(gv, shape: [n, outF])))   // dL/dy = g
            tape.backward(loss)
            return (y.toArray(), x.grad!.toArray(), w.grad!.toArray(), b.grad!.toArray())
        }
        let fp32 = run()
        let bf16 = Backend.shared.withPrecision(.bf16, cachedWeights: []) { run() }
        XCTAssertEqual(Backend.shared.precision, .fp32, "the scope restores fp32")
        // y = round(x)·round(w) + b;  dx = round(g)·round(w)ᵀ;  dw = round(x)ᵀ·round(g).
        let r = { (v: [Float]) in v.map { Double(BF16.rounded($0)) } }
        let (xr, wr, gr) = (r(xv), r(wv), r(gv))
        func product(_ rows: Int, _ cols: Int, _ k: Int, _ a: (Int, Int) -> Int, _ av: [Double], _ b: (Int, Int) -> Int, _ bv: [Double]) -> (exact: [Double], magnitude: [Double]) {
            var e = [Double](repeating: 0, count: rows * cols), m = e
            for i in 0..<rows { for j in 0..<cols { for t in 0..<k { e[i * cols + j] += av[a(i, t)] * bv[b(t, j)]; m[i * cols + j] += abs(av[a(i, t)] * bv[b(t, j)]) } } }
            return (e, m)
        }
        let y = product(n, outF, inF, { $0 * inF + $1 }, xr, { $0 * outF + $1 }, wr)
        let dx = product(n, inF, outF, { $0 * outF + $1 }, gr, { $1 * outF + $0 }, wr)
        let dw = product(inF, outF, n, { $1 * inF + $0 }, xr, { $0 * outF + $1 }, gr)
        assertProduct(bf16.y, fp32.y, y.exact.enumerated().map { $0.element + Double(bv[$0.offset % outF]) }, y.magnitude, "y")
        assertProduct(bf16.dx, fp32.dx, dx.exact, dx.magnitude, "dx")
        assertProduct(bf16.dw, fp32.dw, dw.exact, dw.magnitude, "dw")
        XCTAssertEqual(bf16.db, fp32.db, "the bias gradient is a fp32 reduction in both")
    }

    /// bf16 result = the Double product of the rounded operands up to fp32 accumulation (1e-5 of Σ|terms|), and
    /// within the bf16 bound of fp32: |bf16 − fp32| ≤ 2⁻⁷·Σ|terms| (each operand off by ≤ 2⁻⁹ relative, plus slack).
    private func assertProduct(_ got: [Float], _ fp32: [Float], _ exact: [Double], _ magnitude: [Double], _ what: String) {
        var differs = false
        for i in got.indices {
            XCTAssertEqual(Double(got[i]), exact[i], accuracy: 1e-5 * magnitude[i] + 1e-6, "\(what)[\(i)] vs rounded-operand product")
            XCTAssertEqual(got[i], fp32[i], accuracy: Float(0x1p-7 * magnitude[i]) + 1e-6, "\(what)[\(i)] vs fp32")
            if got[i] != fp32[i] { differs = true }
        }
        XCTAssertTrue(differs, "\(what): bf16 equals fp32 exactly, so the product did not run in bf16")
    }

    func testTiedHeadInBF16UsesTheCachedWeightUntilInvalidated() throws {
        try requireNativeBF16()
        let (n, k, r) = (4, 16, 32)
        var rng = StrataRNG(seed: 8)
        let x = Tensor((0..<(n * k)).map { _ in Float(rng.normal()) }, shape: [n, k])
        let e = Tensor((0..<(r * k)).map { _ in Float(rng.normal()) }, shape: [r, k])
        let before = Tape.noGrad().linearTransposed(x, e).toArray()
        Backend.shared.withPrecision(.bf16, cachedWeights: [e]) {
            let first = Tape.noGrad().linearTransposed(x, e).toArray()
            let second = Tape.noGrad().linearTransposed(x, e).toArray()
            XCTAssertEqual(first, second)
            XCTAssertEqual(Backend.shared.bf16WeightConversions, 1, "the weight is narrowed once, then reused")
            XCTAssertNotEqual(first, before, "bf16 products differ from fp32")
            e.ptr[0] += 1   // the weights change (as after an update) …
            Backend.shared.invalidateBF16Weights()   // … and the loop says so
            let third = Tape.noGrad().linearTransposed(x, e).toArray()
            XCTAssertEqual(Backend.shared.bf16WeightConversions, 2)
            XCTAssertNotEqual(third[0], first[0], "the refreshed copy carries the new weight")
            XCTAssertEqual(third[1], first[1], "columns whose weights did not change are unchanged")
        }
        e.ptr[0] -= 1
        XCTAssertEqual(Tape.noGrad().linearTransposed(x, e).toArray(), before, "fp32 after the scope is bit-identical to before")
    }

    func testChunkedLMHeadInBF16MatchesFullLogitsInBF16() throws {
        try requireNativeBF16()
        let (n, c, v) = (12, 16, 40)
        var rng = StrataRNG(seed: 9)
        let hv = (0..<(n * c)).map { _ in rng.normal() }, wv = (0..<(v * c)).map { _ in rng.normal() * 0.3 }
        let targets = (0..<n).map { _ in Int32(rng.int(below: v)) }
        func run(chunked: Bool) -> (loss: Float, dh: [Float], dw: [Float]) {
            let h = Tensor(hv, shape: [n, c], requiresGrad: true), w = Tensor(wv, shape: [v, c], requiresGrad: true)
            let tape = Tape()
            let loss = chunked ? tape.lmHeadCrossEntropy(h, w, targets, chunkElements: 5 * v)   // 3 chunks of 5, 5, 2 rows
                               : tape.crossEntropy(tape.linearTransposed(h, w), targets)
            tape.backward(loss)
            return (loss.item(), h.grad!.toArray(), w.grad!.toArray())
        }
        let fp32 = run(chunked: false)
        let (full, chunked) = Backend.shared.withPrecision(.bf16, cachedWeights: []) { (run(chunked: false), run(chunked: true)) }
        XCTAssertNotEqual(full.loss, fp32.loss, "the products ran in bf16")
        // Same bf16 operands either way; only fp32 summation order differs (dW sums over chunks).
        XCTAssertEqual(chunked.loss, full.loss, accuracy: 1e-5)
        for (a, b) in zip(chunked.dh, full.dh) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        for (a, b) in zip(chunked.dw, full.dw) { XCTAssertEqual(a, b, accuracy: 1e-5) }
        XCTAssertEqual(chunked.loss, fp32.loss, accuracy: 0.01 * fp32.loss, "bf16 loss within 1% of fp32")
    }

    func testAttentionInBF16StaysWithinBF16ToleranceOfFP32() throws {
        try requireNativeBF16()
        let (b, t, c, h) = (2, 8, 16, 2)
        var rng = StrataRNG(seed: 4)
        let qv = (0..<(b * t * 3 * c)).map { _ in rng.normal() }, gv = (0..<(b * t * c)).map { _ in rng.normal() }
        func run() -> (y: [Float], dqkv: [Float]) {
            let qkv = Tensor(qv, shape: [b, t, 3 * c], requiresGrad: true)
            let tape = Tape()
            let y = tape.attentionMaterialized(qkv, heads: h)
            tape.backward(tape.sum(tape.mul(y, Tensor(gv, shape: [b, t, c]))))
            return (y.toArray(), qkv.grad!.toArray())
        }
        let fp32 = run()
        let bf16 = Backend.shared.withPrecision(.bf16, cachedWeights: []) { run() }
        XCTAssertNotEqual(bf16.y, fp32.y, "the batched products ran in bf16")
        // Stated tolerance: 3% of the largest magnitude (bf16 keeps 8 significant bits; four products in a chain).
        for (got, want) in [(bf16.y, fp32.y), (bf16.dqkv, fp32.dqkv)] {
            let scale = want.map(abs).max()!
            for (x, y) in zip(got, want) { XCTAssertEqual(x, y, accuracy: 0.03 * scale) }
        }
    }

    /// What bf16 attention must compute (shape legend B, T, C, H; D = C/H): every product's operands rounded to bf16
    /// with exact accumulation, P = softmax in fp32 of scale·Q·Kᵀ under the (document-aware) causal mask, and dS
    /// = scale·P̃ ⊙ (dP − Σ dP·P̃) from the rounded P̃ — the kernel keeps P only as its bf16 image. Checked with two
    /// query-row blocks and packed documents, against a Double reference written here.
    func testBF16AttentionIsTheProductsOfRoundedOperandsWithTheSoftmaxInFP32() throws {
        try requireNativeBF16()
        let (b, t, c, h) = (2, 32, 16, 2), d = c / h, scale = 1 / Double(d).squareRoot()
        var rng = StrataRNG(seed: 8)
        let qv = (0..<(b * t * 3 * c)).map { _ in rng.normal() }, gv = (0..<(b * t * c)).map { _ in rng.normal() }
        let docStart = (0..<(b * t)).map { Int32($0 % t < 11 ? 0 : ($0 % t < 20 ? 11 : 20)) }   // three documents a row
        let qkv = Tensor(qv, shape: [b, t, 3 * c], requiresGrad: true)
        let (y, dqkv): ([Float], [Float]) = Backend.shared.withPrecision(.bf16, cachedWeights: []) {
            let tape = Tape()
            let y = tape.attentionMaterialized(qkv, heads: h, docStart: docStart, rowBlocks: 2)
            tape.backward(tape.sum(tape.mul(y, Tensor(gv, shape: [b, t, c]))))
            return (y.toArray(), qkv.grad!.toArray())
        }
        func r(_ x: Float) -> Double { Double(BF16.rounded(x)) }
        func r(_ x: Double) -> Double { Double(BF16.rounded(Float(x))) }
        var yRef = [Double](repeating: 0, count: b * t * c), dRef = [Double](repeating: 0, count: b * t * 3 * c)
        for bi in 0..<b { for hi in 0..<h {
            func at(_ i: Int, _ part: Int, _ e: Int) -> Int { (bi * t + i) * 3 * c + part * c + hi * d + e }
            for i in 0..<t {
                let keys = Int(docStart[bi * t + i])...i
                let s = keys.map { j in scale * (0..<d).reduce(0.0) { $0 + r(qv[at(i, 0, $1)]) * r(qv[at(j, 1, $1)]) } }
                let m = s.max()!, e = s.map { Foundation.exp(Float($0 - m)) }   // fp32 softmax, as the kernel
                let z = e.reduce(0, +), p = e.map { r($0 / z) }
                let go = (0..<d).map { gv[(bi * t + i) * c + hi * d + $0] }
                let dp = keys.map { j in (0..<d).reduce(0.0) { $0 + r(go[$1]) * r(qv[at(j, 2, $1)]) } }
                let dot = zip(p, dp).reduce(0.0) { $0 + $1.0 * $1.1 }
                let ds = zip(p, dp).map { r(scale * $0.0 * ($0.1 - dot)) }
                for (n, j) in keys.enumerated() {
                    for e in 0..<d {
                        yRef[(bi * t + i) * c + hi * d + e] += p[n] * r(qv[at(j, 2, e)])
                        dRef[at(j, 2, e)] += p[n] * r(go[e])                  // dV += Pᵀ·dO
                        dRef[at(i, 0, e)] += ds[n] * r(qv[at(j, 1, e)])       // dQ += dS·K
                        dRef[at(j, 1, e)] += ds[n] * r(qv[at(i, 0, e)])       // dK += dSᵀ·Q
                    }
                }
            }
        } }
        // fp32 accumulation and a score one ulp apart can move a rounded P or dS by one bf16 step: 0.5% of the scale.
        for (got, want) in [(y, yRef), (dqkv, dRef)] {
            let bound = 0.005 * want.map(abs).max()!
            for (x, w) in zip(got, want) { XCTAssertEqual(Double(x), w, accuracy: bound) }
        }
    }

    func testBF16IsRefusedWhereTheCPUWouldEmulateIt() {
        let avx2 = CPUMatmulFeatures(isa: "avx2", nativeBF16: false)
        XCTAssertThrowsError(try avx2.requireNativeBF16("pretrain: train.precision bf16")) { error in
            guard let e = error as? StrataError else { return XCTFail("\(error)") }
            XCTAssertEqual(e.kind, .config)
            XCTAssertTrue(e.message.contains("avx2") && e.message.contains("AVX-512 BF16"), e.message)
            XCTAssertTrue(e.fix?.contains("train.precision=fp32") ?? false, e.description)
        }
        XCTAssertNoThrow(try CPUMatmulFeatures(isa: "avx512_core_amx", nativeBF16: true).requireNativeBF16("x"))
    }

    private func requireNativeBF16() throws {
        let cpu = CPUMatmulFeatures.detected
        try XCTSkipUnless(cpu.nativeBF16, "bf16 products need AVX-512 BF16 or AMX; oneDNN dispatches to \(cpu.isa) here")
    }
}
