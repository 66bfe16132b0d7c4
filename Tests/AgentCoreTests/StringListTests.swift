import XCTest
@testable import AgentCore

final class StringListTests: XCTestCase {
    /// More splitting cases: `ProcFSTests.testSplitNULAndTruncation`.
    func testALoneNulIsOneEmptyString() {
        XCTAssertEqual(Array(StringList(nulSeparated: [0])), [""])
    }

    func testInvalidUTF8IsRepairedAsKernelStringsAre() {
        let bytes: [UInt8] = [0x41, 0xFF, 0x00, 0xC3, 0xA9, 0x00, 0x42]
        let list = StringList(nulSeparated: bytes)
        XCTAssertEqual(Array(list), ["A\\xff", "é", "B"])
        // Every element is valid UTF-8 as stored.
        for i in list.indices {
            list.withUTF8(i) { XCTAssertNotNil(String(validating: $0, as: UTF8.self)) }
        }
    }

    func testRemoveFirstKeepsTheRest() {
        var list: StringList = ["/bin/sh", "-c", "", "echo hi"]
        XCTAssertEqual(list.removeFirst(), "/bin/sh")
        XCTAssertEqual(Array(list), ["-c", "", "echo hi"])
        XCTAssertEqual(list, ["-c", "", "echo hi"])
        XCTAssertEqual(list.count, 3)
        XCTAssertEqual(list.byteRange(2), 2..<9)
    }

    func testEqualityIsPerElementNotPerByte() {
        XCTAssertNotEqual(StringList(["ab", "c"]), StringList(["a", "bc"]))
        XCTAssertEqual(StringList(["ab", "c"]), ["ab", "c"])
        XCTAssertNotEqual(StringList([""]), StringList())
    }

    func testContainsUTF8StopsAtTheFirstTrue() {
        let list: StringList = ["A=1", "B=2", "C=3"]
        var seen: [String] = []
        let found = list.containsUTF8 { bytes in
            let s = String(decoding: bytes, as: UTF8.self)
            seen.append(s)
            return s.hasPrefix("B")
        }
        XCTAssertTrue(found)
        XCTAssertEqual(seen, ["A=1", "B=2"])
        XCTAssertFalse(StringList().containsUTF8 { _ in true })
    }
}
