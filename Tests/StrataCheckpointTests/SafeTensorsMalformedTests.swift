// One test per rule the safetensors reader enforces: each malformed file must be
// refused with a format StrataError naming the file (and the tensor where there is
// one), never a crash. Ends with truncation at every length and seeded random bytes.
// Leaves out: well-formed files (SafeTensorsReadWriteTests).

import Foundation
import XCTest
import StrataCore
@testable import StrataCheckpoint
import StrataTestSupport

final class SafeTensorsMalformedTests: XCTestCase {
    private func refuse(_ data: Data, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line) {
        assertStrataError(.format, ["bad.safetensors"] + fragments, file: file, line: line) {
            try SafeTensors.read(data: data, source: "bad.safetensors")
        }
    }

    private func oneTensor(_ shape: String, _ begin: Int, _ end: Int, dtype: String = "F32", buffer: Int) -> Data {
        TestFiles.raw(header: "{\(TestFiles.entry("w", dtype, shape, begin, end))}", buffer: [UInt8](repeating: 0, count: buffer))
    }

    func testValidBaselineParses() throws {
        let f = try SafeTensors.read(data: oneTensor("[2]", 0, 8, buffer: 8), source: "ok.safetensors")
        XCTAssertEqual(f.tensor("w")?.values, [0, 0])
    }

    func testShorterThanLengthField() {
        refuse(Data([1, 2, 3]), ["too short"])
        refuse(Data(), ["0 bytes"])
    }

    func testHeaderTooLarge() {
        refuse(TestFiles.raw(header: "{}", length: 100_000_001), ["exceeds", "100000000"])
        refuse(TestFiles.raw(header: "{}", length: UInt64.max), ["exceeds"])
    }

    func testHeaderBeyondFile() {
        refuse(TestFiles.raw(header: "{}", length: 3), ["runs past the end"])
        refuse(TestFiles.raw(header: "{}", length: 1000), ["runs past the end"])
    }

    func testHeaderNotUTF8() {
        let quoted = { (bad: [UInt8]) in [0x7B, 0x22] + bad + [0x22, 0x3A, 0x31, 0x7D] }  // {"<bad>":1}
        refuse(TestFiles.raw(header: quoted([0xC3, 0x28])), ["UTF-8"])        // broken 2-byte sequence
        refuse(TestFiles.raw(header: quoted([0xC0, 0xAF])), ["UTF-8"])        // overlong encoding
        refuse(TestFiles.raw(header: quoted([0xED, 0xA0, 0x80])), ["UTF-8"])  // encoded surrogate
        refuse(TestFiles.raw(header: [0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D]), ["UTF-8", "header byte 2"])
    }

    func testHeaderNotJSON() {
        for text in ["", "{", "{\"a\":}", "{'a':1}", "{\"a\":1,}", "{\"a\":01}", "{\"a\":tru}", "{\"a\":\"\\x\"}", "{\"a\" 1}", "{} x"] {
            refuse(TestFiles.raw(header: text), ["not valid JSON"])
        }
        refuse(TestFiles.raw(header: String(repeating: "[", count: 100_000)), ["nests deeper"])
    }

    func testHeaderNotAnObject() {
        refuse(TestFiles.raw(header: "[1,2]"), ["is an array, expected an object"])
        refuse(TestFiles.raw(header: "\"w\""), ["is a string, expected an object"])
        refuse(TestFiles.raw(header: "{\"w\":[1]}"), ["tensor 'w'", "entry is an array"])
    }

    func testUnknownDtype() {
        refuse(oneTensor("[2]", 0, 2, dtype: "F8_E4M3", buffer: 2), ["tensor 'w'", "unsupported dtype 'F8_E4M3'"])
        refuse(oneTensor("[2]", 0, 8, dtype: "f32", buffer: 8), ["unsupported dtype 'f32'"])
        refuse(TestFiles.raw(header: "{\"w\":{\"dtype\":4,\"shape\":[],\"data_offsets\":[0,4]}}", buffer: [0, 0, 0, 0]), ["dtype is a number"])
    }

    func testShapeNotNonNegativeInts() {
        refuse(oneTensor("[-1,2]", 0, 8, buffer: 8), ["tensor 'w'", "shape[0] is -1"])
        refuse(oneTensor("[2.5]", 0, 8, buffer: 8), ["shape[0] is 2.5"])
        refuse(oneTensor("[1e1]", 0, 40, buffer: 40), ["shape[0] is 1e1"])
        refuse(oneTensor("[\"2\"]", 0, 8, buffer: 8), ["shape[0] is the string"])
        refuse(oneTensor("[99999999999999999999999]", 0, 8, buffer: 8), ["non-negative integer"])
        refuse(oneTensor("{}", 0, 8, buffer: 8), ["shape is an object"])
        refuse(oneTensor("[4294967296,4294967296]", 0, 8, buffer: 8), ["too many elements"])
        refuse(oneTensor("[4611686018427387904]", 0, 8, buffer: 8), ["too large in bytes"])
    }

    func testOffsetsMalformed() {
        let h = { (o: String) in TestFiles.raw(header: "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":\(o)}}", buffer: [0, 0, 0, 0]) }
        refuse(h("[0]"), ["array of two integers"])
        refuse(h("[0,4,8]"), ["array of two integers"])
        refuse(h("[-4,0]"), ["non-negative"])
        refuse(h("[8,4]"), ["before begin"])
        refuse(TestFiles.raw(header: "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", buffer: [0, 0, 0, 0]), ["missing \"data_offsets\""])
    }

