// Model cards: the body's numbers (compute per stage and shares, evaluation
// changes) equal the lineage's; the front matter carries stages, base_model only
// for an outside Hub checkpoint, Hub dataset ids, model-index from the head's
// evaluations, and equals what huggingface_hub parsed from the committed fixture
// card (tools/fixtures/card_frontmatter.py); the cutoff and limits sections say
// what the evaluations support; bad input throws naming the problem.
import XCTest
import StrataCore
@testable import StrataTrain
import StrataTestSupport

final class ModelCardTests: XCTestCase {
    static let sha = String(repeating: "0f", count: 32)

    func data(_ name: String, _ file: String, _ tokens: Int) -> DataRecord {
        DataRecord(name: name, path: "world/\(file)", sha256: String(repeating: "e1", count: 32), tokens: tokens)
    }

    func parent(_ id: String) -> ParentRef { .checkpoint(id: id, sha256: ModelCardTests.sha) }

    /// pretrain → continue → sft → dpo, with evaluations on each and before/after measurements in sft and dpo.
    func chain(start: ParentRef = .randomInit) throws -> Lineage {
        let probes = { (b: Double, a: Double, general: Double) in
            ["probe_acc.before": b, "probe_acc.after": a, "probe_acc": (a + b) / 2, "probe_chance": 0.25, "probe_count": 400, "val_loss.general": general]
        }
        let pre = LineageEntry(stage: .pretrain, checkpointID: "pretrain/step-0000600", parent: start,
                               data: [data("general", "before_cutoff.jsonl", 1_228_800), data("textbook", "textbook.jsonl", 136_000)],
                               compute: ComputeRecord(flops: 7.1e12, wallSeconds: 212.4, tokens: 1_364_800),
                               evaluations: ["demo_eval": probes(0.392, 0.276, 0.803)], created: "2026-01-01T00:00:00Z")
        let cont = LineageEntry(stage: .continue, checkpointID: "continue/step-0000200", parent: parent(pre.checkpointID),
                                data: [data("after", "after_cutoff.jsonl", 409_600)],
                                compute: ComputeRecord(flops: 2.3e12, wallSeconds: 70.25, tokens: 409_600),
                                evaluations: ["demo_eval": probes(0.282, 0.811, 3.39)], created: "2026-01-01T01:00:00Z")
        let sft = LineageEntry(stage: .sft, checkpointID: "sft/step-0000300", parent: parent(cont.checkpointID),
                               data: [data("sft", "sft_before_cutoff.jsonl", 96_000)],
                               compute: ComputeRecord(flops: 5.5e11, wallSeconds: 40, tokens: 96_000),
                               evaluations: ["instruction_before": ["instr_acc": 0, "instr_format": 0, "instr_count": 200],
                                             "instruction": ["instr_acc": 0.055, "instr_format": 0.97, "instr_acc.fact.before": 0.0, "instr_count": 200],
                                             "demo_eval": probes(0.344, 0.307, 4.47)], created: "2026-01-01T02:00:00Z")
        var dpo = LineageEntry(stage: .dpo, checkpointID: "dpo/step-0000150", parent: parent(sft.checkpointID),
                               data: [data("preferences", "preferences.jsonl", 30_000)],
                               recipe: .object(["preference": .object(["loss": .string("dpo"), "beta": .number(0.1)])]),
                               compute: ComputeRecord(flops: 4.0e11, wallSeconds: 35.5, tokens: 30_000),
                               evaluations: ["behaviour_before": ["behav_refusal": 0, "behav_over_refusal": 0],
                                             "behaviour": ["behav_refusal": 1.0, "behav_over_refusal": 0.016, "behav_count.benign": 64]],
                               created: "2026-01-01T03:00:00Z")
        dpo.reference = parent(sft.checkpointID)
        return try Lineage().appending(pre).appending(cont).appending(sft).appending(dpo)
    }

    /// Rows of the Markdown table under `heading`, cells trimmed, header and rule left out.
    func table(_ card: String, under heading: String) -> [[String]] {
        guard let start = card.range(of: heading) else { return [] }
        let lines = card[start.upperBound...].split(separator: "\n", omittingEmptySubsequences: false)
        let rows = lines.drop { !$0.hasPrefix("|") }.prefix { $0.hasPrefix("|") }
        return rows.dropFirst(2).map { $0.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
            .map { $0.trimmingCharacters(in: .whitespaces) } }
    }

