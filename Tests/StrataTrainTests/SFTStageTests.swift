// The SFT stage end to end on a tiny model: chat tokens added and recorded,
// lineage (stage, parent, data hash, template, instruction accuracy before and
// after), held-out loss falling, LoRA checkpoints that load as plain GPT-2s,
// bit-exact resume (full and LoRA), long samples dropped and counted, an
// all-masked step skipped, packed losses equal to separate runs, recipe errors.

import XCTest
import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataTokenizer
import StrataCheckpoint
import StrataEval
@testable import StrataTrain

final class SFTStageTests: WorldTestCase {
    func baseCheckpoint() throws -> TrainingCheckpoint.Loaded {
        let text = """
        model: {n_layer: 2, n_head: 2, n_embd: 32, n_positions: 96, vocab_size: from_tokenizer}
        tokenizer: {train: {vocab_size: 400}}
        data:
          sources:
            - {name: world, path: \(dir.path)/world/before_cutoff.jsonl, weight: 1.0}
          validation: {fraction: 0.05}
        train: {batch_size: 4, context: 64, steps: 6, eval_interval: 6, eval_batches: 1, checkpoint_interval: 6, keep_last: 2, log_interval: 100, seed: 7}
        optim: {lr: 3.0e-3, min_lr: 3.0e-4, warmup_steps: 1}
        run: {dir: \(dir.path)/runs, name: base}
        """
        let url = dir.appendingPathComponent("base.yaml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return try TrainingCheckpoint.load(try Pretrain.run(config(url.path)).lastCheckpoint!)
    }

    /// Training conversations from the world's train split, as TRL "messages" JSONL.
    func sftData(perKind: Int = 12, extraLines: [String] = []) throws -> URL {
        let qa = try ChatStage.readQA(dir.appendingPathComponent("world/qa.jsonl"))
        let text = try InstructionTasks.trlJSONL(InstructionTasks.training(qa: qa, seed: 1, perKind: perKind)) + extraLines.map { $0 + "\n" }.joined()
        let url = dir.appendingPathComponent("sft.jsonl")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func sftRecipe(name: String, steps: Int = 8, sft: String = "", context: Int = 64, checkpointEvery: Int = 4,
                   validationFraction: Double = 0.2) throws -> String {
        let text = """
        train: {batch_size: 4, context: \(context), steps: \(steps), eval_interval: 4, eval_batches: 2, checkpoint_interval: \(checkpointEvery), keep_last: 4, log_interval: 100, seed: 5}
        optim: {lr: 2.0e-3, min_lr: 2.0e-4, warmup_steps: 1}
        run: {dir: \(dir.path)/runs, name: \(name)}
        sft:
          train: \(dir.path)/sft.jsonl
          validation_fraction: \(validationFraction)
        \(sft)
        """
        let url = dir.appendingPathComponent("\(name).yaml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func sftConfig(_ recipe: String?, from: String? = nil, resume: String? = nil) -> RunOptions {
        var c = RunOptions(from: from, recipeFile: recipe, resume: resume)
        c.log = { _ in }; c.showProgress = false
        return c
    }

    func testSFTGrowsVocabularyRecordsTemplateAndLineage() throws {
        let base = try baseCheckpoint()
        _ = try sftData()
        let evalSection = "  eval: {qa: \(dir.path)/world/qa.jsonl, per_kind: 2, max_new_tokens: 8}"
        let out = try SFT.run(sftConfig(try sftRecipe(name: "sft", sft: evalSection), from: base.checkpoint.url.path))
        let ckpt = out.lastCheckpoint!
        let loaded = try TrainingCheckpoint.load(ckpt)
        XCTAssertEqual(loaded.model.vocabSize, base.model.vocabSize + 2)
        XCTAssertNotNil(loaded.tokenizer.id(forSpecial: "<|im_start|>"))
        let hf = try StrataJSON.read(HFTokenizerConfig.self, at: ckpt.url(for: "tokenizer_config.json"))
        XCTAssertEqual(hf.chat_template, ChatTemplate.chatML.jinja)
        XCTAssertNotNil(ckpt.manifest.files["tokenizer_config.json"], "tokenizer_config.json is covered by the manifest")
        let head = loaded.lineage.head!
        XCTAssertEqual(loaded.lineage.entries.map(\.stage.rawValue), ["pretrain", "sft"])
        XCTAssertEqual(head.parent, .checkpoint(id: base.id, sha256: base.contentHash))
        XCTAssertEqual(head.data.first?.sha256, try SHA256.hex(fileAt: dir.appendingPathComponent("sft.jsonl")))
        XCTAssertEqual(head.recipe.value(at: "sft.template")?.stringValue, "chatml")
        XCTAssertNotNil(head.evaluations["instruction_before"]?["instr_acc"])
        XCTAssertNotNil(head.evaluations["instruction"]?["instr_acc"])
        XCTAssertEqual(head.evaluations["instruction"]?["instr_count"], 12, "2 per kind; fact questions 2 per period")
        XCTAssertTrue(head.events.contains { $0.kind.rawValue == "vocabulary" })
        XCTAssertNotNil(head.evaluations["validation_loss"]?["sft"])
        // A chat session opens on it without adding tokens again.
        let (session, notices) = try ChatSession.open(checkpoint: ckpt.url.path, config: ChatConfig(maxNewTokens: 16))
        XCTAssertEqual(session.model.vocabSize, loaded.model.vocabSize)
        XCTAssertFalse(notices.contains { $0.contains("added") }, "\(notices)")
    }

    func testHeldOutLossFalls() throws {
        let base = try baseCheckpoint()
        _ = try sftData(perKind: 20)
        let out = try SFT.run(sftConfig(try sftRecipe(name: "fall", steps: 24, context: 96, checkpointEvery: 24), from: base.checkpoint.url.path))
        let metrics = try String(contentsOf: runDir("fall").appendingPathComponent("metrics.jsonl"), encoding: .utf8)
        let vals = metrics.split(separator: "\n").compactMap { line -> Double? in
            guard let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return obj["val_loss"] as? Double
        }
        XCTAssertGreaterThanOrEqual(vals.count, 2)
        XCTAssertLessThan(vals.last!, vals.first! - 0.3, "held-out assistant-token loss should fall: \(vals)")
        XCTAssertEqual(out.step, 24)
    }

    func testResumeIsBitExact() throws {
        try resumeCheck(sft: "", name: "full")
    }

    func testLoRAResumeIsBitExact() throws {
        try resumeCheck(sft: "  lora: {r: 4, alpha: 8, dropout: 0.0, target_modules: [c_attn, c_fc]}", name: "lora")
    }

    func resumeCheck(sft: String, name: String) throws {
        let base = try baseCheckpoint()
        _ = try sftData()
        let from = base.checkpoint.url.path
        try assertResumeIsBitExact(steps: 8, stopAtBatch: 4,
            straight: { try SFT.run(sftConfig(try sftRecipe(name: name + "-a", sft: sft), from: from)) },
            interrupted: { hooks in
                var c = sftConfig(try sftRecipe(name: name + "-b", sft: sft), from: from)
                c.interrupt = hooks.interrupt; c.inject = hooks.inject
                return try SFT.run(c)
            },
            resume: { try SFT.run(sftConfig(nil, resume: runDir(name + "-b").path)) })
    }

    func testLoRACheckpointHoldsMergedWeightsAndAdapter() throws {
        let base = try baseCheckpoint()
        _ = try sftData()
        let lora = "  lora: {r: 4, alpha: 8, dropout: 0.0, target_modules: [c_attn]}"
        let out = try SFT.run(sftConfig(try sftRecipe(name: "lora", steps: 4, sft: lora), from: base.checkpoint.url.path))
        let ckpt = out.lastCheckpoint!
        for f in [LoRA.checkpointWeightsFile, LoRA.checkpointConfigFile, LoRA.baseFile] { XCTAssertNotNil(ckpt.manifest.files[f], f) }
        // No file transformers would mistake for an adapter to apply on top of the merged weights.
        XCTAssertNil(ckpt.manifest.files[LoRA.configFile])
        let merged = try GPT2.load(directory: ckpt.url)          // a plain GPT-2, as transformers would load it
        let grownBase = try base.model.resizingVocabulary(to: merged.config.vocabSize)
        let adapted = try GPT2.load(directory: ckpt.url)
        try LoRA.restoreBaseAndAttach(adapted, checkpoint: ckpt.url)
        // Only c_attn weights moved; everything else equals the (grown) parent.
        for (p, q) in zip(merged.parameters, grownBase.parameters) {
            let same = (0..<p.count).allSatisfy { p.ptr[$0] == q.ptr[$0] }
            XCTAssertEqual(same, !p.name!.hasSuffix("c_attn.weight"), p.name!)
        }
        // Merged logits equal base + adapter logits.
        let ids: [Int32] = [5, 17, 42, 7, 99, 3]
        let l1 = merged.logits(merged.hidden(ids, batch: 1, time: 6, tape: .noGrad()), tape: .noGrad())
        let l2 = adapted.logits(adapted.hidden(ids, batch: 1, time: 6, tape: .noGrad()), tape: .noGrad())
        for i in 0..<l1.count { XCTAssertEqual(l1.ptr[i], l2.ptr[i], accuracy: 1e-4) }
    }

    func testLongSamplesAreDroppedAndCounted() throws {
        let base = try baseCheckpoint()
        let long = String(repeating: "word ", count: 200)
        _ = try sftData(extraLines: ["{\"prompt\": \"\(long)\", \"completion\": \"yes\"}"])
        let out = try SFT.run(sftConfig(try sftRecipe(name: "long", steps: 2, checkpointEvery: 2, validationFraction: 0),
                                        from: base.checkpoint.url.path))
        let loaded = try TrainingCheckpoint.load(out.lastCheckpoint!)
        // Count independently: render every record with the checkpoint's tokenizer and compare with the context.
        let chat = try InstructionEval.chatTokenizer(loaded.tokenizer)
        let rendered = try SFTDataset.load(dir.appendingPathComponent("sft.jsonl")).render(.chatML, chat)
        let tooLong = rendered.filter { $0.count > 64 }.count
        XCTAssertGreaterThanOrEqual(tooLong, 1)
        XCTAssertTrue(rendered.last!.count > 64)
        let events = loaded.lineage.head!.events
        XCTAssertTrue(events.contains { $0.kind.rawValue == "data" && $0.detail == "\(tooLong) conversations longer than 64 tokens dropped" },
                      "\(events)")
        XCTAssertEqual(loaded.lineage.head!.data[0].tokens, rendered.filter { $0.count <= 64 }.reduce(0) { $0 + $1.count })
    }

    func testBadLinesStopBeforeTrainingOrAreSkippedWhenAsked() throws {
        let base = try baseCheckpoint()
        _ = try sftData(extraLines: ["{\"messages\": [{\"role\": \"wizard\", \"content\": \"hi\"}]}"])
        XCTAssertThrowsError(try SFT.run(sftConfig(try sftRecipe(name: "bad"), from: base.checkpoint.url.path))) {
            let s = String(describing: $0)
            XCTAssertTrue(s.contains("sft.jsonl:") && s.contains("wizard"), s)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: runDir("bad").appendingPathComponent("checkpoints").path))
        let out = try SFT.run(sftConfig(try sftRecipe(name: "skip", steps: 2, sft: "  skip_bad_lines: true", checkpointEvery: 2),
                                        from: base.checkpoint.url.path))
        XCTAssertTrue(try TrainingCheckpoint.load(out.lastCheckpoint!).lineage.head!.events.contains { $0.detail == "1 bad lines skipped" })
    }

    func testRecipeRules() throws {
        let base = try baseCheckpoint()
        _ = try sftData()
        let noSection = dir.appendingPathComponent("nosft.yaml")
        try "data: {sources: [{name: w, path: x.jsonl}]}\ntrain: {steps: 2}\noptim: {warmup_steps: 0}\nrun: {dir: \(dir.path)/runs, name: x}\n".write(to: noSection, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SFT.run(sftConfig(noSection.path, from: base.checkpoint.url.path))) {
            XCTAssertTrue(String(describing: $0).contains("no 'sft' section"), "\($0)")
        }
        XCTAssertThrowsError(try SFT.run(sftConfig(try sftRecipe(name: "tmpl", sft: "  template: alpaca"), from: base.checkpoint.url.path))) {
            XCTAssertTrue(String(describing: $0).contains("alpaca"), "\($0)")
        }
        XCTAssertThrowsError(try SFT.run(sftConfig(try sftRecipe(name: "lr0", sft: "  lora: {r: 0}"), from: base.checkpoint.url.path))) {
            XCTAssertTrue(String(describing: $0).contains("sft.lora.r"), "\($0)")
        }
        XCTAssertThrowsError(try SFT.run(sftConfig(try sftRecipe(name: "ctx", context: 200), from: base.checkpoint.url.path))) {
            XCTAssertTrue(String(describing: $0).contains("n_positions"), "\($0)")
        }
        // An SFT run cannot be resumed by pretrain, nor a pretraining recipe run by sft.
        let out = try SFT.run(sftConfig(try sftRecipe(name: "ok", steps: 2, checkpointEvery: 2), from: base.checkpoint.url.path))
        XCTAssertNotNil(out.lastCheckpoint)
        XCTAssertThrowsError(try Pretrain.run(config(nil, resume: runDir("ok").path))) {
            XCTAssertTrue(String(describing: $0).contains("strata sft --resume"), "\($0)")
        }
    }

    func testPackedConversationLossesEqualSeparateRuns() throws {
        let model = GPT2(GPT2Config(vocabSize: 50, nPositions: 32, nEmbd: 16, nLayer: 2, nHead: 2), seed: 3)
        var rng = StrataRNG(seed: 9)
        let samples = [5, 9, 7].map { n -> RenderedSample in
            let ids = (0..<n).map { _ in Int32(rng.int(below: 50)) }
            let targets = (0..<n).map { i -> Int32 in i < 2 ? RenderedSample.ignoreIndex : Int32(rng.int(below: 50)) }
            return RenderedSample(ids: ids, targets: targets)
        }
        let row = try SFTPacker.arrange(samples, rowLength: 24, mode: .pack, padID: 0).rows
        XCTAssertEqual(row.count, 1)
        let b = SFTBatches.stepBatch(row, rowLength: 24)
        let tape = Tape.noGrad()
        let packed = tape.tokenLogProbs(model.logits(model.hidden(b.inputs, batch: 1, time: 24, tape: tape, positions: b.positions,
                                                                  docStart: b.docStart), tape: tape), b.targets.map { max(0, $0) })
        var offset = 0
        for s in samples {
            // Where this sample sits in the packed row (best fit keeps input order in one row).
            let start = (0...(24 - s.count)).first { Array(b.inputs[$0..<($0 + s.count)]) == s.ids && b.positions![$0] == 0 }!
            let alone = tape.tokenLogProbs(model.logits(model.hidden(s.ids, batch: 1, time: s.count, tape: tape), tape: tape),
                                           s.targets.map { max(0, $0) })
            for i in 0..<s.count where s.targets[i] != RenderedSample.ignoreIndex {
                XCTAssertEqual(packed.ptr[start + i], alone.ptr[i], accuracy: 1e-5)
            }
            offset += s.count
        }
        XCTAssertEqual(offset, b.realTokens)
    }

    /// A source whose rows carry no trained position at all.
    final class MaskedSource: BatchSource {
        var state = LoaderState(step: 0, seed: 0, batch: 2, context: 8, randomWindows: false, cursors: [])
        func next() throws -> StepBatch {
            state.step += 1
            return StepBatch(rows: 2, time: 8, inputs: [Int32](repeating: 3, count: 16), targets: [Int32](repeating: -100, count: 16))
        }
    }

    func testAllMaskedStepIsSkippedWithoutDividingByZero() throws {
        let base = try baseCheckpoint()
        _ = try sftData()
        var setup = try StageRunner.openFresh(SFT.self, sftConfig(try sftRecipe(name: "masked", steps: 3, checkpointEvery: 3), from: base.checkpoint.url.path))
        setup.parts.objective = NextTokenObjective(model: setup.model, batches: MaskedSource())
        let before = setup.model.parameters.map { Array(UnsafeBufferPointer(start: $0.ptr, count: $0.count)) }
        let out = try TrainingRun(setup).run()
        XCTAssertEqual(out.step, 3)
        XCTAssertTrue(out.losses.isEmpty, "no loss is recorded for a step with nothing to learn")
        let after = try TrainingCheckpoint.load(out.lastCheckpoint!)
        XCTAssertEqual(after.lineage.head!.events.filter { $0.kind.rawValue == "empty_batch" }.count, 3)
        for (p, old) in zip(after.model.parameters, before) {
            XCTAssertEqual(Array(UnsafeBufferPointer(start: p.ptr, count: p.count)), old, p.name!)
        }
        XCTAssertFalse(after.model.parameters.contains { p in (0..<p.count).contains { !p.ptr[$0].isFinite } })
    }

    func testEpochsResolveToStepsFromThePackedRows() throws {
        let base = try baseCheckpoint()
        let data = try sftData(perKind: 4)
        let text = """
        train: {batch_size: 4, context: 64, eval_interval: 100, eval_batches: 1, checkpoint_interval: 100, keep_last: 2, log_interval: 100}
        optim: {lr: 1.0e-3, warmup_steps: 0}
        run: {dir: \(dir.path)/runs, name: epochs}
        sft: {train: \(data.path), validation_fraction: 0, epochs: 2}
        """
        let url = dir.appendingPathComponent("epochs.yaml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        let out = try SFT.run(sftConfig(url.path, from: base.checkpoint.url.path))
        // Independent count of the rows one epoch packs into.
        let loaded = try TrainingCheckpoint.load(out.lastCheckpoint!)
        let rendered = try SFTDataset.load(data).render(.chatML, try InstructionEval.chatTokenizer(loaded.tokenizer)).filter { $0.count <= 64 }
        let rows = try SFTLoader(samples: rendered, batch: 4, rowLength: 64, mode: .pack, padID: 0, seed: 0).rowsPerEpoch
        XCTAssertEqual(out.step, (2 * rows + 3) / 4)
        let saved = try RecipeLoader.load(file: runDir("epochs").appendingPathComponent("recipe.yaml"))
        XCTAssertEqual(saved.train.steps, out.step)
        XCTAssertNil(saved.sft?.epochs)
        XCTAssertTrue(loaded.lineage.head!.events.contains { $0.detail.hasPrefix("sft.epochs 2 = \(out.step) steps (\(rows) per epoch") })
        // Epochs and steps together are refused.
        let both = text.replacingOccurrences(of: "keep_last: 2,", with: "keep_last: 2, steps: 3,").replacingOccurrences(of: "name: epochs", with: "name: both")
        try both.write(to: url, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try SFT.run(sftConfig(url.path, from: base.checkpoint.url.path))) {
            XCTAssertTrue(String(describing: $0).contains("sft.epochs and train.steps/train.token_budget are both set"), "\($0)")
        }
    }
}
