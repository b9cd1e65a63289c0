import XCTest
@testable import StrataTokenizer
