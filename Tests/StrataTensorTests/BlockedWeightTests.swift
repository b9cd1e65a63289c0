// Registered weights kept in oneDNN's preferred layout (Backend+Blocked.swift):
// products through the blocked copies equal the plain strided path (fp32 within
// 1e-5 relative, bf16 within 1e-5 of Σ|terms| of the plain bf16 product, since both
// multiply the same bf16 values and differ only in accumulation order), in the two
// orientations a layer reads its weight (forward W, dX Wᵀ) and the head's (Eᵀ, E);
// a weight changed and invalidated is reordered again and its new values used; an
// operand that is not exactly a registered weight never reads a blocked copy; with
// nothing registered fp32 products are bit-identical to the switch being off.
// bf16 cases need AVX-512 BF16 or AMX and throw XCTSkip (named) elsewhere.
// Leaves out: speed (`strata bench kernels --blocked` measures it).

import XCTest
import StrataCore
@testable import StrataTensor

final class BlockedWeightTests: XCTestCase {
    let backend = Backend.shared
    private var savedPolicy = BlockedWeightPolicy.bf16

    override func setUp() { super.setUp(); savedPolicy = backend.blockedWeights }
    override func tearDown() { backend.blockedWeights = savedPolicy; super.tearDown() }

    private func random(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        var rng = StrataRNG(seed: seed)
        return Tensor((0..<shape.reduce(1, *)).map { _ in Float(rng.normal()) * scale }, shape: shape)
    }

    /// The four products that read a weight: linear forward (x·W + b), linear dX (g·Wᵀ accumulated),
    /// head forward (h·Eᵀ), head dX (g·E). Returns their outputs, concatenated.
    private func products(x: Tensor, w: Tensor, bias: Tensor, g: Tensor, head: Tensor, hx: Tensor, hg: Tensor) -> [Float] {
        let (n, inF, outF) = (x.shape[0], w.shape[0], w.shape[1])
        let (v, c) = (head.shape[0], head.shape[1])
        let y = Tensor(zeros: [n, outF]), dx = Tensor(zeros: [n, inF]), z = Tensor(zeros: [hx.shape[0], v]), dh = Tensor(zeros: [hx.shape[0], c])
        dx.fill(1)   // dX accumulates onto what is there
        backend.gemm(m: n, n: outF, k: inF, a: x.ptr, b: w.ptr, c: y.ptr, bias: bias.ptr)
        backend.gemm(transB: true, m: n, n: inF, k: outF, a: g.ptr, b: w.ptr, c: dx.ptr, accumulate: true)
        backend.gemm(transB: true, m: hx.shape[0], n: v, k: c, a: hx.ptr, b: head.ptr, c: z.ptr)
        backend.gemm(m: hx.shape[0], n: c, k: v, a: hg.ptr, b: head.ptr, c: dh.ptr)
        return y.toArray() + dx.toArray() + z.toArray() + dh.toArray()
    }

    /// A linear layer's x, W [in, out], bias and output gradient g, and a tied head E [V, C] with its h and g.
    private struct Case {
        let x: Tensor, w: Tensor, bias: Tensor, g: Tensor, head: Tensor, hx: Tensor, hg: Tensor
        init(n: Int = 37, inF: Int = 48, outF: Int = 80, v: Int = 96, c: Int = 48) {
            func r(_ s: [Int], _ seed: UInt64, _ scale: Float = 1) -> Tensor {
                var rng = StrataRNG(seed: seed)
                return Tensor((0..<s.reduce(1, *)).map { _ in Float(rng.normal()) * scale }, shape: s)
            }
            x = r([n, inF], 1); w = r([inF, outF], 2, 0.1); bias = r([outF], 3); g = r([n, outF], 4)
            head = r([v, c], 5, 0.1); hx = r([n, c], 6); hg = r([n, v], 7)
        }
    }

    private func run(_ t: Case, precision: MatmulPrecision, blocked: Bool) -> (out: [Float], stats: BlockedWeightStats, layouts: [String]) {
        backend.blockedWeights = blocked ? .all : .off
        backend.resetBlockedWeightStats()
        return backend.withPrecision(precision, cachedWeights: [t.w, t.head]) {
            let out = products(x: t.x, w: t.w, bias: t.bias, g: t.g, head: t.head, hx: t.hx, hg: t.hg)
            return (out, backend.blockedWeightStats, backend.blockedLayouts(of: t.w) + backend.blockedLayouts(of: t.head))
        }
    }

