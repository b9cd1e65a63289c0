// The stage scaffold's own promises, shared by every stage: an edited recipe.yaml
// is refused on resume (naming the keys) unless accepted and recorded; a finished
// run says how to extend it and can be extended with --set train.steps; other
// overrides on resume are refused; the recipe's dropout wins over a checkpoint's
// config; run.tensorboard writes event files; validation losses are token-weighted.

import XCTest
import Foundation
import StrataCore
import StrataTensor
import StrataModel
import StrataCheckpoint
@testable import StrataTrain
import StrataCUDA

final class StageScaffoldTests: WorldTestCase {
    func testEditedRecipeIsRefusedOnResumeNamingTheKeyUnlessAccepted() throws {
        let flag = InterruptFlag()
        var first = config(try recipe(name: "edited", steps: 8))
        first.interrupt = flag
        first.inject = { batch in if batch == 3 { flag.raise(SIGINT) }; return nil }
        XCTAssertTrue(try Pretrain.run(first).interrupted)
        let yaml = runDir("edited").appendingPathComponent("recipe.yaml")
        let text = try String(contentsOf: yaml, encoding: .utf8)
        XCTAssertTrue(text.contains("lr: 0.003"), text)
        try text.replacingOccurrences(of: "lr: 0.003", with: "lr: 0.03").write(to: yaml, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Pretrain.run(config(nil, resume: runDir("edited").path))) {
            let m = String(describing: $0)
            XCTAssertTrue(m.contains("recipe.yaml was edited") && m.contains("optim.lr") && m.contains("--accept-edited-recipe"), m)
        }
        var accepted = config(nil, resume: runDir("edited").path)
        accepted.acceptEditedRecipe = true
        let out = try Pretrain.run(accepted)
        XCTAssertEqual(out.step, 8)
        let events = try TrainingCheckpoint.load(out.lastCheckpoint!).lineage.head!.events
        XCTAssertTrue(events.contains { $0.kind == .recipeEdited && $0.detail.contains("optim.lr") }, "\(events)")
    }

    func testFinishedRunSaysHowToExtendAndExtendsWithMoreSteps() throws {
        _ = try Pretrain.run(config(try recipe(name: "done", steps: 4)))
        var lines: [String] = []
        var again = config(nil, resume: runDir("done").path)
        again.log = { lines.append($0) }
        let idle = try Pretrain.run(again)   // not an error: nothing is left to do, and the user is told how to go on
        XCTAssertEqual(idle.step, 4)
        XCTAssertTrue(idle.losses.isEmpty)
        XCTAssertTrue(lines.contains { $0.contains("is finished (step 4 of 4)") && $0.contains("--set train.steps=N") }, "\(lines)")
        var more = config(nil, resume: runDir("done").path)
        more.overrides = ["train.steps=4"]
        XCTAssertThrowsError(try Pretrain.run(more)) { XCTAssertTrue(String(describing: $0).contains("not beyond the run's step 4"), "\($0)") }
        more.overrides = ["optim.lr=1.0"]
        XCTAssertThrowsError(try Pretrain.run(more)) { XCTAssertTrue(String(describing: $0).contains("would change a run being resumed"), "\($0)") }
        more.overrides = ["train.steps=6"]
        let out = try Pretrain.run(more)
        XCTAssertEqual(out.step, 6)
        XCTAssertEqual(out.losses.count, 2)
        let loaded = try TrainingCheckpoint.load(out.lastCheckpoint!)
        XCTAssertTrue(loaded.lineage.head!.events.contains { $0.kind == .extended && $0.detail.hasPrefix("train.steps 4 → 6") })
        XCTAssertEqual(try RecipeLoader.load(file: runDir("done").appendingPathComponent("recipe.yaml")).train.steps, 6)
        XCTAssertEqual(loaded.lineage.head!.compute.tokens, 6 * 4 * 32)
    }

