import XCTest
@testable import AgentCore

/// Policies that would cost the agent gigabytes or crash the YAML parser are refused with a line
/// that says why, quickly; ordinary policies pass untouched.
final class PolicyInputLimitsTests: XCTestCase {
    func message(_ text: String, limits: PolicyInputLimits = .default) -> String? {
        do {
            _ = try PolicyParser.parse(text: text, path: "hostile.policy", limits: limits)
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// Nine levels of nine aliases: 387 million values once expanded.
    static let aliasBomb: String = {
        var lines = ["a: &a [\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\",\"x\"]"]
        let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
        for i in 1..<names.count {
            lines.append("\(names[i]): &\(names[i]) [" + Array(repeating: "*\(names[i - 1])", count: 9).joined(separator: ",") + "]")
        }
        return lines.joined(separator: "\n") + "\n"
    }()

    func testAliasBombIsRefusedNamingTheAlias() {
        let start = Date()
        let m = message(PolicyInputLimitsTests.aliasBomb)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5, "the walk must stop at the limit")
        XCTAssertEqual(m, "hostile.policy: aliases expand past 1000000 values: alias *f at line 7")
    }

    func testAliasesWithinTheLimitLoad() throws {
        let text = """
        x: &rule
          id: aliased
          expression: open.file.path == "/etc/shadow"
        rules:
          - *rule
        """
        let file = try PolicyParser.parse(text: text, path: "ok.policy")
        XCTAssertEqual(file.rules.map(\.id), ["aliased"])
    }

    func testDeepFlowNestingNamesTheLine() {
        let deep = "version: 1\nrules: " + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "\n"
        XCTAssertEqual(message(deep), "hostile.policy: nested deeper than 64 at line 2")
    }

    func testDeepBlockNestingNamesTheLine() {
        var text = "rules:\n"
        for depth in 1...80 { text += String(repeating: "  ", count: depth) + "- \n" }
        let m = message(text) ?? ""
        XCTAssertTrue(m.hasPrefix("hostile.policy: nested deeper than 64 at line "), m)
    }

    func testBracketsInsideQuotesAndCommentsDoNotCount() throws {
        let brackets = String(repeating: "[", count: 100)
        let text = """
        # \(brackets)
        rules:
          - id: quoted
            expression: 'open.file.path == "\(brackets)"'
            description: "\(brackets)"
        """
        XCTAssertEqual(try PolicyParser.parse(text: text, path: "ok.policy").rules.map(\.id), ["quoted"])
    }

    func testOversizedTextIsRefused() {
        let limits = PolicyInputLimits(maxBytes: 1_000)
        let text = "rules: []\n" + String(repeating: "# padding\n", count: 200)
        XCTAssertEqual(message(text, limits: limits), "hostile.policy: policy is \(text.utf8.count) bytes, over the limit of 1000 bytes")
    }

    func testOversizedFileIsRefusedBeforeReading() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("csm-oversized-\(getpid()).policy")
        try Data(String(repeating: "#\n", count: 4_000).utf8).write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        XCTAssertThrowsError(try PolicyParser.parse(path: url.path, limits: PolicyInputLimits(maxBytes: 1_000))) { error in
            XCTAssertEqual("\(error)", "\(url.path): policy is 8000 bytes, over the limit of 1000 bytes")
        }
    }

    /// Found by fuzz/FuzzPolicy: Yams traps building a dictionary whose key is a sequence.
    func testNonScalarMappingKeysAreRefused() {
        XCTAssertEqual(message("macros:\n  - [\"/a\"]: x\n"), "hostile.policy: a mapping key that is not a scalar at line 2")
        XCTAssertEqual(message("rules:\n  - ? {a: b}\n    : x\n"), "hostile.policy: a mapping key that is not a scalar at line 2")
    }

    func testCorpusIsWithinTheLimits() throws {
        let text = try String(contentsOfFile: T.corpus, encoding: .utf8)
        XCTAssertNoThrow(try PolicyParser.parse(text: text, path: "datadog-default.policy"))
    }
}