    func testComputeTableEqualsLineage() throws {
        let l = try chain()
        let card = try ModelCard.markdown(lineage: l)
        let rows = table(card, under: "## Compute")
        XCTAssertEqual(rows.count, l.entries.count + 1)
        let total = l.head!.compute
        for (row, e) in zip(rows, l.entries) {
            XCTAssertEqual(row[0], e.stage.rawValue)
            XCTAssertEqual(row[1], "`\(e.checkpointID)`")
            XCTAssertEqual(Int(row[2]), e.compute.tokens)
            XCTAssertEqual(Double(row[3])!, e.compute.flops, accuracy: e.compute.flops * 1e-3)
            XCTAssertEqual(Double(row[4])!, e.compute.wallSeconds, accuracy: 0.05)
            let shares = [Double(e.compute.tokens) / Double(total.cumulativeTokens), e.compute.flops / total.cumulativeFLOPs,
                          e.compute.wallSeconds / total.cumulativeWallSeconds]
            for (cell, share) in zip(row[5...7], shares) { XCTAssertEqual(Double(cell.dropLast())!, 100 * share, accuracy: 0.05, "\(row)") }
        }
        XCTAssertEqual(Int(rows.last![2]), total.cumulativeTokens)
        XCTAssertEqual(Double(rows.last![3])!, total.cumulativeFLOPs, accuracy: total.cumulativeFLOPs * 1e-3)
        // Pretraining-level vs post-training FLOPs, stated in numbers.
        let pre = l.entries.prefix(2).map(\.compute.flops).reduce(0, +), post = l.entries.suffix(2).map(\.compute.flops).reduce(0, +)
        XCTAssertTrue(card.contains(String(format: "took %.1f%% of the FLOPs, post-training stages %.1f%%", 100 * pre / total.cumulativeFLOPs,
                                           100 * post / total.cumulativeFLOPs)), card)
    }

    func testChangeTablesEqualLineageEvaluations() throws {
        let l = try chain()
        let card = try ModelCard.markdown(lineage: l)
        let capability = table(card, under: "### Capability and knowledge"), behaviour = table(card, under: "### Behaviour")
        XCTAssertFalse(capability.isEmpty)
        XCTAssertFalse(behaviour.isEmpty)
        for (rows, kind) in [(capability, ClaimKind.capability), (behaviour, .behaviour)] {
            for row in rows {
                let id = try XCTUnwrap(row[0].components(separatedBy: "`").dropFirst().first)
                let i = try XCTUnwrap(l.entries.firstIndex { $0.checkpointID == id })
                let (name, metric) = (row[1], row[2])
                let after = try XCTUnwrap(l.entries[i].evaluations[name]?[metric])
                let before = try XCTUnwrap(l.entries[i].evaluations[name + "_before"]?[metric] ?? l.entries[i - 1].evaluations[name]?[metric])
                XCTAssertEqual(Double(row[3])!, before, accuracy: max(1e-9, abs(before) * 1e-3), "\(row)")
                XCTAssertEqual(Double(row[4])!, after, accuracy: max(1e-9, abs(after) * 1e-3), "\(row)")
                XCTAssertEqual(Double(row[5])!, after - before, accuracy: max(1e-9, abs(after - before) * 1e-3), "\(row)")
                XCTAssertEqual(ClaimKind.of(evaluation: name, metric: metric), kind)
            }
        }
        // Attributions: the continue stage raised after-cutoff probes against its parent; SFT's format came from SFT itself.
        XCTAssertTrue(capability.contains { $0[0].hasPrefix("continue") && $0[2] == "probe_acc.after" && $0[6] == "parent checkpoint" })
        XCTAssertTrue(behaviour.contains { $0[0].hasPrefix("sft") && $0[2] == "instr_format" && $0[5] == "+0.97" && $0[6] == "before this stage" })
        XCTAssertTrue(behaviour.contains { $0[0].hasPrefix("dpo") && $0[2] == "behav_refusal" })
        XCTAssertFalse((capability + behaviour).contains { $0[2].contains("count") || $0[2] == "probe_chance" })
    }

    func testValidationLossComparesOnlyBetweenPretrainingLevelStagesAndNotAcrossSources() throws {
        var l = try chain()
        l.entries[0].evaluations["validation_loss"] = ["general": 0.8, "all": 0.8]
        l.entries[1].evaluations["validation_loss"] = ["general": 3.3, "after": 0.5, "all": 1.9]
        l.entries[2].evaluations["validation_loss"] = ["all": 1.2]   // SFT: loss on its own chat split
        let changes = StageChange.along(l).filter { $0.evaluation == "validation_loss" }
        XCTAssertEqual(changes.map(\.metric), ["general"], "per source between pretrain and continue only")
        XCTAssertEqual(changes.first?.delta ?? 0, 2.5, accuracy: 1e-12)
        XCTAssertEqual(changes.first?.stage, .continue)
    }

