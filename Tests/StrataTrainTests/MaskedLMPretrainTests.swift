// Masked-LM pretraining of a tiny RoBERTa encoder through `strata pretrain`
// (model.family: roberta): the masked loss and validation fall, the checkpoint is
// a RobertaForMaskedLM directory whose tokenizer frames text <s> … </s> and whose
// lineage names the family and objective; an interrupted and resumed run equals
// the uninterrupted one bit for bit; the masking never selects a special token and
// depends on (seed, step, micro-batch); mismatched objective/family and every stage
// after pretraining, chat and fill-mask on a decoder are refused by name; `strata
// eval`'s masked-LM measures are seeded (two evaluations agree) and recorded.

import XCTest
import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataData
import StrataCheckpoint
import StrataTokenizer
import StrataEval
@testable import StrataTrain

final class MaskedLMPretrainTests: WorldTestCase {
    let encoderModel = "model: {family: roberta, n_layer: 2, n_head: 2, n_embd: 32, n_positions: 32, vocab_size: from_tokenizer}"

    func encoderRecipe(_ name: String, steps: Int, train: String = "", model: String? = nil) throws -> String {
        let text = """
        \(model ?? encoderModel)
        tokenizer: {train: {vocab_size: 300}}
        data:
          sources:
            - {name: world, path: \(dir.path)/world/before_cutoff.jsonl, weight: 1.0}
          validation: {fraction: 0.05}
        train: {batch_size: 8, context: 32, steps: \(steps), eval_interval: 4, eval_batches: 2, checkpoint_interval: 4, keep_last: 3, log_interval: 100, seed: 7\(train)}
        optim: {lr: 3.0e-3, min_lr: 3.0e-4, warmup_steps: 2}
        run: {dir: \(dir.path)/runs, name: \(name)}
        """
        let url = dir.appendingPathComponent("\(name).yaml")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func testMaskedLMPretrainingLowersLossAndWritesARobertaCheckpoint() throws {
        let out = try Pretrain.run(config(try encoderRecipe("mlm", steps: 40)))
        XCTAssertEqual(out.step, 40)
        let vals = try MetricsLog.read(runDir("mlm").appendingPathComponent("metrics.jsonl")).compactMap(\.valLoss)
        XCTAssertGreaterThanOrEqual(vals.count, 10)
        // Uniform over 300 ids is 5.70 nats; the masked loss must fall well below where it started.
        XCTAssertLessThan(vals.last!, vals.first! - 0.5, "masked validation loss \(vals)")
        let loaded = try TrainingCheckpoint.load(try TrainingCheckpoint.resolve(runDir("mlm").path))
        let encoder = try XCTUnwrap(loaded.model as? Roberta)
        XCTAssertEqual(encoder.config.modelType, "roberta")
        XCTAssertEqual(encoder.config.architectures, ["RobertaForMaskedLM"])
        XCTAssertEqual(encoder.config.maxPositionEmbeddings, 32 + 1 + 1)   // 32 tokens per row after pad id 1
        let head = try XCTUnwrap(loaded.lineage.head)
        XCTAssertEqual(head.stage, .pretrain)
        XCTAssertEqual(head.recipe.value(at: "model.family")?.stringValue, "roberta")
        XCTAssertEqual(head.recipe.value(at: "train.objective")?.stringValue, "masked_lm")
        XCTAssertNotNil(head.evaluations["validation_loss"]?["world"])
        // The run's tokenizer: RoBERTa's special tokens at ids 0…4 and <s> … </s> around a single text.
        let tok = loaded.tokenizer
        XCTAssertEqual(MaskedLMTokens.robertaSpecials.map { tok.id(forSpecial: $0) }, [0, 1, 2, 3, 4])
        let framed = tok.encodeFramed("a <mask> b")
        XCTAssertEqual(framed.first, 0); XCTAssertEqual(framed.last, 2); XCTAssertTrue(framed.contains(4))
        XCTAssertTrue(try String(contentsOf: loaded.checkpoint.url.appendingPathComponent("tokenizer.json"), encoding: .utf8)
            .contains("\"type\": \"RobertaProcessing\""))
        let card = try ModelCard.markdown(lineage: loaded.lineage, config: JSONValue(encoding: encoder.config))
        XCTAssertTrue(card.contains("A RoBERTa masked-LM encoder (RobertaForMaskedLM)"), card)
        XCTAssertTrue(card.contains("pipeline_tag: \"fill-mask\""), card)
        XCTAssertTrue(card.contains("masked-token prediction"), card)
    }

    func testMaskedLMResumeIsBitExact() throws {
        try assertResumeIsBitExact(steps: 10, stopAtBatch: 5,
            straight: { try Pretrain.run(config(try encoderRecipe("straight", steps: 10))) },
            interrupted: { hooks in
                var c = config(try encoderRecipe("split", steps: 10)); c.interrupt = hooks.interrupt; c.inject = hooks.inject
                return try Pretrain.run(c)
            },
            resume: { try Pretrain.run(config(nil, resume: runDir("split").path)) })
    }

    func testMaskingSkipsSpecialTokensAndDependsOnStepAndMicroBatch() throws {
        let recipe = try RecipeLoader.load(file: URL(fileURLWithPath: try encoderRecipe("draw", steps: 4)), stage: .pretrain)
        let tok = try MaskedLMStage.prepareTokenizer(try DataPipeline.tokenizer(for: recipe, runDir: runDir("draw"), log: { _ in }))
        let tokens = try MaskedLMTokens(tokenizer: tok, source: "test")
        let model = Roberta(try MaskedLMStage.config(recipe, tokenizer: tok), seed: 1)
        let sources = try DataPipeline.prepare(recipe, tokenizer: tok, runDir: runDir("draw"), log: { _ in })
        func draw(seed: UInt64) throws -> [StepBatch] {
            let loader = try DataPipeline.loader(recipe, sources: sources)
            let objective = MaskedLMObjective(model: model, batches: MixtureBatches(loader), tokens: tokens, rule: MaskingRule())
            return try objective.draw(StepPlan(accum: 2) { seed &+ UInt64($0) })
        }
        let a = try draw(seed: 100), again = try draw(seed: 100), other = try draw(seed: 200)
        XCTAssertEqual(a.map(\.inputs), again.map(\.inputs)); XCTAssertEqual(a.map(\.targets), again.map(\.targets))
        XCTAssertNotEqual(a[0].targets, a[1].targets, "micro-batches of one step are masked differently")
        XCTAssertNotEqual(a[0].targets, other[0].targets, "another step's seed masks differently")
        var selected = 0, positions = 0
        for b in a {
            for r in 0..<b.rows {
                XCTAssertEqual(b.inputs[r * b.time], tokens.bos); XCTAssertEqual(b.inputs[r * b.time + b.time - 1], tokens.eos)
            }
            for (i, label) in b.targets.enumerated() {
                positions += 1
                guard label != -100 else { continue }
                selected += 1
                XCTAssertFalse(tokens.special.contains(label), "special id \(label) selected at \(i)")
            }
            XCTAssertEqual(b.trainedTokens, b.targets.filter { $0 != -100 }.count)
        }
        XCTAssertGreaterThan(selected, positions / 20)
        XCTAssertLessThan(selected, positions / 4)
    }

    func testObjectiveMustMatchTheFamilyByKey() throws {
        let gpt2 = try encoderRecipe("g", steps: 4, train: ", objective: masked_lm",
                                     model: "model: {n_layer: 2, n_head: 2, n_embd: 32, n_positions: 32, vocab_size: from_tokenizer}")
        XCTAssertThrowsError(try Pretrain.run(config(gpt2))) {
            XCTAssertTrue("\($0)".contains("train.objective is masked_lm") && "\($0)".contains("model.family: roberta"), "\($0)")
        }
        XCTAssertThrowsError(try Pretrain.run(config(try encoderRecipe("r", steps: 4, train: ", objective: causal_lm")))) {
            XCTAssertTrue("\($0)".contains("train.objective is causal_lm") && "\($0)".contains("masked_lm"), "\($0)")
        }
        let dropout = "model: {family: roberta, n_layer: 2, n_head: 2, n_embd: 32, n_positions: 32, dropout: 0.1}"
        XCTAssertThrowsError(try Pretrain.run(config(try encoderRecipe("d", steps: 4, model: dropout)))) {
            XCTAssertTrue("\($0)".contains("model.dropout"), "\($0)")
        }
    }

    func testLaterStagesChatAndFillMaskRefuseTheWrongModel() throws {
        let out = try Pretrain.run(config(try encoderRecipe("enc", steps: 4)))
        let ckpt = out.lastCheckpoint!.url.path
        let cont = try recipe(name: "cont", steps: 4, tokenizer: "")
        var c = config(cont); c.from = ckpt
        XCTAssertThrowsError(try Continue.run(c)) {
            XCTAssertTrue("\($0)".contains("roberta masked-LM encoder") && "\($0)".contains("strata continue"), "\($0)")
        }
        XCTAssertThrowsError(try ChatSession.open(checkpoint: ckpt, config: ChatConfig())) {
            XCTAssertTrue("\($0)".contains("needs a decoder"), "\($0)")
        }
        // fill-mask: the encoder answers; no mask, K < 1 and a GPT-2 checkpoint are refused by name.
        let loaded = try TrainingCheckpoint.load(out.lastCheckpoint!)
        let p = try FillMask.predict(model: loaded.model, tokenizer: loaded.tokenizer, text: "The <mask> of <mask>", topK: 3, source: "enc")
        XCTAssertEqual(p.count, 2)
        XCTAssertEqual(p.map { $0.candidates.count }, [3, 3])
        XCTAssertTrue(p.allSatisfy { $0.candidates[0].logit >= $0.candidates[1].logit && $0.candidates[1].logit >= $0.candidates[2].logit })
        XCTAssertThrowsError(try FillMask.predict(model: loaded.model, tokenizer: loaded.tokenizer, text: "no mask", topK: 3, source: "enc")) {
            XCTAssertTrue("\($0)".contains("no mask token <mask>"), "\($0)")
        }
        XCTAssertThrowsError(try FillMask.predict(model: loaded.model, tokenizer: loaded.tokenizer, text: "a <mask>", topK: 0, source: "enc")) {
            XCTAssertTrue("\($0)".contains("--top-k is 0"), "\($0)")
        }
        let gpt2 = try Pretrain.run(config(try recipe(name: "dec", steps: 4)))
        let dec = try TrainingCheckpoint.load(gpt2.lastCheckpoint!)
        XCTAssertThrowsError(try FillMask.predict(model: dec.model, tokenizer: dec.tokenizer, text: "a <mask>", topK: 3, source: "dec")) {
            XCTAssertTrue("\($0)".contains("gpt2 model; fill-mask needs a roberta"), "\($0)")
        }
    }

    func testMaskedLMEvaluationIsSeededAndRecorded() throws {
        let out = try Pretrain.run(config(try encoderRecipe("ev", steps: 8)))
        var job = MaskedLMEval.Job(checkpoint: out.lastCheckpoint!.url)
        job.windows = 6; job.batch = 4
        let a = try MaskedLMEval.run(job, log: { _ in }), b = try MaskedLMEval.run(job, log: { _ in })
        XCTAssertEqual(a.scores, b.scores, "two evaluations must mask the same positions and agree")
        let world = try XCTUnwrap(a.scores.first { $0.name == "world" })
        XCTAssertGreaterThan(world.tokens, 0)
        XCTAssertTrue((0...1).contains(world.accuracy))
        XCTAssertEqual(world.perplexity, Foundation.exp(world.loss), accuracy: 1e-9)
        XCTAssertLessThan(world.loss, Foundation.log(300.0), "a trained encoder beats uniform guessing")
        // A batch size other than the default masks the same windows the same way.
        job.batch = 3
        XCTAssertEqual(try MaskedLMEval.run(job, log: { _ in }).scores.first?.loss ?? .nan, world.loss, accuracy: 1e-5)
        try TrainingCheckpoint.recordEvaluation(out.lastCheckpoint!.url, name: "masked_lm", metrics: a.metrics)
        let lineage = try TrainingCheckpoint.load(out.lastCheckpoint!).lineage
        XCTAssertEqual(lineage.head?.evaluations["masked_lm"]?["world.mlm_accuracy"], world.accuracy)
    }
}
