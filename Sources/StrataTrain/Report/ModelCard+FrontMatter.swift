// The model card's YAML front matter, in the fields the Hugging Face Hub reads:
// library_name, pipeline_tag, tags (with every stage of the chain), base_model
// when the chain starts from an outside checkpoint named like a Hub repository,
// datasets whose names are Hub dataset ids, and model-index with the head
// checkpoint's recorded evaluations (one result per evaluation).
// Leaves out: license (Strata cannot know it), widget examples, co2 fields.

import Foundation
import StrataModel

extension ModelCard {
    /// The front matter as an ordered YAML document.
    public static func metadata(lineage: Lineage, config: JSONValue? = nil) throws -> YAMLNode {
        guard let head = lineage.head, let first = lineage.entries.first else { throw emptyLineage() }
        let isReward = isRewardModel(config), isEncoder = isMaskedLM(config)
        let task = isReward ? ("text-classification", "Text Classification") : isEncoder ? ("fill-mask", "Fill-Mask") : ("text-generation", "Text Generation")
        var pairs: [(String, YAMLNode)] = [("library_name", .string("strata")), ("pipeline_tag", .string(task.0))]
        var tags = ["strata", isEncoder ? "roberta" : "gpt2"]
        for e in lineage.entries where !tags.contains(e.stage.rawValue) { tags.append(e.stage.rawValue) }
        if isReward { tags.append("reward-model") }
        pairs.append(("tags", .list(tags.map(YAMLNode.string))))
        if case let .checkpoint(id, _) = first.parent, looksLikeHubID(id) { pairs.append(("base_model", .string(id))) }
        var datasets = [String]()
        for e in lineage.entries { for d in e.data where looksLikeHubID(d.name) && !datasets.contains(d.name) { datasets.append(d.name) } }
        if !datasets.isEmpty { pairs.append(("datasets", .list(datasets.map(YAMLNode.string)))) }
        let results = modelIndexResults(head, task: task)
        if !results.isEmpty {
            pairs.append(("model-index", .list([.map([("name", .string(head.checkpointID)), ("results", .list(results))])])))
        }
        return .map(pairs)
    }

    /// One model-index result per recorded evaluation of the checkpoint itself (not its "_before" measurements, not
    /// the reference model's), summary metrics only.
    static func modelIndexResults(_ head: LineageEntry, task: (type: String, name: String)) -> [YAMLNode] {
        head.evaluations.keys.sorted().filter { !$0.hasSuffix("_before") && !$0.hasPrefix("reference") }.compactMap { name -> YAMLNode? in
            let metrics = (head.evaluations[name] ?? [:]).filter { StageChange.countsAsChange($0.key) && $0.value.isFinite }
            guard !metrics.isEmpty else { return nil }
            let list = metrics.keys.sorted().map { key -> YAMLNode in
                .map([("type", .string(key)), ("value", .number(metrics[key]!)), ("name", .string("\(name): \(key)"))])
            }
            return .map([("task", .map([("type", .string(task.type)), ("name", .string(task.name))])),
                         ("dataset", .map([("name", .string(name)), ("type", .string("strata/\(name)"))])),
                         ("metrics", .list(list))])
        }
    }

    /// "owner/name" with Hub-legal characters, not a relative or absolute file path.
    static func looksLikeHubID(_ s: String) -> Bool {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !s.hasPrefix("."), !s.hasSuffix(".json"), !s.hasSuffix(".jsonl"), !s.hasSuffix(".bin") else { return false }
        let legal = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_."))
        return parts.allSatisfy { !$0.isEmpty && $0.unicodeScalars.allSatisfy(legal.contains) && !$0.hasPrefix(".") }
            && !parts[1].hasPrefix("step-")
    }

    /// A RoBERTa masked-LM encoder's config (model_type roberta): the card names it and its fill-mask task.
    static func isMaskedLM(_ config: JSONValue?) -> Bool { config?["model_type"]?.stringValue == ModelFamily.roberta.rawValue }

    static func isRewardModel(_ config: JSONValue?) -> Bool {
        let names = ModelFamily.allCases.map { JSONValue.string($0.sequenceClassificationArchitecture) }
        return config?["architectures"]?.arrayValue?.contains(where: names.contains) ?? false
    }
}