    func testContinuedStageSettingsLeaveOutTheUnusedModelSection() throws {
        var l = try chain()
        let model: JSONValue = .object(["n_layer": .number(4), "n_embd": .number(128), "n_head": .number(4)])
        for i in l.entries.indices { l.entries[i].recipe = .object(["model": model, "train": .object(["steps": .number(10)])]) }
        let card = try ModelCard.markdown(lineage: l)
        XCTAssertEqual(card.components(separatedBy: "4 layers × d 128").count - 1, 1, "only pretrain, which built the model, states its shape")
    }

    func testChainNamesParentsReferenceAndDataWithFullHashes() throws {
        let card = try ModelCard.markdown(lineage: try chain())
        XCTAssertTrue(card.contains("started from: random initialisation"))
        XCTAssertTrue(card.contains("started from: `sft/step-0000300` (sha256 `\(ModelCardTests.sha)`)"))
        XCTAssertTrue(card.contains("reference model (frozen): `sft/step-0000300`"))
        XCTAssertTrue(card.contains("data: after — `world/after_cutoff.jsonl`, 409600 tokens, sha256 `\(String(repeating: "e1", count: 32))`"))
        XCTAssertTrue(card.contains("preference.loss dpo, preference.beta 0.1"), card)
    }

    func testFrontMatterCarriesStagesEvaluationsAndNoBaseModelFromRandomInit() throws {
        let l = try chain()
        let meta = try ModelCard.metadata(lineage: l).json
        XCTAssertEqual(meta["library_name"], .string("strata"))
        XCTAssertEqual(meta["tags"], .array(["strata", "gpt2", "pretrain", "continue", "sft", "dpo"].map(JSONValue.string)))
        XCTAssertNil(meta["base_model"])
        XCTAssertNil(meta["datasets"], "local source names are not Hub datasets")
        let results = try XCTUnwrap(meta["model-index"]?.arrayValue?.first?["results"]?.arrayValue)
        XCTAssertEqual(results.count, 1, "only the head's own evaluation (behaviour), not its _before")
        let metrics = try XCTUnwrap(results[0]["metrics"]?.arrayValue)
        XCTAssertEqual(Set(metrics.compactMap { $0["type"]?.stringValue }), ["behav_refusal", "behav_over_refusal"])
        XCTAssertEqual(metrics.first { $0["type"] == .string("behav_over_refusal") }?["value"], .number(0.016))
    }

    func testOutsideHubCheckpointBecomesBaseModelAndHubDataBecomesDatasets() throws {
        var l = try chain(start: .checkpoint(id: "openai-community/gpt2", sha256: ModelCardTests.sha))
        l.entries[0].data.append(DataRecord(name: "HuggingFaceFW/fineweb-edu", path: "fineweb.jsonl", sha256: "aa", tokens: 5))
        let meta = try ModelCard.metadata(lineage: l).json
        XCTAssertEqual(meta["base_model"], .string("openai-community/gpt2"))
        XCTAssertEqual(meta["datasets"], .array([.string("HuggingFaceFW/fineweb-edu")]))
        let local = try chain(start: .checkpoint(id: "/models/gpt2-local", sha256: ModelCardTests.sha))
        XCTAssertNil(try ModelCard.metadata(lineage: local).json["base_model"], "a local path is not a Hub id")
        XCTAssertTrue(try ModelCard.markdown(lineage: local).contains("from the outside checkpoint `/models/gpt2-local`"))
    }

