// Test support shared by the test targets: the central finite-difference
// gradient checker (reduces an op's output to a scalar through a fixed random
// projection, then compares the tape's gradient for every input element with
// (f(x+ε) − f(x−ε)) / 2ε) and seeded random tensors.
// Leaves out: anything that is not a test helper.

import XCTest
import StrataCore
import StrataTensor

public func randomTensor(_ shape: [Int], _ rng: inout StrataRNG, scale: Float = 1, requiresGrad: Bool = true) -> Tensor {
    let n = Tensor.elementCount(shape)
    return Tensor((0..<n).map { _ in rng.normal() * scale }, shape: shape, requiresGrad: requiresGrad)
}

/// Checks d/dinputs of sum(f(inputs) ⊙ R) against central differences.
public func gradCheck(_ inputs: [Tensor], eps: Float = 1e-2, tol: Float = 2e-2, seed: UInt64 = 99,
               file: StaticString = #filePath, line: UInt = #line, _ f: (Tape, [Tensor]) -> Tensor) {
    var rng = StrataRNG(seed: seed)
    let probe = f(Tape.noGrad(), inputs)
    let proj = (0..<probe.count).map { _ in rng.normal() }
    func objective() -> Double {
        let y = f(Tape.noGrad(), inputs)
        var s: Double = 0
        for i in 0..<y.count { s += Double(y.ptr[i]) * Double(proj[i]) }
        return s
    }
    for x in inputs { x.grad = nil }
    let tape = Tape()
    let y = f(tape, inputs)
    let r = Tensor(proj, shape: y.shape)
    let loss = tape.sum(tape.mul(y, r))
    tape.backward(loss)
    for (k, x) in inputs.enumerated() where x.requiresGrad {
        guard let g = x.grad else { XCTFail("input \(k) got no gradient", file: file, line: line); continue }
        var worst: Float = 0
        for i in 0..<x.count {
            let old = x.ptr[i]
            x.ptr[i] = old + eps; let up = objective()
            x.ptr[i] = old - eps; let down = objective()
            x.ptr[i] = old
            let numeric = Float((up - down) / Double(2 * eps))
            let err = abs(numeric - g.ptr[i]) / max(1, abs(numeric))
            worst = max(worst, err)
        }
        XCTAssertLessThan(worst, tol, "input \(k) \(x.shape): worst relative gradient error \(worst)", file: file, line: line)
    }
}

