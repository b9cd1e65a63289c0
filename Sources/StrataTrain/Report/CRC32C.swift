// CRC32C (Castagnoli polynomial, reflected 0x82F63B78), the checksum of
// TensorFlow's record framing, and its "masked" form that TFRecord/TensorBoard
// files store (rotate right by 15, add a constant) so a CRC of data that itself
// holds CRCs stays well distributed. Table-driven, one byte at a time.
// Leaves out: hardware (SSE4.2) CRC instructions, slicing-by-8.

public enum CRC32C {
    private static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        return c
    }

    /// The CRC32C of `bytes`.
    public static func checksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }

    /// The masked CRC that TFRecord framing stores.
    public static func masked(_ crc: UInt32) -> UInt32 {
        ((crc >> 15) | (crc << 17)) &+ 0xA282_EAD8
    }

    /// `masked(checksum(bytes))`.
    public static func maskedChecksum<C: Collection>(_ bytes: C) -> UInt32 where C.Element == UInt8 {
        masked(checksum(bytes))
    }
}
