// Streams tokens into a shard file. Tokens are buffered and written in large
// chunks to "<path>.partial"; `finish()` writes the final header (with the
// count) and renames the file into place, so a crashed run never leaves a
// shard that looks complete. Leaves out: appending to an existing shard.

import Foundation
import StrataCore

public final class ShardWriter {
    public let url: URL
    public let dtype: ShardDType
    public let vocabSize: Int
    public private(set) var count = 0

    private let partialURL: URL
    private var handle: FileHandle?
    private var buffer: [UInt8] = []
    private var bodyHash = SHA256()
    private static let flushBytes = 1 << 20

    /// Open a writer. `dtype` nil picks uint16 when the vocabulary fits, else uint32.
    public init(url: URL, vocabSize: Int, dtype: ShardDType? = nil) throws {
        self.dtype = try ShardDType.choose(vocabSize: vocabSize, requested: dtype)
        self.url = url
        self.vocabSize = vocabSize
        self.partialURL = URL(fileURLWithPath: url.path + ".partial")
        let fm = FileManager.default
        try? fm.removeItem(at: partialURL)
        guard fm.createFile(atPath: partialURL.path, contents: Data(ShardHeader(dtype: self.dtype, count: 0, vocabSize: vocabSize).encoded())),
              let h = FileHandle(forWritingAtPath: partialURL.path) else {
            throw StrataError.io("write shard \(url.path)", "cannot create \(partialURL.path)",
                                 fix: "check that the output directory exists and is writable")
        }
        h.seekToEndOfFile()
        handle = h
        buffer.reserveCapacity(ShardWriter.flushBytes + 64)
    }

    deinit {
        if handle != nil {
            try? handle?.close()
            try? FileManager.default.removeItem(at: partialURL)
        }
    }

    /// Append tokens; each must be in 0..<vocabSize.
    public func append<C: Collection>(_ tokens: C) throws where C.Element == Int {
        guard handle != nil else {
            throw StrataError(.state, "write shard \(url.path)", "append after finish()")
        }
        let width = dtype.byteWidth
        for t in tokens {
            guard t >= 0, t < vocabSize else {
                throw StrataError.data("write shard \(url.path)",
                    "token id \(t) at position \(count) is outside the vocabulary (0..<\(vocabSize))",
                    fix: "the tokenizer and its reported vocabulary size disagree; check the tokenizer file")
            }
            let v = UInt32(t)
            buffer.append(UInt8(truncatingIfNeeded: v))
            buffer.append(UInt8(truncatingIfNeeded: v >> 8))
            if width == 4 {
                buffer.append(UInt8(truncatingIfNeeded: v >> 16))
                buffer.append(UInt8(truncatingIfNeeded: v >> 24))
            }
            count += 1
        }
        if buffer.count >= ShardWriter.flushBytes { try flush() }
    }

    /// Write the header with the final count, close and move the file into place.
    /// Returns the SHA-256 of the token bytes (the body after the header).
    @discardableResult
    public func finish() throws -> String {
        try flush()
        guard let h = handle else {
            throw StrataError(.state, "write shard \(url.path)", "finish() called twice")
        }
        do {
            try h.seek(toOffset: 0)
            try h.write(contentsOf: ShardHeader(dtype: dtype, count: count, vocabSize: vocabSize).encoded())
            try h.close()
            handle = nil
            let fm = FileManager.default
            if fm.fileExists(atPath: url.path) { try fm.removeItem(at: url) }
            try fm.moveItem(at: partialURL, to: url)
        } catch let e as StrataError {
            throw e
        } catch {
            throw StrataError.file("write shard \(url.path)", path: partialURL.path, error)
        }
        return bodyHash.hexDigest()
    }

    private func flush() throws {
        guard !buffer.isEmpty, let h = handle else { return }
        bodyHash.update(buffer)
        do {
            try h.write(contentsOf: buffer)
        } catch {
            throw StrataError.file("write shard \(url.path)", path: partialURL.path, error)
        }
        buffer.removeAll(keepingCapacity: true)
    }
}
