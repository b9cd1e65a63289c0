import XCTest
import StrataCore
@testable import StrataTensor

final class TensorTests: XCTestCase {
    func testMatmulMatchesNaiveProductInEveryTransposeForm() {
        var rng = StrataRNG(seed: 1)
        let m = 5, n = 7, k = 3
        let a = (0..<(m * k)).map { _ in rng.normal() }, b = (0..<(k * n)).map { _ in rng.normal() }
        func naive(_ a: [Float], _ b: [Float]) -> [Float] {
            var c = [Float](repeating: 0, count: m * n)
            for i in 0..<m { for j in 0..<n { for p in 0..<k { c[i * n + j] += a[i * k + p] * b[p * n + j] } } }
            return c
        }
        let expect = naive(a, b)
        let at = (0..<(k * m)).map { i in a[(i % m) * k + i / m] }  // [K, M]
        let bt = (0..<(n * k)).map { i in b[(i % k) * n + i / k] }  // [N, K]
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let A = Tensor(ta ? at : a, shape: ta ? [k, m] : [m, k]), B = Tensor(tb ? bt : b, shape: tb ? [n, k] : [k, n])
            let C = Tensor(zeros: [m, n])
            Backend.shared.gemm(transA: ta, transB: tb, m: m, n: n, k: k, a: A.ptr, b: B.ptr, c: C.ptr)
            for i in 0..<(m * n) { XCTAssertEqual(C.ptr[i], expect[i], accuracy: 1e-4, "transA \(ta) transB \(tb)") }
            // accumulate adds onto what is there
            Backend.shared.gemm(transA: ta, transB: tb, m: m, n: n, k: k, a: A.ptr, b: B.ptr, c: C.ptr, accumulate: true)
            for i in 0..<(m * n) { XCTAssertEqual(C.ptr[i], 2 * expect[i], accuracy: 2e-4) }
        }
    }

    func testFastExpAndTanhAccuracy() {
        var worst: Float = 0
        var x: Float = -80
        while x < 80 { worst = max(worst, abs(VMath.exp(x) - Foundation.exp(x)) / Foundation.exp(x)); x += 0.0173 }
        XCTAssertLessThan(worst, 5e-7)
        var t: Float = -10
        while t < 10 { XCTAssertEqual(VMath.tanh(t), Foundation.tanh(t), accuracy: 2e-7); t += 0.01 }
    }

    func testVectorMaxIsTheLargestElementAtEveryLengthAndLane() {
        // Every length from 0 to 40 (whole 16-lane groups, tails, both) with the maximum in every position,
        // on all-negative rows so a 0 or a lane left at −∞ would show; NaNs are skipped.
        for n in 0...40 {
            var row = (0..<n).map { -1 - Float(($0 * 37 + n * 11) % 97) / 12 }   // in [−9.1, −1], scrambled
            XCTAssertEqual(VMath.max(row, n), row.max() ?? -.infinity, "n \(n)")
            for at in 0..<n {
                var r = row; r[at] = -0.5
                XCTAssertEqual(VMath.max(r, n), -0.5, "n \(n), maximum at \(at)")
            }
            if n > 1 { row[n / 2] = .nan; XCTAssertEqual(VMath.max(row, n), row.filter { !$0.isNaN }.max()!, "NaN skipped, n \(n)") }
        }
    }

    func testViewsShareStorage() {
        let t = Tensor([1, 2, 3, 4, 5, 6], shape: [3, 2])
        let r = t.reshaped([2, 3]); r.ptr[0] = 9
        XCTAssertEqual(t.ptr[0], 9)
        let s = t.rowSlice(1, 3)
        XCTAssertEqual(s.shape, [2, 2]); XCTAssertEqual(s.toArray(), [3, 4, 5, 6])
    }

    func testAttentionRowsAreCausalSoftmaxWeights() {
        // With V = identity-like one-hot rows, outputs expose the attention weights.
        let b = 1, t = 4, c = 4
        var vals = [Float](repeating: 0, count: b * t * 3 * c)
        for i in 0..<t { vals[i * 3 * c + 2 * c + i] = 1 }  // V row i = e_i; Q = K = 0 → uniform weights
        let out = Tape.noGrad().attention(Tensor(vals, shape: [b, t, 3 * c]), heads: 1)
        for i in 0..<t { for j in 0..<c { XCTAssertEqual(out.ptr[i * c + j], j <= i ? 1 / Float(i + 1) : 0, accuracy: 1e-6) } }
    }

    func testCrossEntropyWithAllTargetsIgnoredIsZeroNotNaN() {
        let logits = Tensor([1, 2, 3, 4], shape: [2, 2], requiresGrad: true)
        let tape = Tape()
        let loss = tape.crossEntropy(logits, [-100, -100])
        XCTAssertEqual(loss.item(), 0)
        tape.backward(loss)
        XCTAssertFalse(logits.grad?.toArray().contains { !$0.isFinite || $0 != 0 } ?? false)
    }

    func testGradientsAccumulateAcrossBackwardCallsUntilZeroed() {
        let w = Tensor([1, 2, 3], shape: [3], requiresGrad: true)
        for _ in 0..<3 { let tape = Tape(); tape.backward(tape.sum(tape.scale(w, 2))) }
        XCTAssertEqual(w.grad!.toArray(), [6, 6, 6])
        w.zeroGrad()
        XCTAssertEqual(w.grad!.toArray(), [0, 0, 0])
    }

    /// `zeroGrad()` only marks a gradient zero: a weight's first product of the next step stores its dW, later ones
    /// in the step add to it, and a parameter no kernel reaches reads as zeros.
    func testAZeroedWeightGradientIsStoredByTheNextStepsFirstProductAndAddedToByTheRest() {
        var rng = StrataRNG(seed: 7)
        let w = Tensor((0..<12).map { _ in rng.normal() }, shape: [3, 4], requiresGrad: true)
        let unused = Tensor([1, 2], shape: [2], requiresGrad: true)
        let x = Tensor((0..<6).map { _ in rng.normal() }, shape: [2, 3])
        func step(uses: Int) -> [Float] {
            let tape = Tape()
            let y = (1..<uses).reduce(tape.linear(x, w)) { acc, _ in tape.add(acc, tape.linear(x, w)) }
            tape.backward(tape.sum(y))
            return w.grad!.toArray()
        }
        let once = step(uses: 1)                      // dW = xᵀ·1: each column the column sums of x
        let colSums = (0..<3).map { i in x.toArray()[i] + x.toArray()[3 + i] }
        for i in 0..<3 { for j in 0..<4 { XCTAssertEqual(once[i * 4 + j], colSums[i], accuracy: 1e-6) } }
        unused.gradBuffer().ptr[0] = 5
        w.zeroGrad(); unused.zeroGrad()
        XCTAssertEqual(step(uses: 1), once, "after zeroGrad the first product stores, it does not add to the old value")
        w.zeroGrad()
        XCTAssertEqual(step(uses: 3), once.map { 3 * $0 }, "three products in one step add up")
        XCTAssertEqual(unused.grad!.toArray(), [0, 0], "a gradient no kernel wrote reads as zeros")
    }

    /// The update is the formula's own float operations, with strata_sqrtf (CVectorMath) as Swift's square root, bit for
    /// bit. In a release build LLVM vectorises it (16 lanes, then a scalar remainder); this suite runs in debug, so the
    /// vectorised path's bits are checked by the 30-step pretraining comparison in docs/benchmarks.md.
    func testAdamWUpdateIsTheScalarFormulaInEveryLaneAndTheTail() {
        var rng = StrataRNG(seed: 4)
        let p = Tensor((0..<37).map { _ in rng.normal() }, shape: [37], requiresGrad: true)
        var ref = p.toArray(), m = [Float](repeating: 0, count: 37), v = m
        let cfg = AdamW.Config(lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1)
        let opt = AdamW([p], config: cfg, decays: { _ in true })
        for step in 1...3 {
            let g = (0..<37).map { _ in rng.normal() }
            p.gradBuffer().copy(from: Tensor(g, shape: [37]))
            opt.update()
            let bc1 = 1 - Float(pow(Double(cfg.beta1), Double(step)))
            let bc2Sqrt = Float(sqrt(1 - pow(Double(cfg.beta2), Double(step))))
            let stepSize = cfg.lr / bc1, decay = 1 - cfg.lr * cfg.weightDecay
            for k in 0..<37 {
                m[k] = cfg.beta1 * m[k] + (1 - cfg.beta1) * g[k]
                v[k] = cfg.beta2 * v[k] + (1 - cfg.beta2) * g[k] * g[k]
                ref[k] = ref[k] * decay - stepSize * m[k] / (v[k].squareRoot() / bc2Sqrt + cfg.eps)
            }
            XCTAssertEqual(p.toArray(), ref, "step \(step)")
            XCTAssertEqual(opt.expAvg[0].toArray(), m)
            XCTAssertEqual(opt.expAvgSq[0].toArray(), v)
        }
    }

    /// Clipping by `update(gradScale:)` is clipping in place and then updating, bit for bit; the global norm is the
    /// parameters' Double sums of squares added in parameter order, whichever thread took which parameter.
    func testClipScaleInsideTheUpdateEqualsClippingInPlaceAndTheNormKeepsParameterOrder() {
        var rng = StrataRNG(seed: 9)
        let shapes = [[300], [7, 5], [1000], [3], [64, 9]]
        let values = shapes.map { s in (0..<s.reduce(1, *)).map { _ in rng.normal() } }
        let grads = shapes.map { s in (0..<s.reduce(1, *)).map { _ in 3 * rng.normal() } }
        func model() -> (params: [Tensor], opt: AdamW) {
            let ps = zip(values, shapes).map { Tensor($0, shape: $1, requiresGrad: true) }
            for (p, g) in zip(ps, grads) { p.gradBuffer().copy(from: Tensor(g, shape: p.shape)) }
            return (ps, AdamW(ps, config: AdamW.Config(lr: 0.01)))
        }
        var serial: Double = 0
        for g in grads { serial += Double(g.withUnsafeBufferPointer { VMath.sumSquares($0.baseAddress!, g.count) }) }
        let inPlace = model(), fused = model()
        XCTAssertEqual(AdamW.gradNorm(fused.params), Float(serial.squareRoot()))
        let norm = AdamW.clipGradNorm(inPlace.params, maxNorm: 1)
        inPlace.opt.update()
        let scale = AdamW.clipScale(norm: AdamW.gradNorm(fused.params), maxNorm: 1)
        XCTAssertLessThan(scale, 1, "these gradients are clipped")
        fused.opt.update(gradScale: scale)
        XCTAssertEqual(AdamW.gradNorm(fused.params), norm, "the fused form leaves the gradients as they were")
        for (a, b) in zip(inPlace.params, fused.params) { XCTAssertEqual(a.toArray(), b.toArray()) }
        for (a, b) in zip(inPlace.opt.expAvgSq, fused.opt.expAvgSq) { XCTAssertEqual(a.toArray(), b.toArray()) }
        XCTAssertEqual(AdamW.clipScale(norm: 0.5, maxNorm: 1), 1, "within the bound: no scaling")
        XCTAssertEqual(AdamW.clipScale(norm: 5, maxNorm: nil), 1, "no bound: no scaling")
    }

    func testGradientNormSharesGiveEveryParameterToOneThreadLargestFirst() {
        let sizes = [3_145_728, 98_304, 442_368, 589_824, 589_824, 147_456, 384, 384, 1152]
        let shares = AdamW.sharesBySize(sizes, workers: 2)
        XCTAssertEqual(shares.flatMap { $0 }.sorted(), Array(sizes.indices))
        let loads = shares.map { $0.reduce(0) { $0 + sizes[$1] } }
        XCTAssertLessThanOrEqual(abs(loads[0] - loads[1]), sizes.max()!, "no share heavier than the other by more than one tensor")
        XCTAssertEqual(AdamW.sharesBySize([5, 1], workers: 4).count, 2, "idle workers get no list")
    }

    func testNoGradTapeRecordsNothing() {
        let w = Tensor([1, 2], shape: [2], requiresGrad: true)
        let tape = Tape.noGrad()
        let y = tape.gelu(tape.scale(w, 3))
        XCTAssertEqual(tape.nodeCount, 0)
        XCTAssertFalse(y.requiresGrad)
    }
}
