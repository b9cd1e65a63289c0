// The part of TensorFlow's `Event` protobuf that scalar logging needs, encoded
// and decoded by hand: wall_time (field 1, double), step (2, int64 varint),
// file_version (3, string) and summary (5) holding Summary.Value entries with a
// tag (1, string) and simple_value (2, float). Unknown fields are skipped when
// decoding. Leaves out: images, histograms, tensors, graphs, every other field.

import StrataCore

public struct TensorBoardEvent: Equatable, Sendable {
    public var wallTime: Double
    public var step: Int64
    /// Set on the first event of a file ("brain.Event:2").
    public var fileVersion: String?
    /// Scalar summaries: tag and value, in order.
    public var scalars: [(tag: String, value: Float)]

    public init(wallTime: Double, step: Int64, fileVersion: String? = nil, scalars: [(tag: String, value: Float)] = []) {
        self.wallTime = wallTime
        self.step = step
        self.fileVersion = fileVersion
        self.scalars = scalars
    }

    public static func == (a: TensorBoardEvent, b: TensorBoardEvent) -> Bool {
        a.wallTime == b.wallTime && a.step == b.step && a.fileVersion == b.fileVersion
            && a.scalars.map(\.tag) == b.scalars.map(\.tag) && a.scalars.map(\.value) == b.scalars.map(\.value)
    }

    /// The protobuf wire bytes.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = [0x09] + TFRecord.littleEndian(wallTime.bitPattern)
        out += [0x10] + Protobuf.varint(UInt64(bitPattern: step))
        if let fileVersion { out += Protobuf.lengthDelimited(field: 3, Array(fileVersion.utf8)) }
        if !scalars.isEmpty {
            let values = scalars.flatMap { s -> [UInt8] in
                let value = Protobuf.lengthDelimited(field: 1, Array(s.tag.utf8)) + [0x15] + TFRecord.littleEndian(s.value.bitPattern)
                return Protobuf.lengthDelimited(field: 1, value)
            }
            out += Protobuf.lengthDelimited(field: 5, values)
        }
        return out
    }

    /// Decodes an Event message; `context` names the source in errors.
    public init(decoding bytes: [UInt8], context: String) throws {
        self.init(wallTime: 0, step: 0)
        var r = Protobuf.Reader(bytes: bytes, context: context)
        while let (field, wire) = try r.nextKey() {
            switch (field, wire) {
            case (1, .fixed64): wallTime = Double(bitPattern: try r.fixed64())
            case (2, .varint): step = Int64(bitPattern: try r.varint())
            case (3, .lengthDelimited): fileVersion = String(decoding: try r.field(), as: UTF8.self)
            case (5, .lengthDelimited): scalars += try TensorBoardEvent.summaryValues(try r.field(), context: context)
            default: try r.skip(wire)
            }
        }
    }

    private static func summaryValues(_ bytes: [UInt8], context: String) throws -> [(tag: String, value: Float)] {
        var out = [(tag: String, value: Float)]()
        var r = Protobuf.Reader(bytes: bytes, context: context + " summary")
        while let (field, wire) = try r.nextKey() {
            guard field == 1, wire == .lengthDelimited else { try r.skip(wire); continue }
            var v = Protobuf.Reader(bytes: try r.field(), context: context + " summary value")
            var tag = "", value: Float?
            while let (f, w) = try v.nextKey() {
                switch (f, w) {
                case (1, .lengthDelimited): tag = String(decoding: try v.field(), as: UTF8.self)
                case (2, .fixed32): value = Float(bitPattern: try v.fixed32())
                default: try v.skip(w)
                }
            }
            if let value { out.append((tag, value)) }
        }
        return out
    }
}

/// The few protobuf wire-format pieces the event encoding uses.
enum Protobuf {
    enum Wire: UInt64 { case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5 }

    static func varint(_ v: UInt64) -> [UInt8] {
        var v = v, out = [UInt8]()
        while v >= 0x80 { out.append(UInt8(v & 0x7F) | 0x80); v >>= 7 }
        out.append(UInt8(v))
        return out
    }

    static func lengthDelimited(field: UInt64, _ payload: [UInt8]) -> [UInt8] {
        varint(field << 3 | Wire.lengthDelimited.rawValue) + varint(UInt64(payload.count)) + payload
    }

    struct Reader {
        let buffer: [UInt8]
        let context: String
        var at = 0

        init(bytes: [UInt8], context: String) { buffer = bytes; self.context = context }

        mutating func nextKey() throws -> (UInt64, Wire)? {
            guard at < buffer.count else { return nil }
            let key = try varint()
            guard let wire = Wire(rawValue: key & 7) else { throw bad("wire type \(key & 7) at byte \(at) is not supported") }
            return (key >> 3, wire)
        }

        mutating func varint() throws -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard at < buffer.count, shift < 64 else { throw bad("varint runs past the end") }
                let b = buffer[at]; at += 1
                v |= UInt64(b & 0x7F) << shift
                if b < 0x80 { return v }
                shift += 7
            }
        }

        mutating func fixed64() throws -> UInt64 { try take(8).reversed().reduce(0) { $0 << 8 | UInt64($1) } }
        mutating func fixed32() throws -> UInt32 { try take(4).reversed().reduce(0) { $0 << 8 | UInt32($1) } }

        mutating func field() throws -> [UInt8] {
            let n = try varint()
            guard n <= UInt64(buffer.count - at) else { throw bad("a field claims \(n) bytes, \(buffer.count - at) remain") }
            return try take(Int(n))
        }

        mutating func skip(_ wire: Wire) throws {
            switch wire {
            case .varint: _ = try varint()
            case .fixed64: _ = try take(8)
            case .fixed32: _ = try take(4)
            case .lengthDelimited: _ = try field()
            }
        }

        private mutating func take(_ n: Int) throws -> [UInt8] {
            guard buffer.count - at >= n else { throw bad("needs \(n) bytes at byte \(at), \(buffer.count - at) remain") }
            defer { at += n }
            return Array(buffer[at..<at + n])
        }

        private func bad(_ what: String) -> StrataError {
            StrataError.format("decode TensorBoard event (\(context))", what)
        }
    }
}
