import XCTest
@testable import StrataEval
