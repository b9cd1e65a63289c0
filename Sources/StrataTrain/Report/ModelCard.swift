// ModelCard: a Hugging Face model card (README.md) written from a checkpoint's
// lineage and config — YAML front matter the Hub reads (ModelCard+FrontMatter),
// then a body that answers "trained how, starting from where?": the chain of
// stages with parents, references and data hashes, compute per stage and its
// share of the total, what each stage changed (capability/knowledge vs
// behaviour), the knowledge cutoff, and known limits. Every number comes from
// lineage.json. Leaves out: intended-use and license sections (a person writes those).

import Foundation
import StrataCore

public enum ModelCard {
    public static let fileName = "README.md"

    /// The whole card: front matter, then the body. Throws when the lineage is empty or its chain does not link up.
    public static func markdown(lineage: Lineage, config: JSONValue? = nil, links: [[ModelLink]]? = nil) throws -> String {
        try lineage.validate()
        guard let head = lineage.head else { throw emptyLineage() }
        let links = links ?? lineage.entries.map { ModelLink.links(of: $0, raw: nil) }
        var out = "---\n" + (try metadata(lineage: lineage, config: config)).text() + "---\n\n"
        out += "# \(head.checkpointID)\n\n" + overview(lineage, config: config) + "\n"
        out += "This card was written by Strata from the checkpoint's `lineage.json`; every number in it is read from there.\n\n"
        out += chainSection(lineage, links: links)
        out += computeSection(lineage)
        out += changesSection(lineage)
        out += cutoffSection(lineage)
        out += limitsSection(lineage)
        return out
    }

    /// Writes README.md into the checkpoint directory `dir` (from its lineage.json, evaluations.json and config.json);
    /// returns the file written. `output` overrides the destination.
    @discardableResult
    public static func write(checkpoint dir: URL, to output: URL? = nil) throws -> URL {
        let c = try CheckpointLineage.read(directory: dir)
        let url = output ?? dir.appendingPathComponent(fileName)
        let text = try markdown(lineage: c.lineage, config: c.config, links: c.links())
        do { try Data(text.utf8).write(to: url, options: .atomic) } catch {
            throw StrataError.io("write model card \(url.path)", error.localizedDescription, fix: "check that the directory is writable")
        }
        return url
    }

    static func emptyLineage() -> StrataError {
        StrataError.format("write model card", "lineage.json has no entries, so there is no training history to describe",
                           fix: "write the card for a checkpoint produced by a Strata stage")
    }

    /// "A GPT-2 … trained from … in N stages: a → b."
    static func overview(_ lineage: Lineage, config: JSONValue?) -> String {
        var model = isRewardModel(config) ? "A GPT-2 reward model (GPT2ForSequenceClassification)" : "A GPT-2 language model"
        if let c = config, isMaskedLM(c) {   // the encoder: its own fields; context = positions after the pad id
            model = "A RoBERTa masked-LM encoder (RobertaForMaskedLM)"
            if let l = c["num_hidden_layers"]?.intValue, let d = c["hidden_size"]?.intValue, let h = c["num_attention_heads"]?.intValue {
                model += " with \(l) layers, width \(d), \(h) heads"
            }
            if let p = c["max_position_embeddings"]?.intValue { model += ", rows of \(p - (c["pad_token_id"]?.intValue ?? 1) - 1) tokens" }
            if let v = c["vocab_size"]?.intValue { model += ", vocabulary \(v)" }
        } else if let c = config, c["model_type"]?.stringValue == "llama" {   // a Llama names its family and shape in its own fields
            model = isRewardModel(config) ? "A Llama reward model (LlamaForSequenceClassification)" : "A Llama language model (LlamaForCausalLM)"
            if let l = c["num_hidden_layers"]?.intValue, let d = c["hidden_size"]?.intValue, let h = c["num_attention_heads"]?.intValue {
                model += " with \(l) layers, width \(d), \(h) heads (\(c["num_key_value_heads"]?.intValue ?? h) key/value)"
            }
            if let p = c["max_position_embeddings"]?.intValue { model += ", context \(p)" }
            if let v = c["vocab_size"]?.intValue { model += ", vocabulary \(v)" }
        } else if let c = config, let l = c["n_layer"]?.intValue, let d = c["n_embd"]?.intValue, let h = c["n_head"]?.intValue {
            model += " with \(l) layers, width \(d), \(h) heads"
            if let p = c["n_positions"]?.intValue { model += ", context \(p)" }
            if let v = c["vocab_size"]?.intValue { model += ", vocabulary \(v)" }
        }
        let first = lineage.entries[0]
        let origin = first.parent == .randomInit ? "from random initialisation" : "from the outside checkpoint \(idAndHash(first.parent))"
        let n = lineage.entries.count
        return "\(model), trained with Strata \(origin) in \(n) stage\(n == 1 ? "" : "s"): "
            + lineage.entries.map(\.stage.rawValue).joined(separator: " → ") + ".\n"
    }

    static func idAndHash(_ p: ParentRef) -> String {
        switch p {
        case .randomInit: return "random initialisation"
        case let .checkpoint(id, sha): return "`\(id)` (sha256 `\(sha)`)"
        }
    }

    static func pct(_ part: Double, of total: Double) -> String {
        total > 0 ? String(format: "%.1f%%", 100 * part / total) : "—"
    }

    static func number(_ x: Double) -> String { String(format: "%.4g", x) }
    static func signed(_ x: Double) -> String { String(format: "%+.4g", x) }
}
