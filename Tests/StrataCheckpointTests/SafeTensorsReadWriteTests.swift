// Well-formed safetensors: F32 and BF16 round trips through files and memory,
// deterministic bytes, hand-built BF16/F16/F64/I64/I32 files (F16 checked over all
// 65536 bit patterns against an independent formula), a fixture written by the
// Python `safetensors` package, lookups by shape, and writer-side refusals.
// Leaves out: malformed files (SafeTensorsMalformedTests).

import Foundation
import XCTest
import StrataCore
@testable import StrataCheckpoint
import StrataTestSupport

final class SafeTensorsReadWriteTests: XCTestCase {
    override class func tearDown() { TestFiles.removeTempDirs() }

    private func randomTensor(_ name: String, _ shape: [Int], _ rng: inout StrataRNG) -> NamedTensor {
        NamedTensor(name: name, shape: shape, values: (0..<shape.reduce(1, *)).map { _ in rng.normal() })
    }

    func testF32RoundTripThroughFile() throws {
        let dir = try TestFiles.makeTempDir("f32-roundtrip")
        var rng = StrataRNG(seed: 1)
        let tensors = [randomTensor("z.weight", [3, 4], &rng), randomTensor("a.bias", [4], &rng),
                       NamedTensor(name: "empty", shape: [0, 5], values: []), NamedTensor(name: "scalar", shape: [], values: [-0.0])]
        let url = dir.appendingPathComponent("model.safetensors")
        try SafeTensors.write(tensors, metadata: ["format": "pt", "step": "100"], to: url)
        let f = try SafeTensors.read(url)
        XCTAssertEqual(f.metadata, ["format": "pt", "step": "100"])
        XCTAssertEqual(f.names, ["a.bias", "empty", "scalar", "z.weight"], "writer sorts by name")
        for t in tensors {
            let back = try XCTUnwrap(f.tensor(t.name))
            XCTAssertEqual(back.shape, t.shape)
            XCTAssertEqual(back.values.map(\.bitPattern), t.values.map(\.bitPattern))
        }
        XCTAssertNil(f.tensor("missing"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path)
        XCTAssertEqual(leftovers, ["model.safetensors"], "no temp file left behind")
    }

    func testBytesAreDeterministicAndAligned() throws {
        var rng = StrataRNG(seed: 2)
        let a = randomTensor("b", [2, 3], &rng), b = randomTensor("a", [5], &rng)
        let one = try SafeTensors.encode([a, b], metadata: ["y": "1", "x": "2"])
        let two = try SafeTensors.encode([b, a], metadata: ["x": "2", "y": "1"])
        XCTAssertEqual(one, two)
        let n = Int(one.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        XCTAssertEqual((8 + n) % 8, 0)
        let header = String(decoding: one[8..<(8 + n)], as: UTF8.self)
        XCTAssertTrue(header.hasPrefix("{\"__metadata__\":{\"x\":\"2\",\"y\":\"1\"},\"a\":{\"dtype\":\"F32\",\"shape\":[5],\"data_offsets\":[0,20]}"), header)
        XCTAssertEqual(one.count, 8 + n + 4 * 11)
    }

    func testBF16WriteRoundsToNearestEven() throws {
        let values: [Float] = [1, 1.00390625, 1.01171875, -3.5, .infinity, -.greatestFiniteMagnitude, .nan, Float(bitPattern: 0x0001_16C2)]
        let data = try SafeTensors.encode([NamedTensor(name: "w", shape: [8], values: values)], dtype: .bf16)
        let back = try XCTUnwrap(SafeTensors.read(data: data, source: "bf16").tensor("w")).values
        XCTAssertEqual(Array(back[0..<4]), [1, 1, 1.015625, -3.5], "ties go to the even mantissa")
        XCTAssertEqual(back[4], .infinity)
        XCTAssertEqual(back[5], -.infinity, "the largest Float rounds past bfloat16's range")
        XCTAssertTrue(back[6].isNaN)
        XCTAssertEqual(back[7].bitPattern, 0x0001_0000, "subnormals round like any other value")
        let info = try XCTUnwrap(SafeTensors.read(data: data, source: "bf16").info("w"))
        XCTAssertEqual(info.dtype, .bf16)
        XCTAssertEqual(info.dataOffsets, 0..<16)
    }

    func testHandBuiltBF16File() throws {
        let bits: [UInt16] = [0x3F80, 0xBF80, 0x7F80, 0xFF80, 0x7FC0, 0x0001, 0x8000, 0x4049]
        let h = "{\(TestFiles.entry("w", "BF16", "[2,4]", 0, 16))}"
        let f = try SafeTensors.read(data: TestFiles.raw(header: h, buffer: TestFiles.leBytes(bits)), source: "bf16")
        let got = try XCTUnwrap(f.tensor("w"))
        XCTAssertEqual(got.shape, [2, 4])
        XCTAssertEqual(got.values.map(\.bitPattern), bits.map { UInt32($0) << 16 })
    }

    /// Independent reference for half precision: (-1)^s × 2^(e-15) × (1 + m/1024), or m × 2^-24.
    private func halfReference(_ h: UInt16) -> Float {
        let s: Double = h & 0x8000 != 0 ? -1 : 1
        let e = Int((h >> 10) & 0x1F), m = Double(h & 0x3FF)
        if e == 0 { return Float(s * m * pow(2, -24)) }
        if e == 31 { return m == 0 ? Float(s * .infinity) : .nan }
        return Float(s * (1 + m / 1024) * pow(2, Double(e - 15)))
    }

    func testHandBuiltF16FileAllBitPatterns() throws {
        let bits = (0...UInt16.max).map { $0 }
        let h = "{\(TestFiles.entry("all", "F16", "[65536]", 0, 131_072))}"
        let f = try SafeTensors.read(data: TestFiles.raw(header: h, buffer: TestFiles.leBytes(bits)), source: "f16")
        let got = try XCTUnwrap(f.tensor("all")).values
        var mismatches = 0
        for (i, b) in bits.enumerated() {
            let want = halfReference(b)
            if want.isNaN { if !got[i].isNaN { mismatches += 1 } } else if got[i].bitPattern != want.bitPattern { mismatches += 1 }
        }
        XCTAssertEqual(mismatches, 0)
        XCTAssertEqual(got[0x0001], Float(sign: .plus, exponent: -24, significand: 1), "smallest subnormal")
        XCTAssertEqual(got[0x7BFF], 65504)
        XCTAssertEqual(got[0x8000].bitPattern, 0x8000_0000, "negative zero keeps its sign")
        XCTAssertEqual(got[0x7E00].bitPattern, 0x7FC0_0000, "quiet NaN widens to the canonical quiet NaN")
    }

    func testHandBuiltIntegerAndF64File() throws {
        let h = "{\(TestFiles.entry("d", "F64", "[2]", 0, 16)),\(TestFiles.entry("l", "I64", "[2]", 16, 32)),\(TestFiles.entry("i", "I32", "[3]", 32, 44))}"
        let buffer = TestFiles.leBytes([Double(0.1).bitPattern, Double(-2.5).bitPattern]) + TestFiles.leBytes([Int64(-3), 16_777_217])
            + TestFiles.leBytes([Int32(7), Int32.min, Int32.max])
        let f = try SafeTensors.read(data: TestFiles.raw(header: h, buffer: buffer), source: "ints")
        XCTAssertEqual(f.tensor("d")?.values, [Float(0.1), -2.5])
        XCTAssertEqual(f.tensor("l")?.values, [-3, 16_777_216])
        XCTAssertEqual(f.tensor("i")?.values, [7, -2_147_483_648, 2_147_483_648])
    }

    func testUnalignedDataAndHeaderWhitespace() throws {
        // A 15-byte header puts the data at offset 23: loads must not assume alignment.
        let h = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}  \n"
        let f = try SafeTensors.read(data: TestFiles.raw(header: h, buffer: TestFiles.leBytes([Float(1.5).bitPattern, Float(-2).bitPattern])), source: "odd")
        XCTAssertEqual(f.tensor("w")?.values, [1.5, -2])
    }

    func testPythonWrittenFixture() throws {
        struct Expected: Decodable {
            struct T: Decodable { let dtype: String; let shape: [Int]; let f32_bits: [UInt32] }
            let metadata: [String: String]
            let tensors: [String: T]
        }
        let expected = try StrataJSON.read(Expected.self, at: try TestFiles.fixture("python_mixed.expected.json"))
        let f = try SafeTensors.read(try TestFiles.fixture("python_mixed.safetensors"))
        XCTAssertEqual(f.metadata, expected.metadata)
        XCTAssertEqual(Set(f.names), Set(expected.tensors.keys))
        XCTAssertEqual(f.info("f16.special")?.dtype, .f16)
        XCTAssertEqual(f.info("bf16.vector")?.dtype, .bf16)
        for (name, want) in expected.tensors {
            let t = try XCTUnwrap(f.tensor(name), name)
            XCTAssertEqual(t.shape, want.shape, name)
            XCTAssertEqual(t.values.map(\.bitPattern), want.f32_bits, "tensor \(name) (\(want.dtype)) differs from torch's Float32 view")
        }
    }

    func testLookupByShapeAndCopyInto() throws {
        let data = try SafeTensors.encode([NamedTensor(name: "w", shape: [2, 2], values: [1, 2, 3, 4])], dtype: .bf16)
        let f = try SafeTensors.read(data: data, source: "lookup.safetensors")
        XCTAssertEqual(try f.tensor("w", shape: [2, 2]).values, [1, 2, 3, 4])
        assertStrataError(.shape, ["lookup.safetensors", "'w'", "[2, 2]", "expected [4]"]) { try f.tensor("w", shape: [4]) }
        assertStrataError(.format, ["lookup.safetensors", "no tensor named 'v'"]) { try f.require("v", shape: [1]) }
        var dst = [Float](repeating: 0, count: 4)
        try dst.withUnsafeMutableBufferPointer { try f.copyValues(of: "w", into: $0) }
        XCTAssertEqual(dst, [1, 2, 3, 4])
        var small = [Float](repeating: 0, count: 3)
        assertStrataError(.shape, ["destination holds 3"]) { try small.withUnsafeMutableBufferPointer { try f.copyValues(of: "w", into: $0) } }
        let raw = f.withRawBytes(of: "w") { info, bytes in (info.dtype, Array(bytes)) }
        XCTAssertEqual(raw?.0, .bf16)
        XCTAssertEqual(raw?.1, TestFiles.leBytes([UInt16(0x3F80), 0x4000, 0x4040, 0x4080]))
    }

    func testNamesAndMetadataNeedingEscapes() throws {
        let names = ["quote\"d", "back\\slash", "tab\there", "ctl\u{1}", "ünïcode.层", "emoji😀"]
        let tensors = names.map { NamedTensor(name: $0, shape: [1], values: [1]) }
        let data = try SafeTensors.encode(tensors, metadata: ["multi\nline": "a \"b\" \u{7}", "κ": "λ"])
        let f = try SafeTensors.read(data: data, source: "escapes")
        XCTAssertEqual(Set(f.names), Set(names))
        XCTAssertEqual(f.metadata, ["multi\nline": "a \"b\" \u{7}", "κ": "λ"])
    }

    func testStreamingSourcesAndWriterRefusals() throws {
        let dir = try TestFiles.makeTempDir("sources")
        let url = dir.appendingPathComponent("m.safetensors")
        let storage: [Float] = [1, 2, 3, 4, 5, 6]
        let good = TensorSource(name: "w", shape: [2, 3]) { body in try storage.withUnsafeBufferPointer(body) }
        try SafeTensors.write(sources: [good], to: url)
        XCTAssertEqual(try SafeTensors.read(url).tensor("w")?.values, storage)

        let wrong = TensorSource(name: "w", shape: [4]) { body in try storage.withUnsafeBufferPointer(body) }
        assertStrataError(.shape, ["'w'", "4 values", "holds 6"]) { try SafeTensors.write(sources: [wrong], to: url) }
        XCTAssertEqual(try SafeTensors.read(url).tensor("w")?.values, storage, "a failed write leaves the old file intact")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["m.safetensors"])

        let never = TensorSource(name: "w", shape: [1]) { _ in }
        assertStrataError(.state, ["never called"]) { try SafeTensors.encode2(never) }
        let t = NamedTensor(name: "a", shape: [1], values: [0])
        assertStrataError(.config, ["appears twice"]) { try SafeTensors.encode([t, t]) }
        assertStrataError(.config, ["__metadata__"]) { try SafeTensors.encode([NamedTensor(name: "__metadata__", shape: [], values: [0])]) }
        assertStrataError(.shape, ["negative"]) { try SafeTensors.encode([NamedTensor(name: "n", shape: [-1], values: [])]) }
        assertStrataError(.config, ["F16"]) { try SafeTensors.encode([t], dtype: .f16) }
    }
}

private extension SafeTensors {
    static func encode2(_ s: TensorSource) throws -> Data {
        let sink = DataSink()
        try write(sources: [s], into: sink, label: "memory")
        return sink.data
    }
}
