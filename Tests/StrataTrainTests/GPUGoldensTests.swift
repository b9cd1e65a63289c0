// The committed GPU goldens (tools/gpu/goldens.safetensors) are what the CPU backend
// writes today: regenerating them gives the same tensors, so a change to a CPU op or
// to the writer cannot leave the GPU selftest comparing against stale numbers.

import XCTest
import Foundation
import StrataCheckpoint
import StrataBench

final class GPUGoldensTests: XCTestCase {
    func testTheCommittedGoldensAreWhatTheCPUBackendWritesNow() throws {
        let committed = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("tools/gpu/goldens.safetensors")
        let fresh = FileManager.default.temporaryDirectory.appendingPathComponent("goldens-\(getpid()).safetensors")
        defer { try? FileManager.default.removeItem(at: fresh) }
        try GPUGoldensWriter.write(to: fresh)
        let a = try SafeTensors.read(committed), b = try SafeTensors.read(fresh)
        XCTAssertEqual(a.names.sorted(), b.names.sorted())
        XCTAssertEqual(a.metadata, b.metadata)
        for name in a.names {
            let x = a.tensor(name)!.values, y = b.tensor(name)!.values
            XCTAssertEqual(x.count, y.count, name)
            let scale = max(y.map(abs).max() ?? 0, 1e-30)
            let err = zip(x, y).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(err / scale, 1e-5, "\(name) drifted: regenerate with strata gpu-selftest --write-goldens tools/gpu/goldens.safetensors")
        }
        let losses = b.tensor("train.losses")!.values
        XCTAssertLessThan(losses.last!, losses.first! - 0.3, "the training golden learns something: \(losses)")
    }
}
