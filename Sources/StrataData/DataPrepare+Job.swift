// The running state of one `DataPrepare.run`: the two shard writers, the
// documents waiting to be tokenized, and per-source, per-split counts that end
// up in the sidecars. Leaves out: parallel tokenization (the encoder's batch call
// may parallelize internally).

import Foundation
import StrataCore

struct PrepareJob<E: TokenEncoder> {
    private struct Pending {
        var text: String
        var source: Int
        var validation: Bool
    }

    private let config: DataPrepare.Config
    private let encoder: E
    private let eos: Int
    private let outDir: URL
    private let train: ShardWriter
    private let val: ShardWriter?
    private var pending: [Pending] = []
    private var sources: [[ShardSidecar.Source]]   // [split][source]
    private var warnings: [String] = []
    private var zeroTokenDocuments: [Int]   // documents the tokenizer turned into no tokens, per source

    init(config: DataPrepare.Config, encoder: E, files: [URL], outDir: URL) throws {
        self.config = config
        self.encoder = encoder
        self.eos = encoder.eosID!
        self.outDir = outDir
        train = try ShardWriter(url: outDir.appendingPathComponent("\(config.name).train.bin"),
                                vocabSize: encoder.vocabSize, dtype: config.dtype)
        val = config.valFraction > 0
            ? try ShardWriter(url: outDir.appendingPathComponent("\(config.name).val.bin"),
                              vocabSize: encoder.vocabSize, dtype: config.dtype)
            : nil
        let blank = files.map {
            ShardSidecar.Source(path: $0.path, sha256: "", format: "", documents: 0, tokens: 0,
                                emptyDocuments: 0, badLines: 0, emptyFile: false)
        }
        sources = [blank, blank]
        zeroTokenDocuments = [Int](repeating: 0, count: files.count)
    }

    mutating func process(file: URL, index: Int) throws {
        let format = config.reader.format.resolved(for: file)
        let stats = try DocumentReader.read(file, options: config.reader) { doc in
            let v = DataPrepare.isValidation(sourceIndex: index, documentIndex: doc.index,
                                             seed: config.seed, fraction: config.valFraction)
            pending.append(Pending(text: doc.text, source: index, validation: v))
            if pending.count >= config.batchDocuments { try flush() }
        }
        try flush()
        let sha = try SHA256.hex(fileAt: file)
        for s in 0..<2 {
            sources[s][index].sha256 = sha
            sources[s][index].format = format.rawValue
            sources[s][index].emptyDocuments = stats.emptyDocuments + zeroTokenDocuments[index]
            sources[s][index].badLines = stats.badLines
            sources[s][index].emptyFile = stats.emptyFile
        }
        if stats.emptyFile { warnings.append("\(file.path) holds no documents (empty file); skipped") }
    }

    private mutating func flush() throws {
        guard !pending.isEmpty else { return }
        let encoded = try encoder.encodeBatch(pending.map(\.text))
        guard encoded.count == pending.count else {
            throw StrataError(.state, "prepare data", "tokenizer returned \(encoded.count) results for \(pending.count) documents")
        }
        for (doc, tokens) in zip(pending, encoded) {
            let split = doc.validation ? 1 : 0
            if tokens.isEmpty { zeroTokenDocuments[doc.source] += 1; continue }
            let writer = doc.validation ? val! : train
            try writer.append(tokens)
            try writer.append(CollectionOfOne(eos))
            sources[split][doc.source].documents += 1
            sources[split][doc.source].tokens += tokens.count + 1
        }
        pending.removeAll(keepingCapacity: true)
    }

    mutating func finish() throws -> DataPrepare.Report {
        let trainSplit = try close(train, split: 0, name: "train")
        let valSplit = try val.map { try close($0, split: 1, name: "validation") }
        guard trainSplit.sidecar.documentCount + (valSplit?.sidecar.documentCount ?? 0) > 0 else {
            throw StrataError.data("prepare data", "no documents found in \(config.inputs.joined(separator: ", ")) (all files empty or all lines bad)",
                                   fix: "check the inputs and the JSONL field name (textField, CLI: --field)")
        }
        if let v = valSplit, v.sidecar.documentCount == 0 {
            warnings.append("the validation split is empty; use more documents or a larger val fraction")
        }
        let s = sources[0]
        return DataPrepare.Report(train: trainSplit, validation: valSplit,
                                  emptyDocuments: s.reduce(0) { $0 + $1.emptyDocuments },
                                  badLines: s.reduce(0) { $0 + $1.badLines },
                                  emptyFiles: s.filter(\.emptyFile).count, warnings: warnings)
    }

    private func close(_ w: ShardWriter, split: Int, name: String) throws -> DataPrepare.Split {
        let hash = try w.finish()
        let src = sources[split]
        let sidecar = ShardSidecar(shard: w.url.lastPathComponent, split: name, dtype: w.dtype, tokenCount: w.count,
                                   documentCount: src.reduce(0) { $0 + $1.documents }, tokensSHA256: hash,
                                   vocabSize: encoder.vocabSize, eosID: eos, tokenizerHash: encoder.hash,
                                   textField: config.reader.textField, valFraction: config.valFraction,
                                   seed: config.seed, sources: src)
        let url = w.url.deletingPathExtension().appendingPathExtension("json")
        try sidecar.write(to: url)
        return DataPrepare.Split(shardURL: w.url, sidecarURL: url, sidecar: sidecar)
    }
}
