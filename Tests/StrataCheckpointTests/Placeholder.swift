import XCTest
@testable import StrataCheckpoint
