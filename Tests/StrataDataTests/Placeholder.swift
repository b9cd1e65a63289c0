import XCTest
@testable import StrataData
