// Small JSON helpers shared by checkpoint, data and training code: stable,
// sorted-key encoding (so files diff cleanly and hash reproducibly) and decoding
// with errors that name the file. Leaves out: streaming JSON.

import Foundation

public enum StrataJSON {
    public static func encode<T: Encodable>(_ value: T, pretty: Bool = true) throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        return try enc.encode(value)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from data: Data, file: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: data)
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw StrataError.format("read \(file)", "missing field '\(path(ctx.codingPath + [key]))'")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw StrataError.format("read \(file)", "field '\(path(ctx.codingPath))' has the wrong type: \(ctx.debugDescription)")
        } catch let DecodingError.valueNotFound(_, ctx) {
            throw StrataError.format("read \(file)", "field '\(path(ctx.codingPath))' is null")
        } catch let DecodingError.dataCorrupted(ctx) {
            throw StrataError.format("read \(file)", "invalid JSON at '\(path(ctx.codingPath))': \(ctx.debugDescription)")
        }
    }

    public static func read<T: Decodable>(_ type: T.Type, at url: URL) throws -> T {
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw StrataError.io("read \(url.path)", "file does not exist or cannot be read")
        }
        return try decode(type, from: data, file: url.path)
    }

    private static func path(_ keys: [CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}

/// Printing for command output: each line is flushed at once, so log lines and
/// progress lines (written unbuffered) keep their order when output is piped.
public enum Console {
    public static func line(_ s: String) {
        print(s)
        fflush(nil)
    }
}

/// JSON string escaping as serde_json writes it (control characters as \uXXXX,
/// everything else verbatim UTF-8).
public enum JSONText {
    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out
    }
}