    func testBlockedFP32ProductsEqualThePlainPathWithin1e5() {
        let t = Case()
        let plain = run(t, precision: .fp32, blocked: false), blocked = run(t, precision: .fp32, blocked: true)
        XCTAssertEqual(plain.stats.products, 0)
        XCTAssertEqual(blocked.stats.products, 4, "all four weight products read a blocked copy")
        XCTAssertEqual(blocked.stats.reorders, 4, "one copy per weight and orientation")
        XCTAssertEqual(blocked.layouts.count, 4)
        XCTAssertGreaterThanOrEqual(blocked.stats.bytes, 2 * 4 * (t.w.count + t.head.count), "fp32 copies: twice each weight (padding may add)")
        let scale = plain.out.map { abs($0) }.max()!
        for (i, (p, b)) in zip(plain.out, blocked.out).enumerated() {
            XCTAssertEqual(b, p, accuracy: 1e-5 * max(abs(p), scale * 1e-2), "output \(i)")
        }
    }

    func testBlockedBF16ProductsEqualThePlainBF16PathWithinAccumulationOrder() throws {
        let cpu = CPUMatmulFeatures.detected
        try XCTSkipUnless(cpu.nativeBF16, "bf16 products need AVX-512 BF16 or AMX; oneDNN dispatches to \(cpu.isa) here")
        let t = Case()
        let plain = run(t, precision: .bf16, blocked: false), blocked = run(t, precision: .bf16, blocked: true)
        let fp32 = run(t, precision: .fp32, blocked: false)
        XCTAssertEqual(blocked.stats.products, 4)
        XCTAssertTrue(blocked.layouts.allSatisfy { $0.hasSuffix("(bf16)") }, "\(blocked.layouts)")
        XCTAssertNotEqual(plain.out, fp32.out, "the products really ran in bf16")
        // Σ|terms| per output bounds the accumulation-order difference; fp32's magnitudes stand in for it (×K).
        let k = [t.w.shape[0], t.w.shape[1], t.head.shape[1], t.head.shape[0]]
        let sizes = [t.x.shape[0] * t.w.shape[1], t.x.shape[0] * t.w.shape[0], t.hx.shape[0] * t.head.shape[0], t.hx.shape[0] * t.head.shape[1]]
        var offset = 0
        for (part, count) in sizes.enumerated() {
            let bound = 1e-5 * Float(k[part]) * fp32.out[offset..<offset + count].map { abs($0) }.max()!
            for i in offset..<offset + count { XCTAssertEqual(blocked.out[i], plain.out[i], accuracy: bound, "product \(part) output \(i - offset)") }
            offset += count
        }
    }

    func testChangedWeightIsReorderedAfterInvalidationAndItsNewValuesUsed() {
        let t = Case()
        backend.blockedWeights = .all
        backend.resetBlockedWeightStats()
        let before = products(x: t.x, w: t.w, bias: t.bias, g: t.g, head: t.head, hx: t.hx, hg: t.hg)
        backend.withPrecision(.fp32, cachedWeights: [t.w, t.head]) {
            _ = products(x: t.x, w: t.w, bias: t.bias, g: t.g, head: t.head, hx: t.hx, hg: t.hg)
            _ = products(x: t.x, w: t.w, bias: t.bias, g: t.g, head: t.head, hx: t.hx, hg: t.hg)
            XCTAssertEqual(backend.blockedWeightStats.reorders, 4, "repeated products reuse the copies")
            for i in 0..<t.w.count { t.w.ptr[i] *= -2 }   // an update …
            for i in 0..<t.head.count { t.head.ptr[i] += 0.5 }
            backend.invalidateBF16Weights()               // … and the loop says so
            let after = products(x: t.x, w: t.w, bias: t.bias, g: t.g, head: t.head, hx: t.hx, hg: t.hg)
            XCTAssertEqual(backend.blockedWeightStats.reorders, 8, "each copy reordered once more")
            backend.blockedWeights = .off
            let plainAfter = products(x: t.x, w: t.w, bias: t.bias, g: t.g, head: t.head, hx: t.hx, hg: t.hg)
            let scale = plainAfter.map { abs($0) }.max()!
            for i in plainAfter.indices { XCTAssertEqual(after[i], plainAfter[i], accuracy: 1e-5 * scale, "output \(i) uses the new weights") }
            XCTAssertNotEqual(after[0], before[0])
        }
    }