    func testRecipeDropoutReplacesTheCheckpointConfigsAndIsRecorded() throws {
        let base = try Pretrain.run(config(try recipe(name: "drop-base", steps: 4)))
        // A Hugging Face config carries dropout 0.1; the next stage's recipe says 0.0.
        let cfgURL = base.lastCheckpoint!.url.appendingPathComponent("config.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: cfgURL)) as! [String: Any]
        json["resid_pdrop"] = 0.1; json["embd_pdrop"] = 0.1
        let hf = dir.appendingPathComponent("hf")
        try FileManager.default.createDirectory(at: hf, withIntermediateDirectories: true)
        for f in ["model.safetensors", "tokenizer.json"] {
            try FileManager.default.copyItem(at: base.lastCheckpoint!.url.appendingPathComponent(f), to: hf.appendingPathComponent(f))
        }
        try JSONSerialization.data(withJSONObject: json).write(to: hf.appendingPathComponent("config.json"))
        var c = config(try recipe(name: "drop-cont", steps: 3, tokenizer: ""))
        c.from = hf.path
        let out = try Continue.run(c)
        let loaded = try TrainingCheckpoint.load(out.lastCheckpoint!)
        XCTAssertEqual((loaded.model as! GPT2).config.residPdrop, 0)
        XCTAssertEqual((loaded.model as! GPT2).config.embdPdrop, 0)
        XCTAssertTrue(loaded.lineage.head!.events.contains { $0.kind == .config && $0.detail.contains("resid_pdrop 0.1") })
    }

    func testRunTensorboardWritesEventFilesBesideMetrics() throws {
        var c = config(try recipe(name: "tb", steps: 4))
        c.overrides = ["run.tensorboard=true"]
        _ = try Pretrain.run(c)
        let dir = runDir("tb").appendingPathComponent("tensorboard")
        let files = try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
        XCTAssertEqual(files.count, 1, "\(files)")
        let events = try TensorBoardWriter.read(files[0])
        let lossSteps = events.filter { $0.scalars.contains { $0.tag == "train/loss" } }.map(\.step)
        XCTAssertEqual(lossSteps, [1, 2, 3, 4])
        let metrics = try MetricsLog.read(runDir("tb").appendingPathComponent("metrics.jsonl"))
        let last = events.last { $0.step == 4 && $0.scalars.contains { $0.tag == "train/loss" } }!
        XCTAssertEqual(Double(last.scalars.first { $0.tag == "train/loss" }!.value), metrics.last { $0.step == 4 && $0.loss != nil }!.loss!, accuracy: 1e-6)
    }

    func testARunDirectoryHeldByAnotherRunIsRefusedNamingTheHolder() throws {
        _ = try Pretrain.run(config(try recipe(name: "locked", steps: 4)))
        var more = config(nil, resume: runDir("locked").path)
        more.overrides = ["train.steps=6"]
        let held = try RunLock.acquire(runDirectory: runDir("locked"), command: "another strata run")
        XCTAssertThrowsError(try Pretrain.run(more)) {
            let m = String(describing: $0)
            XCTAssertTrue(m.contains("another strata run") && m.contains("pid \(getpid())"), m)
        }
        held.release()
        XCTAssertEqual(try Pretrain.run(more).step, 6, "the lock is free once its holder lets go")
    }

    func testValidationLossIsTokenWeightedAcrossSources() {
        var sum = TokenLossSum()
        sum.add("a", meanLoss: 2.0, tokens: 30)
        sum.add("a", meanLoss: 4.0, tokens: 10)   // source a: (60 + 40) / 40 = 2.5
        sum.add("b", meanLoss: 1.0, tokens: 10)
        let r = sum.result!
        XCTAssertEqual(r.measure, .tokenLoss)
        XCTAssertEqual(r.parts["a"]!, 2.5, accuracy: 1e-12)
        XCTAssertEqual(r.parts["b"]!, 1.0, accuracy: 1e-12)
        XCTAssertEqual(r.overall, 110.0 / 50.0, accuracy: 1e-12, "all = summed loss / scored tokens, not a mean of batch means (7/3)")
        XCTAssertNil(TokenLossSum().result)
    }

    func testDeviceCudaWithoutAGPUIsRefusedNamingWhatIsMissing() throws {
        guard (try? CUDALibraries.open("driver")) == nil else {
            throw XCTSkip("this machine has a CUDA driver: the refusal without one cannot be shown here")
        }
        var o = config(try recipe(name: "gpu", steps: 4))
        o.device = .cuda
        XCTAssertThrowsError(try Pretrain.run(o)) {
            let m = String(describing: $0)
            XCTAssertTrue(m.contains("libcuda.so.1") && m.contains("--device cpu"), m)
        }
    }

    func testBF16PrecisionOnTheCPURunsWhereNativeElseIsRefusedWithTheFix() throws {
        var o = config(try recipe(name: "bf16", steps: 4))
        o.overrides = ["train.precision=bf16"]
        if CPUMatmulFeatures.detected.nativeBF16 {
            XCTAssertEqual(try Pretrain.run(o).step, 4, "bf16 trains on a CPU with AVX-512 BF16 or AMX")
        } else {
            XCTAssertThrowsError(try Pretrain.run(o)) {
                let m = String(describing: $0)
                XCTAssertTrue(m.contains("train.precision bf16") && m.contains("--device cuda") && m.contains("train.precision=fp32"), m)
            }
        }
        o.overrides = ["train.precision=fp16"]
        XCTAssertThrowsError(try Pretrain.run(o)) { XCTAssertTrue(String(describing: $0).contains("fp32, bf16"), "\($0)") }
    }
}
