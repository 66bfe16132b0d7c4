import XCTest
@testable import AgentCore

final class SmokeTests: XCTestCase {
    func testParses() throws {
        _ = try Parser.parse("open.file.path == \"/etc/passwd\"")
    }
}