    func testFrontMatterMatchesWhatHuggingfaceHubParsed() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for name in ["from-random-init", "from-hub"] {
            let fixture = root.appendingPathComponent("tools/fixtures/card/\(name)")
            let c = try CheckpointLineage.load(fixture.path)
            let parsed = try StrataJSON.read(JSONValue.self, at: fixture.appendingPathComponent("frontmatter.parsed.json"))
            let meta = try ModelCard.metadata(lineage: c.lineage, config: c.config)
            XCTAssertEqual(meta.json, parsed["metadata"], "\(name): huggingface_hub read different metadata than Strata wrote")
            let indexed = meta.json["model-index"]?.arrayValue?.first?["results"]?.arrayValue?.flatMap { $0["metrics"]?.arrayValue ?? [] }
            XCTAssertEqual(parsed["eval_results"]?.arrayValue?.count, indexed?.count, "\(name): every model-index metric became an EvalResult")
            XCTAssertGreaterThan(indexed?.count ?? 0, 0)
            XCTAssertEqual(parsed["card_data"]?["library_name"], .string("strata"))
            // The committed card is the one this code writes (else rerun tools/fixtures/card_frontmatter.py).
            let committed = try String(contentsOf: fixture.appendingPathComponent("README.md"), encoding: .utf8)
            let current = try ModelCard.markdown(lineage: c.lineage, config: c.config, links: c.links())
            XCTAssertEqual(committed.components(separatedBy: "\n---\n")[0], current.components(separatedBy: "\n---\n")[0],
                           "\(name): the committed card is stale; rerun tools/fixtures/card_frontmatter.py")
        }
        let hub = try StrataJSON.read(JSONValue.self, at: root.appendingPathComponent("tools/fixtures/card/from-hub/frontmatter.parsed.json"))
        XCTAssertEqual(hub["card_data"]?["base_model"], .string("openai-community/gpt2"))
        XCTAssertEqual(hub["card_data"]?["datasets"], .array([.string("HuggingFaceFW/fineweb-edu")]))
        let scratch = try StrataJSON.read(JSONValue.self, at: root.appendingPathComponent("tools/fixtures/card/from-random-init/frontmatter.parsed.json"))
        XCTAssertEqual(scratch["card_data"]?["base_model"], .null)
    }

    func testRealCardNumbersEqualItsLineage() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let c = try CheckpointLineage.load(root.appendingPathComponent("tools/fixtures/card/from-random-init").path)
        let card = try ModelCard.markdown(lineage: c.lineage, config: c.config, links: c.links())
        let rows = table(card, under: "## Compute")
        XCTAssertEqual(rows.count, c.lineage.entries.count + 1)
        for (row, e) in zip(rows, c.lineage.entries) {
            XCTAssertEqual(Int(row[2]), e.compute.tokens)
            XCTAssertEqual(Double(row[4])!, e.compute.wallSeconds, accuracy: 0.05)
        }
        for row in table(card, under: "### Capability and knowledge") + table(card, under: "### Behaviour") {
            let id = try XCTUnwrap(row[0].components(separatedBy: "`").dropFirst().first)
            let e = try XCTUnwrap(c.lineage.entries.first { $0.checkpointID == id })
            let after = try XCTUnwrap(e.evaluations[row[1]]?[row[2]], "\(row)")
            XCTAssertEqual(Double(row[4])!, after, accuracy: max(1e-9, abs(after) * 1e-3), "\(row)")
        }
        XCTAssertTrue(card.contains("2 layers, width 32, 2 heads, context 64, vocabulary 302"), "from config.json")
    }

    func testCutoffSectionStatesPeriodsProbesAndPostTrainingData() throws {
        let card = try ModelCard.markdown(lineage: try chain())
        let section = try XCTUnwrap(card.components(separatedBy: "## Knowledge cutoff").dropFirst().first?.components(separatedBy: "## ")[0])
        XCTAssertTrue(section.contains("reaches past the cutoff: after in continue"), section)
        XCTAssertTrue(section.contains("Period not recorded for: textbook in pretrain"), section)
        XCTAssertTrue(section.contains("accuracy 34.4% on facts before the cutoff, 30.7% on facts after it"), section)
        XCTAssertTrue(section.contains("the period of preferences in dpo is not recorded"), section)
        var l = try chain()
        l.entries[2].data.append(data("news-chat", "sft_after_cutoff.jsonl", 10))
        let past = try ModelCard.markdown(lineage: l)
        XCTAssertTrue(past.contains("Post-training data lies past the cutoff: news-chat in sft."), past)
    }

    func testKnownLimitsComeFromMeasurements() throws {
        let card = try ModelCard.markdown(lineage: try chain())
        XCTAssertTrue(card.contains("fact questions are answered right far less often (before 0.0%)"), card)
        XCTAssertTrue(card.contains("refuses 1.6% of benign requests"), card)
        XCTAssertTrue(card.contains("sft (`sft/step-0000300`) cost raw-text modelling: validation loss rose by general +1.080"), card)
        let rm = LineageEntry(stage: .reward, checkpointID: "reward/step-0000150", parent: parent("pretrain/step-0000600"),
                              compute: ComputeRecord(flops: 1, wallSeconds: 1, tokens: 1),
                              evaluations: ["reward_eval": ["accuracy": 0.796, "accuracy.wrong_fact": 0.493, "accuracy.hedging": 1.0]])
        let l = try Lineage(entries: [try chain().entries[0]]).appending(rm)
        let limits = KnownLimits.find(in: l)
        XCTAssertEqual(limits.filter { $0.contains("at chance") }.count, 1, "\(limits)")
        XCTAssertTrue(limits.contains { $0.contains("`wrong_fact` pairs: held-out accuracy 49.3%") }, "\(limits)")
        XCTAssertEqual(try ModelCard.metadata(lineage: l, config: .object(["architectures": .array([.string("GPT2ForSequenceClassification")])]))
                        .json["pipeline_tag"], .string("text-classification"))
    }

    func testTheCardSaysWhichStageRefusalsComeFromAndHowTheyHoldUnderAttackAndBenignFineTuning() throws {
        var l = try chain()
        let i = l.entries.count - 1
        l.entries[i].evaluations["behaviour_before"] = ["behav_refusal": 0.05]
        l.entries[i].evaluations["behaviour"] = ["behav_refusal": 0.95, "behav_over_refusal": 0]
        l.entries[i].evaluations["safety"] = ["safety_refusal.plain": 0.9, "safety_refusal.roleplay": 0.38, "safety_refusal.prefix": 0.85,
                                              "safety_attack_success": 0.4, "safety_brittle_refusal": 0.45, "safety_brittle_steps": 10]
        let limits = KnownLimits.find(in: l).joined(separator: "\n")
        XCTAssertTrue(limits.contains("Refusals of harmful requests come from dpo (`dpo/step-0000150`): 5.0% before the stage, 95.0% after"), limits)
        XCTAssertTrue(limits.contains("refuses 90.0% of plain harmful requests but fewer under other framings (roleplay 38.0%)"), limits)
        XCTAssertFalse(limits.contains("prefix 85.0%"), "a family within 10 points of plain is not called out")
        XCTAssertTrue(limits.contains("fine-tuned for 10 steps on benign chats refuses 45.0% of plain harmful requests (was 90.0%)"), limits)
        XCTAssertTrue(try ModelCard.markdown(lineage: l).contains("40.0% of attacks succeed"))
    }

    func testEmptyOrBrokenLineageThrowsNamingTheProblem() throws {
        XCTAssertThrowsError(try ModelCard.markdown(lineage: Lineage())) { e in
            XCTAssertTrue("\(e)".contains("lineage.json has no entries") && "\(e)".contains("fix:"), "\(e)")
        }
        var l = try chain()
        l.entries[2].parent = parent("elsewhere")
        XCTAssertThrowsError(try ModelCard.markdown(lineage: l)) { e in XCTAssertTrue("\(e)".contains("entries[2]"), "\(e)") }
    }

    func testCheckpointLineageLoadsNewestCheckpointOfARunAndExplainsMissingOnes() throws {
        let dir = try scratchDirectory()
        let l = try chain()
        for (i, step) in ["step-0000100", "step-0000200"].enumerated() {
            let ckpt = dir.appendingPathComponent("run/checkpoints/\(step)")
            try FileManager.default.createDirectory(at: ckpt, withIntermediateDirectories: true)
            try Lineage(entries: Array(l.entries.prefix(i + 1))).write(to: ckpt.appendingPathComponent(Lineage.fileName))
        }
        try StrataJSON.encode(["instruction": ["instr_acc": 0.5]]).write(to: dir.appendingPathComponent("run/checkpoints/step-0000200/evaluations.json"))
        let c = try CheckpointLineage.load(dir.appendingPathComponent("run").path)
        XCTAssertEqual(c.directory.lastPathComponent, "step-0000200")
        XCTAssertEqual(c.lineage.entries.count, 2)
        XCTAssertEqual(c.lineage.head?.evaluations["instruction"], ["instr_acc": 0.5], "recorded evaluations merged")
        XCTAssertThrowsError(try CheckpointLineage.load(dir.appendingPathComponent("missing").path)) { e in
            XCTAssertTrue("\(e)".contains("no such file") && "\(e)".contains("fix:"), "\(e)")
        }
        XCTAssertThrowsError(try CheckpointLineage.load(dir.path)) { e in XCTAssertTrue("\(e)".contains("no lineage.json"), "\(e)") }
    }

    func testYAMLScalarsReadBackAsTheirTypes() {
        XCTAssertEqual(YAMLNode.float(1e-05), "1.0e-05")
        XCTAssertEqual(YAMLNode.float(2e20), "2.0e+20")
        XCTAssertEqual(YAMLNode.float(3), "3.0")
        XCTAssertEqual(YAMLNode.float(0.016), "0.016")
        XCTAssertEqual(YAMLNode.quote("a \"b\"\n\\ é"), "\"a \\\"b\\\"\\n\\\\ é\"")
        let doc = YAMLNode.map([("model-index", .list([.map([("a", .int(1)), ("b c", .list([]))]), .string("x")]))])
        XCTAssertEqual(doc.text(), "model-index:\n- a: 1\n  \"b c\": []\n- \"x\"\n")
    }
}
