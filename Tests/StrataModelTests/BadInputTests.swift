// Bad input refused with an error instead of a crash: config.json fields out of range
// (n_inner -5, layer_norm_epsilon -1), absurd sizes refused by the memory estimate before
// anything is allocated (n_embd 1e9 and 3037000500, vocab_size 1e12, n_positions 1e9,
// n_layer 1e6, batch 1e9), sampling options and prompts checked in one place, many samples
// generated in bounded chunks with the same output as one batch, a header
// relabelling an F32 weight as I32 refused by name, and a seeded fuzz over a few hundred
// mutated model.safetensors files (240): each one loads (and runs) or throws a StrataError.
// Leaves out: the CLI wrappers (they call these functions), tokenizer.json fuzzing
// (StrataTokenizerTests).

import Foundation
import XCTest
import StrataCore
import StrataTensor
import StrataCheckpoint
@testable import StrataModel
import StrataTestSupport

final class BadInputTests: XCTestCase {
    private let tiny = GPT2Config(vocabSize: 64, nPositions: 16, nEmbd: 16, nLayer: 2, nHead: 2)

    func testConfigFieldsOutOfRangeAreRefusedByName() {
        var c = tiny
        c.nInner = -5
        assertStrataError(try c.validate(), contains: ["n_inner", "-5"])
        c = tiny
        c.layerNormEpsilon = -1
        assertStrataError(try c.validate(), contains: ["layer_norm_epsilon", "-1"])
        c.layerNormEpsilon = .nan
        assertStrataError(try c.validate(), contains: ["layer_norm_epsilon"])
        c = tiny
        c.residPdrop = 1
        assertStrataError(try c.validate(), contains: ["resid_pdrop", "[0, 1)"])
        XCTAssertNoThrow(try tiny.validate())
    }

    func testAbsurdSizesAreRefusedWithTheEstimateAndTheMachinesMemory() {
        let memory = MemoryBudget.describe(MemoryBudget.physicalBytes)
        for (field, edit) in [("n_embd 1e9", { (c: inout GPT2Config) in c.nEmbd = 1_000_000_000; c.nHead = 1 }),
                              ("n_embd 3037000500", { c in c.nEmbd = 3_037_000_500; c.nHead = 4 }),  // n_embd² overflows Int64
                              ("n_positions 1e9", { c in c.nPositions = 1_000_000_000; c.nEmbd = 768; c.nHead = 12 }),
                              ("n_layer 1e6", { c in c.nLayer = 1_000_000; c.nEmbd = 384; c.nHead = 6 })] {
            var c = tiny
            edit(&c)
            assertStrataError(try c.validate(source: "config.json"), contains: ["needs about", "this machine has \(memory)", "config.json"])
            _ = field
        }
        var huge = tiny
        huge.vocabSize = 1_000_000_000_000
        assertStrataError(try huge.validate(), contains: ["vocab_size", "2^31"])
        XCTAssertNoThrow(try GPT2Config().validate(), "GPT-2 small (124M) fits")
    }

