import XCTest
@testable import StrataModel