    func testOffsetsNotStartingAtZero() {
        refuse(oneTensor("[1]", 4, 8, buffer: 8), ["do not start at 0", "'w' begins at 4"])
    }

    func testGapBetweenTensors() {
        let h = "{\(TestFiles.entry("a", "F32", "[1]", 0, 4)),\(TestFiles.entry("b", "F32", "[1]", 8, 12))}"
        refuse(TestFiles.raw(header: h, buffer: [UInt8](repeating: 0, count: 12)), ["gap of 4 bytes", "'a'", "'b'"])
    }

    func testOverlappingTensors() {
        let h = "{\(TestFiles.entry("a", "F32", "[2]", 0, 8)),\(TestFiles.entry("b", "F32", "[2]", 4, 12))}"
        refuse(TestFiles.raw(header: h, buffer: [UInt8](repeating: 0, count: 12)), ["'b'", "overlaps tensor 'a'"])
        let same = "{\(TestFiles.entry("a", "F32", "[2]", 0, 8)),\(TestFiles.entry("b", "F32", "[2]", 0, 8))}"
        refuse(TestFiles.raw(header: same, buffer: [UInt8](repeating: 0, count: 8)), ["overlaps"])
    }

    func testSizeMismatch() {
        refuse(oneTensor("[3]", 0, 8, buffer: 8), ["tensor 'w'", "needs 12 bytes", "hold 8"])
        refuse(oneTensor("[3]", 0, 8, dtype: "BF16", buffer: 8), ["needs 6 bytes"])
    }

    func testTrailingBytes() {
        refuse(oneTensor("[2]", 0, 8, buffer: 9), ["1 trailing bytes"])
    }

    func testTruncatedData() {
        refuse(oneTensor("[2]", 0, 8, buffer: 5), ["truncated", "need 8", "only 5"])
    }

    func testDuplicateTensorNames() {
        let h = "{\(TestFiles.entry("w", "F32", "[1]", 0, 4)),\(TestFiles.entry("w", "F32", "[1]", 4, 8))}"
        refuse(TestFiles.raw(header: h, buffer: [UInt8](repeating: 0, count: 8)), ["duplicate tensor name 'w'"])
        // Same name spelled with an escape is still the same name.
        let h2 = "{\(TestFiles.entry("w", "F32", "[1]", 0, 4)),\(TestFiles.entry("\\u0077", "F32", "[1]", 4, 8))}"
        refuse(TestFiles.raw(header: h2, buffer: [UInt8](repeating: 0, count: 8)), ["duplicate tensor name 'w'"])
        refuse(TestFiles.raw(header: "{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}"), ["duplicate key 'k'"])
    }

    func testMetadataMustBeStrings() {
        refuse(TestFiles.raw(header: "{\"__metadata__\":{\"k\":1}}"), ["metadata 'k' is a number"])
        refuse(TestFiles.raw(header: "{\"__metadata__\":[\"k\"]}"), ["\"__metadata__\" is an array"])
    }

    func testTruncatedAtEveryLength() throws {
        let full = try SafeTensors.encode([NamedTensor(name: "a", shape: [2, 2], values: [1, 2, 3, 4]),
                                           NamedTensor(name: "b", shape: [3], values: [5, 6, 7])],
                                          metadata: ["k": "v"])
        XCTAssertNoThrow(try SafeTensors.read(data: full, source: "full"))
        for n in 0..<full.count {
            assertStrataError(.format, ["cut-\(n)"]) { try SafeTensors.read(data: full.prefix(n), source: "cut-\(n)") }
        }
    }

    func testRandomBytesNeverCrash() {
        var rng = StrataRNG(seed: 20_240_607)
        for i in 0..<500 {
            let n = rng.int(below: 64)
            var bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if i % 2 == 0, n >= 8 {  // a plausible length field makes the parser work harder
                let len = UInt64(rng.int(below: n - 7))
                for k in 0..<8 { bytes[k] = UInt8(truncatingIfNeeded: len >> (8 * UInt64(k))) }
            }
            assertStrataError(.format, ["random-\(i)"]) { try SafeTensors.read(data: Data(bytes), source: "random-\(i)") }
        }
    }

    func testMutatedValidFilesNeverCrash() throws {
        let valid = try SafeTensors.encode([NamedTensor(name: "layer.0.weight", shape: [2, 3], values: [1, 2, 3, 4, 5, 6]),
                                            NamedTensor(name: "layer.0.bias", shape: [3], values: [7, 8, 9])],
                                           metadata: ["format": "pt"])
        var rng = StrataRNG(seed: 99)
        var refused = 0
        for i in 0..<1000 {
            var bytes = [UInt8](valid)
            for _ in 0..<(1 + rng.int(below: 3)) { bytes[rng.int(below: bytes.count)] = UInt8(truncatingIfNeeded: rng.next()) }
            do {
                let f = try SafeTensors.read(data: Data(bytes), source: "mutated-\(i)")
                _ = f.allTensors()  // whatever parsed must also convert safely
            } catch let e as StrataError {
                XCTAssertEqual(e.kind, .format)
                refused += 1
            }
        }
        XCTAssertGreaterThan(refused, 300, "most header mutations must be caught")
    }
}