    func testOperandsThatAreNotExactlyARegisteredWeightNeverReadABlockedCopy() {
        let t = Case()
        let other = random([48, 80], seed: 9)
        backend.blockedWeights = .all
        backend.resetBlockedWeightStats()
        backend.withPrecision(.fp32, cachedWeights: [t.w]) {
            let y = Tensor(zeros: [37, 80]), top = Tensor(zeros: [37, 40]), gw = Tensor(zeros: [48, 80]), sq = Tensor(zeros: [48, 48])
            backend.gemm(m: 37, n: 80, k: 48, a: t.x.ptr, b: other.ptr, c: y.ptr)                     // B unregistered
            backend.gemm(m: 37, n: 40, k: 48, a: t.x.ptr, b: t.w.ptr, ldb: 80, c: top.ptr)           // B = half the weight's columns
            backend.gemm(transA: true, m: 48, n: 80, k: 37, a: t.x.ptr, b: t.g.ptr, c: gw.ptr)      // dW: B is a gradient
            backend.gemm(transB: true, m: 48, n: 48, k: 80, a: t.w.ptr, b: other.ptr, c: sq.ptr)     // the weight as A
            // Batched (3-D) product whose B spans the weight: batched products stay plain.
            let bx = Tensor(zeros: [1, 37, 80])
            backend.matmul(MatView(t.x.ptr, dims: [1, 37, 48], strides: [37 * 48, 48, 1]), MatView(t.w.ptr, dims: [1, 48, 80], strides: [48 * 80, 80, 1]),
                           into: MatView(bx.ptr, dims: [1, 37, 80], strides: [37 * 80, 80, 1]))
        }
        XCTAssertEqual(backend.blockedWeightStats.products, 0)
        XCTAssertEqual(backend.blockedWeightStats.reorders, 0)
    }

    func testFP32WithNothingRegisteredIsBitIdenticalToTheSwitchOff() {
        let t = Case()
        backend.resetBlockedWeightStats()
        backend.blockedWeights = .all
        let on = products(x: t.x, w: t.w, bias: t.bias, g: t.g, head: t.head, hx: t.hx, hg: t.hg)
        backend.blockedWeights = .off
        let off = products(x: t.x, w: t.w, bias: t.bias, g: t.g, head: t.head, hx: t.hx, hg: t.hg)
        XCTAssertEqual(on, off)
        XCTAssertEqual(backend.blockedWeightStats.products, 0)
    }

    func testBF16PolicyBlocksBF16ProductsOnlyAndLeavesFP32Plain() throws {
        XCTAssertEqual(BlockedWeightPolicy(rawValue: "0"), .off, "STRATA_BLOCKED_WEIGHTS=0 turns it off")
        let t = Case()
        backend.blockedWeights = .bf16
        backend.resetBlockedWeightStats()
        backend.withPrecision(.fp32, cachedWeights: [t.w, t.head]) {
            _ = products(x: t.x, w: t.w, bias: t.bias, g: t.g, head: t.head, hx: t.hx, hg: t.hg)
            XCTAssertEqual(backend.blockedWeightStats.products, 0, "fp32 products stay plain under .bf16")
            XCTAssertEqual(backend.blockedWeightStats.bytes, 0)
        }
        let cpu = CPUMatmulFeatures.detected
        try XCTSkipUnless(cpu.nativeBF16, "bf16 products need AVX-512 BF16 or AMX; oneDNN dispatches to \(cpu.isa) here")
        backend.withPrecision(.bf16, cachedWeights: [t.w, t.head]) {
            _ = products(x: t.x, w: t.w, bias: t.bias, g: t.g, head: t.head, hx: t.hx, hg: t.hg)
            XCTAssertEqual(backend.blockedWeightStats.products, 4)
            XCTAssertEqual(backend.bf16WeightConversions, 4, "each blocked bf16 copy counts as one weight conversion")
            XCTAssertGreaterThanOrEqual(backend.blockedWeightStats.bytes, 2 * 2 * (t.w.count + t.head.count), "two bf16 copies per weight (blocks pad)")
        }
    }

    func testSquareWeightKeepsSeparateCopiesForWAndWTransposed() throws {
        // A square weight's W and Wᵀ layouts have equal memory descs; the copies must still differ.
        let t = Case(inF: 64, outF: 64)
        for precision in [MatmulPrecision.fp32, .bf16] {
            if precision == .bf16 && !CPUMatmulFeatures.detected.nativeBF16 { continue }
            let plain = run(t, precision: precision, blocked: false), blocked = run(t, precision: precision, blocked: true)
            XCTAssertEqual(blocked.stats.reorders, 4, "\(precision): forward and dX copies of the square weight, two of the head")
            let scale = plain.out.map { abs($0) }.max()!
            let tol: Float = precision == .fp32 ? 1e-5 * scale : 1e-5 * 64 * scale
            for i in plain.out.indices { XCTAssertEqual(blocked.out[i], plain.out[i], accuracy: tol, "\(precision) output \(i)") }
        }
        try XCTSkipUnless(CPUMatmulFeatures.detected.nativeBF16, "bf16 half needs AVX-512 BF16 or AMX; the fp32 half ran")
    }
}
