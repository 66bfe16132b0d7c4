import Foundation
import XCTest
@testable import AgentCore

/// `policy evaluate` as the command runs it (`PolicyTools.Evaluator.run`): one answer per line on
/// the output, one `line N: ...` per failed line on the error stream, a failing status when any
/// line failed, and input read in chunks in linear time.
final class PolicyEvaluateTests: XCTestCase {
    private var policy = ""

    override func setUpWithError() throws {
        policy = FileManager.default.temporaryDirectory.appendingPathComponent("evaluate-\(getpid()).policy").path
        try "rules:\n  - id: shadow\n    expression: open.file.path == \"/etc/shadow\"\n  - id: long\n    expression: open.file.path =~ \"/tmp/long/*\"\n"
            .write(toFile: policy, atomically: true, encoding: .utf8)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: policy)
    }

    private static func open(path: String, pid: String = "5") -> String {
        #"{"evt":{"name":"open"},"process":{"pid":"# + pid + #","comm":"vi","credentials":{"uid":0}},"file":{"path":"# + path + "}}"
    }

    /// Runs the evaluator on `input` given in chunks of `chunk` bytes.
    private func evaluate(_ input: String, chunk: Int = 1 << 16) -> (status: Int32, output: [String], errors: [String]) {
        let evaluator = PolicyTools.Evaluator(paths: [policy])
        XCTAssertEqual(evaluator.load.fileErrors, [])
        let bytes = Array(input.utf8)
        var offset = 0
        var output: [String] = []
        var errors: [String] = []
        let status = evaluator.run(
            read: {
                guard offset < bytes.count else { return nil }
                let end = min(offset + chunk, bytes.count)
                defer { offset = end }
                return Array(bytes[offset..<end])
            },
            output: { output.append($0) }, error: { errors.append($0) })
        return (status, output, errors)
    }

    func testAllLinesEvaluatedExitsZero() {
        let input = Self.open(path: #""/etc/shadow""#) + "\n\n" + Self.open(path: #""/etc/passwd""#) + "\n"
        let r = evaluate(input, chunk: 7)
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(r.output, [#"{"matched": ["shadow"]}"#, #"{"matched": []}"#])
        XCTAssertEqual(r.errors, [])
    }

    func testWrongTypesNameTheFieldAndTheLine() {
        let input = [
            Self.open(path: #""/etc/shadow""#),
            Self.open(path: #""/etc/shadow""#, pid: #""5""#),
            Self.open(path: "3"),
            Self.open(path: #""/etc/shadow""#),
        ].joined(separator: "\n")
        let r = evaluate(input, chunk: 50)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.output.count, 4)
        XCTAssertEqual(r.output[0], #"{"matched": ["shadow"]}"#)
        XCTAssertTrue(r.output[1].hasPrefix(#"{"error": "process.pid"#), r.output[1])
        XCTAssertEqual(r.output[3], #"{"matched": ["shadow"]}"#)
        XCTAssertEqual(r.errors, [
            #"line 2: process.pid: expected an integer, got the string "5""#,
            "line 3: file.path: expected a string, got the number 3",
            "error: 2 of 4 lines could not be evaluated",
        ])
    }

    func testSyntaxErrorGivesLineAndColumn() {
        let input = Self.open(path: #""/etc/shadow""#) + "\n" + #"{"evt":{"name":"open"},"file":{"path":"/x",}}"# + "\n"
        let r = evaluate(input)
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.errors.first, "line 2: invalid JSON at column 44 (byte 43): expected a key (a string), found '}'")
    }

    func testOneFailedLineOfSeveralFailsTheRun() {
        let good = Self.open(path: #""/etc/shadow""#)
        let r = evaluate([good, good, "not json", good].joined(separator: "\n") + "\n")
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.output.count, 4)
        XCTAssertEqual(r.errors.count, 2)
        XCTAssertTrue(r.errors[0].hasPrefix("line 3: invalid JSON at column 1 (byte 0): expected a value"), r.errors[0])
    }

    /// A control character in a message (a decoded name) does not split the error line.
    func testErrorsStayOnOneLine() {
        let r = evaluate(#"{"evt":{"name":"tele\nport"}}"#)
        XCTAssertEqual(r.errors, [#"line 1: evt.name: unknown event type "tele\nport""#, "error: 1 of 1 lines could not be evaluated"])
    }

    /// A 10 MiB line read in 64 KiB chunks. Timings are measured by hand (see the commit); this
    /// checks the answer.
    func testTenMebibyteLine() {
        let path = "/tmp/long/" + String(repeating: "a", count: 10 << 20)
        let input = Self.open(path: #""/etc/shadow""#) + "\n" + Self.open(path: "\"" + path + "\"") + "\n" + Self.open(path: #""/etc/shadow""#)
        let r = evaluate(input)
        XCTAssertEqual(r.status, 0)
        XCTAssertEqual(r.output, [#"{"matched": ["shadow"]}"#, #"{"matched": ["long"]}"#, #"{"matched": ["shadow"]}"#])
    }

    func testLineSplitter() {
        var splitter = LineSplitter()
        var lines: [String] = []
        let collect: (UnsafeBufferPointer<UInt8>) -> Void = { lines.append(String(decoding: $0, as: UTF8.self)) }
        for chunk in ["ab", "c\nd", "\n\n", "ef\ngh", "", "i"] {
            Array(chunk.utf8).withUnsafeBytes { splitter.append($0, collect) }
        }
        splitter.finish(collect)
        XCTAssertEqual(lines, ["abc", "d", "", "ef", "ghi"])
    }
}
