import XCTest
@testable import StrataTensor
