import XCTest
@testable import StrataTrain
