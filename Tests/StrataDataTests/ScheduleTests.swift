// Weight schedule tests: step and linear interpolation, clamping, validation,
// and Codable (including a bare number as a constant).

import Foundation
import XCTest
@testable import StrataData
import StrataCore
import StrataTestSupport

final class ScheduleTests: XCTestCase {
    func testLinearInterpolationAndClamping() {
        let s = WeightSchedule([(100, 1.0), (300, 0.0), (400, 0.5)], interpolation: .linear)
        XCTAssertEqual(s.weight(at: 0), 1.0)
        XCTAssertEqual(s.weight(at: 100), 1.0)
        XCTAssertEqual(s.weight(at: 150), 0.75, accuracy: 1e-12)
        XCTAssertEqual(s.weight(at: 299), 0.005, accuracy: 1e-12)
        XCTAssertEqual(s.weight(at: 350), 0.25, accuracy: 1e-12)
        XCTAssertEqual(s.weight(at: 10_000), 0.5)
    }

    func testStepInterpolation() {
        let s = WeightSchedule([(0, 2.0), (10, 5.0), (20, 0.0)], interpolation: .step)
        XCTAssertEqual(s.weight(at: 9), 2.0)
        XCTAssertEqual(s.weight(at: 10), 5.0)
        XCTAssertEqual(s.weight(at: 19), 5.0)
        XCTAssertEqual(s.weight(at: 25), 0.0)
        XCTAssertEqual(WeightSchedule.constant(0.3).weight(at: 12345), 0.3)
    }

    func testValidation() {
        assertStrataError(try WeightSchedule([(10, 1), (10, 2)]).validate(name: "web"), contains: ["web", "increase strictly"])
        assertStrataError(try WeightSchedule([(0, -1)]).validate(name: "web"), contains: ["weight -1"])
        assertStrataError(try WeightSchedule([(0, .nan)]).validate(name: "x"), contains: ["finite"])
        assertStrataError(try WeightSchedule([Keypoint]()).validate(name: "x"), contains: ["no keypoints"])
        XCTAssertNoThrow(try WeightSchedule([(0, 0), (5, 1)]).validate(name: "ok"))
    }

    func testCodableRoundTripAndBareNumber() throws {
        let s = WeightSchedule([(0, 1), (1000, 0.25)], interpolation: .step)
        let back = try StrataJSON.decode(WeightSchedule.self, from: try StrataJSON.encode(s), file: "t")
        XCTAssertEqual(back, s)
        let bare = try StrataJSON.decode(WeightSchedule.self, from: Data("0.7".utf8), file: "t")
        XCTAssertEqual(bare.weight(at: 99), 0.7)
        let defaulted = try StrataJSON.decode(WeightSchedule.self,
                                              from: Data(#"{"keypoints":[{"step":0,"weight":1},{"step":10,"weight":0}]}"#.utf8), file: "t")
        XCTAssertEqual(defaulted.interpolation, .linear)
        XCTAssertEqual(defaulted.weight(at: 5), 0.5, accuracy: 1e-12)
    }
}

private typealias Keypoint = WeightSchedule.Keypoint
