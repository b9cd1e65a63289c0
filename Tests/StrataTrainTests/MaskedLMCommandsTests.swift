// The encoder's commands through the built `strata` binary on a tiny masked-LM run:
// `fill-mask --json` prints one object per mask with the documented keys and the
// top-K ids FillMask computes; `eval --record` prints the masked-LM table and records
// it; `generate` refuses the encoder by name; `model init --family roberta` writes a
// RobertaForMaskedLM config that loads back.

import XCTest
import Foundation
import StrataCore
import StrataModel
import StrataEval
@testable import StrataTrain

final class MaskedLMCommandsTests: WorldTestCase {
    func strata(_ args: [String]) throws -> (Int32, String) { try StrataBinary.run(args, in: dir) }

    func testFillMaskEvalGenerateAndModelInitOnTheCommandLine() throws {
        let file = try recipe(name: "enc", steps: 4)
        var text = try String(contentsOfFile: file, encoding: .utf8)
        text = text.replacingOccurrences(of: "model: {n_layer: 2", with: "model: {family: roberta, n_layer: 2")
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let run = try Pretrain.run(config(file))
        let ckpt = run.lastCheckpoint!.url.path

        var (status, out) = try strata(["fill-mask", "--checkpoint", ckpt, "--json", "--top-k", "3", "one <mask> two <mask>"])
        XCTAssertEqual(status, 0, out)
        let lines = out.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, 2, out)
        let loaded = try TrainingCheckpoint.load(run.lastCheckpoint!)
        let want = try FillMask.predict(model: loaded.model, tokenizer: loaded.tokenizer, text: "one <mask> two <mask>", topK: 3, source: "enc")
        for (line, p) in zip(lines, want) {
            let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], line)
            XCTAssertEqual(obj["position"] as? Int, p.position)
            let ids = (obj["candidates"] as? [[String: Any]])?.compactMap { $0["id"] as? Int }
            XCTAssertEqual(ids, p.candidates.map(\.id))
            XCTAssertTrue(line.hasPrefix("{\"position\": "), line)
        }
        (status, out) = try strata(["fill-mask", "--checkpoint", ckpt, "no mask here"])
        XCTAssertNotEqual(status, 0); XCTAssertTrue(out.contains("no mask token <mask>"), out)

        (status, out) = try strata(["eval", "--checkpoint", ckpt, "--record", "--windows", "4"])
        XCTAssertEqual(status, 0, out)
        XCTAssertTrue(out.contains("masked-LM evaluation") && out.contains("accuracy"), out)
        let recorded = try TrainingCheckpoint.recordedEvaluations(run.lastCheckpoint!.url)
        XCTAssertNotNil(recorded["masked_lm"]?["world.mlm_accuracy"], "\(recorded)")
        (status, out) = try strata(["eval", "--checkpoint", ckpt, "--probes", "world/probes.jsonl"])
        XCTAssertNotEqual(status, 0); XCTAssertTrue(out.contains("--probes measures a decoder"), out)

        (status, out) = try strata(["generate", "--checkpoint", ckpt, "--prompt", "a"])
        XCTAssertNotEqual(status, 0); XCTAssertTrue(out.contains("roberta masked-LM encoder") && out.contains("strata generate"), out)

        let initDir = dir.appendingPathComponent("init")
        (status, out) = try strata(["model", "init", "--family", "roberta", "--layers", "1", "--heads", "2", "--embd", "16",
                                    "--context", "12", "--vocab", "50", "--out", initDir.path])
        XCTAssertEqual(status, 0, out)
        let model = try Roberta.load(directory: initDir)
        XCTAssertEqual(model.config.maxTokens, 12)
        XCTAssertEqual(model.config.architectures, ["RobertaForMaskedLM"])
    }
}