    func testConfigJSONWithHugeWidthIsRefusedBeforeAllocating() throws {
        let dir = try scratchDirectory("huge-config")
        try Data(#"{"n_embd": 1000000000, "n_head": 1, "n_layer": 2, "vocab_size": 100, "n_positions": 16}"#.utf8)
            .write(to: dir.appendingPathComponent("config.json"))
        assertStrataError(try _ = GPT2.load(directory: dir), contains: ["config.json", "needs about", "of memory", "n_embd"])
    }

    func testTrainingEstimateRefusesAHugeBatchAndAcceptsASmallOne() throws {
        let nano = GPT2Config(vocabSize: 8192, nPositions: 256, nEmbd: 384, nLayer: 6, nHead: 6)
        assertStrataError(try nano.checkTrainingMemory(batch: 1_000_000_000, context: 256),
                          contains: ["batches of 1000000000 × 256", "AdamW", "this machine has", "train.batch_size"])
        XCTAssertNoThrow(try nano.checkTrainingMemory(batch: 8, context: 256))
        // nano at batch 8: ~30M params → ~480 MB of weights/moments + activations; refused on a 256 MB machine.
        assertStrataError(try nano.checkTrainingMemory(batch: 8, context: 256, available: 256 * 1024 * 1024), contains: ["this machine has 256 MB"])
        XCTAssertGreaterThan(nano.trainingBytes(batch: 8, context: 256), 16 * nano.parameterEstimate)
        XCTAssertEqual(nano.parameterEstimate, Double(nano.parameterCount))
    }

    func testSamplingOptionsAreCheckedNamingTheOption() {
        XCTAssertNoThrow(try SamplingConfig().validate())
        XCTAssertNoThrow(try SamplingConfig(temperature: 0, topK: 5, topP: 0.5).validate())
        let bad: [(SamplingConfig, String)] = [
            (SamplingConfig(temperature: -1), "--temperature is -1.0"),
            (SamplingConfig(temperature: .nan), "--temperature is nan"),
            (SamplingConfig(temperature: .infinity), "--temperature is inf"),
            (SamplingConfig(topP: 0), "--top-p is 0.0"),
            (SamplingConfig(topP: 2), "--top-p is 2.0"),
            (SamplingConfig(topP: -1), "--top-p is -1.0"),
            (SamplingConfig(topK: -3), "--top-k is -3"),
            (SamplingConfig(maxNewTokens: -5), "--max-new-tokens is -5"),
        ]
        for (cfg, text) in bad { assertStrataError(try cfg.validate(), contains: [text]) }
    }

    func testPromptsAreCheckedBeforeGeneration() {
        let model = GPT2(tiny, seed: 1)
        assertStrataError(try model.checkPrompt([]), contains: ["no tokens"])
        assertStrataError(try model.checkPrompt([1, 64], label: "--prompt"), contains: ["--prompt", "token id 64 at position 1", "0..<64"])
        assertStrataError(try model.checkPrompt(Array(repeating: 1, count: 16)), contains: ["16 tokens", "n_positions) is 16"])
        XCTAssertNoThrow(try model.checkPrompt(Array(repeating: 1, count: 15)))
        XCTAssertGreaterThan(model.generationBytes(rows: 2), model.generationBytes(rows: 1))
    }

    func testManySamplesInSmallChunksEqualOneBatch() {
        let model = GPT2(tiny, seed: 4)
        let cfg = SamplingConfig(maxNewTokens: 4, temperature: 1, seed: 7)
        let batch = model.generate(prompts: Array(repeating: [1, 2], count: 5), sampling: cfg)
        var chunked: [Completion] = []
        model.sample([1, 2], count: 5, sampling: cfg, chunk: 2) { i, c in
            XCTAssertEqual(i, chunked.count)
            chunked.append(c)
        }
        XCTAssertEqual(chunked, batch)
    }

    func testWeightRelabelledAsIntegerIsRefusedByName() throws {
        let dir = try scratchDirectory("relabel")
        try GPT2(tiny, seed: 2).save(directory: dir)
        let url = dir.appendingPathComponent("model.safetensors")
        var bytes = try Data(contentsOf: url)
        let headerLength = Int(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var header = String(decoding: bytes[8..<(8 + headerLength)], as: UTF8.self)
        // Relabel the first F32 tensor after ln_f.bias's name (same byte size: the layout stays valid).
        let name = "\"transformer.ln_f.bias\":{\"dtype\":\"F32\""
        XCTAssertTrue(header.contains(name), header)
        header = header.replacingOccurrences(of: name, with: "\"transformer.ln_f.bias\":{\"dtype\":\"I32\"")
        bytes.replaceSubrange(8..<(8 + headerLength), with: Data(header.utf8))
        try bytes.write(to: url)
        assertStrataError(try _ = GPT2.load(directory: dir), contains: ["transformer.ln_f.bias", "stored as I32", "floating point"])
    }

    /// A few hundred seeded mutations of a small model.safetensors: every one either loads and runs a
    /// forward pass, or throws a StrataError; none crashes.
    func testFuzzedSafetensorsLoadOrThrowNeverCrash() throws {
        let dir = try scratchDirectory("fuzz")
        try GPT2(tiny, seed: 3).save(directory: dir)
        let url = dir.appendingPathComponent("model.safetensors")
        let original = try Data(contentsOf: url)
        let headerEnd = 8 + Int(original.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var rng = StrataRNG(seed: 20261126)
        var loaded = 0, refused = 0
        for round in 0..<240 {
            try Fuzz.mutate(original, headerEnd: headerEnd, round: round, rng: &rng).write(to: url)
            do {
                let model = try GPT2.load(directory: dir)
                if loaded < 10 {  // loaded weights (possibly NaN) run; shapes were checked on load
                    let tape = Tape.noGrad()
                    _ = model.logits(model.hidden([1, 2, 3], batch: 1, time: 3, tape: tape), tape: tape)
                }
                loaded += 1
            } catch is StrataError {
                refused += 1
            }
        }
        XCTAssertEqual(loaded + refused, 240)
        XCTAssertGreaterThan(refused, 80, "most mutations must be caught (loaded \(loaded))")
    }
}

/// Seeded byte-level mutations aimed at a safetensors file's header and body.
enum Fuzz {
    static func mutate(_ original: Data, headerEnd: Int, round: Int, rng: inout StrataRNG) -> Data {
        var d = original
        switch round % 6 {
        case 0:  // flip a few bytes anywhere
            for _ in 0..<(1 + rng.int(below: 8)) { let i = rng.int(below: d.count); d[i] ^= UInt8(1 + rng.int(below: 255)) }
        case 1:  // flip bytes inside the header JSON
            for _ in 0..<(1 + rng.int(below: 4)) { let i = 8 + rng.int(below: headerEnd - 8); d[i] = UInt8(rng.int(below: 256)) }
        case 2:  // truncate
            d = d.prefix(rng.int(below: d.count))
        case 3:  // a random header length
            let v = rng.int(below: 4) == 0 ? UInt64.max - UInt64(rng.int(below: 1000)) : UInt64(rng.int(below: 2 * headerEnd))
            withUnsafeBytes(of: v.littleEndian) { d.replaceSubrange(0..<8, with: $0) }
        case 4:  // change one digit of a shape or an offset
            let digits = (8..<headerEnd).filter { (0x30...0x39).contains(d[$0]) }
            if let i = digits.isEmpty ? nil : digits[rng.int(below: digits.count)] { d[i] = UInt8(0x30 + rng.int(below: 10)) }
        default:  // relabel a dtype or insert bytes into the header
            if rng.int(below: 2) == 0, let r = d.range(of: Data("F32".utf8), in: 8..<headerEnd) {
                d.replaceSubrange(r, with: Data(["I32", "F16", "I64", "BF1", "F64"][rng.int(below: 5)].utf8))
            } else {
                let i = 8 + rng.int(below: headerEnd - 8)
                d.insert(contentsOf: [UInt8(0x22), UInt8(0x2C), UInt8(0x5B)][..<(1 + rng.int(below: 3))], at: i)
            }
        }
        return d
    }
}
