// The RL parity fixture (Tests/StrataRLTests/Fixtures/rl_parity.json, written by
// tools/fixtures/rl_parity.py with plain torch following verl/OpenRLHF/TRL), its
// Decodable layout, and the comparison helpers the parity tests share.

import XCTest
import Foundation
import StrataCore
import StrataTensor
@testable import StrataRL

struct RLFixture: Decodable {
    struct GAEPart: Decodable {
        let gamma: Float, lam: Float
        let advantages: [Float], returns: [Float], whitened: [Float], whitened_keep_mean: [Float]
    }
    struct KLPart: Decodable { let values: [Double], grad: [Double] }
    struct TokenRewardCase: Decodable {
        let beta: Float, estimator: String, whiten: Bool, clip: Float?
        let rewards: [Double], scores: [Double], mean_sequence_kl: Double, mean_token_kl: Double
    }
    struct PolicyCase: Decodable {
        let eps_low: Float, eps_high: Float, dual: Float?
        let loss: Double, grad: [Double], clip_low: Double, clip_high: Double, dual_frac: Double, approx_kl: Double, ppo_kl: Double
    }
    struct ValuePart: Decodable { let clip: Float, loss: Double, grad: [Double], clipfrac: Double, explained_variance: Double }
    struct Controller: Decodable {
        let initial: Double, target: Double, horizon: Double, observed: [Double], samples: [Int], values: [Double]
    }
    struct PPO: Decodable {
        let rows: Int, time: Int, mask: [Float]
        let rewards: [Float], values: [Float], old_logp: [Float], ref_logp: [Float], logp: [Float]
        let advantages_in: [Float], scores: [Float], new_values: [Float]
        let gae: GAEPart, kl: [String: KLPart], token_rewards: [String: TokenRewardCase]
        let policy_loss: [String: PolicyCase], value_loss: ValuePart, kl_controller: Controller

        func tokenMask() throws -> TokenMask { try TokenMask(rows: rows, time: time, active: mask.map { $0 > 0 }) }
    }
    struct Micro: Decodable { let loss: Double, grad: [Double] }
    struct GRPOLoss: Decodable { let denominator: Double, loss: Double, grad: [Double], split: Int, micro: [Micro] }
    struct GRPO: Decodable {
        let groups: Int, group_size: Int, time: Int
        let rewards: [Float], mask: [Float], old_logp: [Float], logp: [Float], ref_logp: [Float]
        let beta: Float, eps_low: Float, eps_high: Float
        let advantages: [String: [Double]], zero_std: [Bool], frac_reward_zero_std: Double
        let group_means: [Double], group_stds: [Double]
        let losses: [String: GRPOLoss]
        let trl: [String: Double]

        var rows: Int { groups * group_size }
        func tokenMask() throws -> TokenMask { try TokenMask(rows: rows, time: time, active: mask.map { $0 > 0 }) }
    }
    struct Entropy: Decodable {
        let logits: [Float], rows: Int, vocab: Int, targets: [Int32], weights: [Float]
        let entropy: [Double], grad: [Double], logp: [Double]
    }
    let ppo: PPO
    let grpo: GRPO
    let entropy: Entropy

    static func load() throws -> RLFixture {
        let url = Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent("rl_parity.json")
        return try StrataJSON.read(RLFixture.self, at: url)
    }
}

/// |a − b| ≤ 1e-5 · max(1, |b|) for every element.
func assertMatches<A: BinaryFloatingPoint, B: BinaryFloatingPoint>(_ got: [A], _ expected: [B], tol: Double = 1e-5, _ what: String,
                                                                 file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(got.count, expected.count, "\(what): count", file: file, line: line)
    var worst = 0.0, at = -1
    for i in 0..<min(got.count, expected.count) {
        let e = abs(Double(got[i]) - Double(expected[i])) / max(1, abs(Double(expected[i])))
        if e > worst { worst = e; at = i }
    }
    XCTAssertLessThanOrEqual(worst, tol, "\(what): worst error \(worst) at \(at)", file: file, line: line)
}

func assertMatches<A: BinaryFloatingPoint, B: BinaryFloatingPoint>(_ got: A, _ expected: B, tol: Double = 1e-5, _ what: String,
                                                                 file: StaticString = #filePath, line: UInt = #line) {
    assertMatches([got], [expected], tol: tol, what, file: file, line: line)
}

/// The gradient of `loss` with respect to a [rows, time] leaf made from `values`, after running `body`.
func gradient(of values: [Float], shape: [Int], _ body: (Tape, Tensor) throws -> Tensor) rethrows -> (loss: Float, grad: [Float]) {
    let leaf = Tensor(values, shape: shape, requiresGrad: true)
    let tape = Tape()
    let loss = try body(tape, leaf)
    let value = loss.item()
    tape.backward(loss)
    return (value, leaf.grad?.toArray() ?? [Float](repeating: 0, count: values.count))
}
