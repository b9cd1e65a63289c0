import XCTest
@testable import StrataTrain

final class ShippedRecipesTests: XCTestCase {
    /// Every example recipe in recipes/ loads and validates.
    func testEveryShippedRecipeLoads() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let dir = root.appendingPathComponent("recipes")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 4)
        for f in files {
            XCTAssertNoThrow(try RecipeLoader.load(file: dir.appendingPathComponent(f)), f)
        }
    }
}
