// `strata eval` on a RoBERTa masked-LM checkpoint: masked-LM loss, perplexity and
// accuracy per validation shard (given as name=path, or the run's own
// <source>.val.bin), masked at MaskedLMEval's fixed seed so two evaluations agree,
// and over all shards together (weighted by scored positions); a table, JSON, and
// the flat metrics a checkpoint's evaluations record ("<source>.mlm_accuracy"...).
// Leaves out: probes, forgetting against a baseline, chat measures (decoders only).

import Foundation
import StrataCore
import StrataModel
import StrataData

extension MaskedLMEval {
    public struct Job: Sendable {
        public var checkpoint: URL
        /// Validation shards; empty uses the run's <source>.val.bin.
        public var data: [Evaluation.DataSpec] = []
        public var windows = 32
        /// Tokens per row (<s> and </s> included); nil = the encoder's positions.
        public var context: Int?
        public var batch = 8
        public init(checkpoint: URL) { self.checkpoint = checkpoint }
    }

    public struct Outcome: Sendable {
        public var label: String
        public var scores: [MaskedLMScore]
        /// Token-weighted loss and accuracy over every source ("all").
        public var overall: MaskedLMScore
        public var table: String

        /// Flat metrics for a checkpoint's evaluations: "<source>.mlm_loss" … and "all.mlm_loss" ….
        public var metrics: [String: Double] {
            var m: [String: Double] = [:]
            for s in scores + [overall] { for (k, v) in s.metrics { m["\(s.name).\(k)"] = v } }
            return m
        }
    }

    /// Evaluates the encoder checkpoint of `job` on its shards.
    public static func run(_ job: Job, log: (String) -> Void = { Console.line($0) }) throws -> Outcome {
        let ckpt = try EvalCheckpoint.load(job.checkpoint)
        guard let model = ckpt.model as? Roberta else {
            throw StrataError.config("eval", "\(job.checkpoint.path) is a \(ckpt.model.family.rawValue) model, not a masked-LM encoder",
                                     fix: "use strata eval's probe and loss measures for decoders")
        }
        let tokens = try MaskedLMTokens(tokenizer: ckpt.tokenizer, source: job.checkpoint.appendingPathComponent("tokenizer.json").path)
        var specs = job.data.map { ($0.name, URL(fileURLWithPath: $0.path)) }
        if specs.isEmpty { specs = ckpt.runValidationShards() }
        guard !specs.isEmpty else {
            throw StrataError.config("eval", "no validation shards were given or found beside \(job.checkpoint.path)",
                                     fix: "pass --data name=shard.bin (prepared with the checkpoint's tokenizer)")
        }
        log("validation shards: " + specs.map { "\($0.0)=\($0.1.path)" }.joined(separator: " "))
        let scores = try specs.map { name, url -> MaskedLMScore in
            let shard = try Shard(contentsOf: url)
            try Evaluation.checkTokenizer(shard, name: name, checkpoint: ckpt)
            return try evaluate(model: model, shard: shard, name: name, tokens: tokens, windows: job.windows, context: job.context,
                                batch: job.batch)
        }
        let overall = combined(scores)
        return Outcome(label: ckpt.label, scores: scores, overall: overall, table: table(ckpt.label, scores + [overall]))
    }

    /// Every source together, weighted by scored positions.
    static func combined(_ scores: [MaskedLMScore]) -> MaskedLMScore {
        let n = scores.reduce(0) { $0 + $1.tokens }
        let loss = scores.reduce(0.0) { $0 + $1.loss * Double($1.tokens) } / Double(n)
        let acc = scores.reduce(0.0) { $0 + $1.accuracy * Double($1.tokens) } / Double(n)
        return MaskedLMScore(name: "all", loss: loss, perplexity: Foundation.exp(loss), accuracy: acc, tokens: n,
                             windows: scores.reduce(0) { $0 + $1.windows }, context: scores.first?.context ?? 0)
    }

    static func table(_ label: String, _ rows: [MaskedLMScore]) -> String {
        var s = "masked-LM evaluation of \(label) (roberta encoder; fixed masking seed)\n"
        s += "source            masked   loss     ppl   accuracy\n"
        for r in rows {
            s += r.name.padding(toLength: max(16, r.name.count), withPad: " ", startingAt: 0)
                + String(format: " %7d  %6.3f  %6.1f    %5.1f%%\n", r.tokens, r.loss, r.perplexity, 100 * r.accuracy)
        }
        return s
    }
}
