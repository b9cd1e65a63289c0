// TensorBoard event files: CRC32C against its published test vectors (RFC 3720
// §B.4 and the "123456789" check value), TFRecord framing round trips and refuses
// corrupt or truncated records, the Event protobuf bytes, and the writer's file.
import XCTest
import StrataCore
@testable import StrataTrain
import StrataTestSupport

final class TensorBoardTests: XCTestCase {
    func testCRC32CMatchesPublishedVectors() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map(UInt8.init)), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0..<32).reversed().map(UInt8.init)), 0x113F_DB5C)
        XCTAssertEqual(CRC32C.checksum([UInt8]()), 0)
    }

    func testMaskIsRotateRightFifteenPlusTheConstant() {
        XCTAssertEqual(CRC32C.masked(0), 0xA282_EAD8)
        XCTAssertEqual(CRC32C.masked(1), 0x0002_0000 &+ 0xA282_EAD8)
        XCTAssertEqual(CRC32C.masked(0x8000), 0x0000_0001 &+ 0xA282_EAD8)
    }

    func testFrameLayoutIsLengthCRCDataCRC() {
        let payload: [UInt8] = [1, 2, 3]
        let f = TFRecord.frame(payload)
        XCTAssertEqual(f.count, 8 + 4 + 3 + 4)
        XCTAssertEqual(Array(f[0..<8]), [3, 0, 0, 0, 0, 0, 0, 0])
        let lengthCRC = CRC32C.maskedChecksum(Array(f[0..<8]))
        XCTAssertEqual(Array(f[8..<12]), (0..<4).map { UInt8(truncatingIfNeeded: lengthCRC >> ($0 * 8)) })
        XCTAssertEqual(Array(f[12..<15]), payload)
        let dataCRC = CRC32C.maskedChecksum(payload)
        XCTAssertEqual(Array(f[15..<19]), (0..<4).map { UInt8(truncatingIfNeeded: dataCRC >> ($0 * 8)) })
    }

    func testRecordsRoundTripThroughFraming() throws {
        let payloads: [[UInt8]] = [[], [7], Array(repeating: 0xAB, count: 300), Array("hello".utf8)]
        let bytes = payloads.flatMap(TFRecord.frame)
        XCTAssertEqual(try TFRecord.records(bytes, file: "mem"), payloads)
    }

    func testCorruptDataIsRefusedNamingTheRecord() {
        var bytes = TFRecord.frame([1, 2, 3]) + TFRecord.frame([4, 5, 6])
        bytes[19 + 13] ^= 0x01   // second record's data
        XCTAssertThrowsError(try TFRecord.records(bytes, file: "x.tfevents")) { e in
            let text = "\(e)"
            XCTAssertTrue(text.contains("x.tfevents") && text.contains("byte 19") && text.contains("data CRC"), text)
        }
        var header = TFRecord.frame([1, 2, 3])
        header[0] = 4
        XCTAssertThrowsError(try TFRecord.records(header, file: "y")) { e in XCTAssertTrue("\(e)".contains("length CRC"), "\(e)") }
    }

    func testTruncatedTailIsRefusedAsTruncated() {
        let bytes = TFRecord.frame([1, 2, 3]) + TFRecord.frame(Array(repeating: 9, count: 40))
        for cut in [bytes.count - 1, bytes.count - 30, 19 + 5] {
            XCTAssertThrowsError(try TFRecord.records(Array(bytes[0..<cut]), file: "z")) { e in
                XCTAssertTrue("\(e)".contains("truncated"), "\(e)")
            }
        }
    }

    func testEventEncodesTheProtobufFieldsByHand() {
        let e = TensorBoardEvent(wallTime: 1.5, step: 3, scalars: [("a", 1.0)])
        let value: [UInt8] = [0x0A, 0x01, 0x61, 0x15, 0x00, 0x00, 0x80, 0x3F]
        let summary: [UInt8] = [0x0A, UInt8(value.count)] + value
        let expected: [UInt8] = [0x09, 0, 0, 0, 0, 0, 0, 0xF8, 0x3F, 0x10, 0x03, 0x2A, UInt8(summary.count)] + summary
        XCTAssertEqual(e.encoded(), expected)
        let v = TensorBoardEvent(wallTime: 0, step: 300, fileVersion: "brain.Event:2").encoded()
        XCTAssertEqual(Array(v[9..<12]), [0x10, 0xAC, 0x02])   // 300 as a varint
        XCTAssertEqual(Array(v[12..<15]), [0x1A, 13, UInt8(ascii: "b")])
    }

    func testEventDecodesWhatItEncodesAndSkipsUnknownFields() throws {
        let e = TensorBoardEvent(wallTime: 1_700_000_000.25, step: 1 << 40, scalars: [("train/loss", 2.5), ("val/general", -0.125)])
        XCTAssertEqual(try TensorBoardEvent(decoding: e.encoded(), context: "t"), e)
        // An unknown varint field (7) and an unknown length-delimited field (9) before the known ones.
        let withUnknown: [UInt8] = [0x38, 0x05, 0x4A, 0x02, 0x01, 0x02] + e.encoded()
        XCTAssertEqual(try TensorBoardEvent(decoding: withUnknown, context: "t"), e)
        XCTAssertThrowsError(try TensorBoardEvent(decoding: [0x2A, 0x09, 0x0A], context: "cut")) { err in
            XCTAssertTrue("\(err)".contains("cut"), "\(err)")
        }
    }

    func testWriterFileStartsWithVersionAndHoldsEachRecordsScalars() throws {
        let dir = try scratchDirectory()
        var t = 1_000.0
        let w = try TensorBoardWriter(directory: dir) { t += 1; return t }
        try w.add(MetricsRecord(step: 10, loss: 3.25, lr: 1e-3, gradNorm: .nan, tokensSeen: 20_480,
                                valLossBySource: ["general": 3.5], extra: ["kl": 0.02]))
        try w.add(step: 11, scalars: ["reward_mean": 0.75, "bad": .infinity])
        try w.add(step: 12, scalars: ["only_nan": .nan])   // nothing finite: no event
        XCTAssertTrue(w.url.lastPathComponent.hasPrefix("events.out.tfevents.1001."), w.url.lastPathComponent)
        let events = try TensorBoardWriter.read(w.url)
        XCTAssertEqual(events.count, 3)
        XCTAssertEqual(events[0].fileVersion, "brain.Event:2")
        XCTAssertEqual(events[0].wallTime, 1001)
        XCTAssertEqual(events[1].step, 10)
        XCTAssertEqual(events[1].wallTime, 1002)
        XCTAssertEqual(Dictionary(uniqueKeysWithValues: events[1].scalars.map { ($0.tag, $0.value) }),
                       ["train/loss": 3.25, "train/lr": Float(1e-3), "train/tokens_seen": 20_480, "val/general": 3.5, "extra/kl": 0.02])
        XCTAssertEqual(events[2].scalars.map(\.tag), ["reward_mean"])
        XCTAssertEqual(events[2].step, 11)
    }
}
