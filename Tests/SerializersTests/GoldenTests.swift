import AgentCore
import Foundation
import Serializers
import SchemaValidation
import XCTest

/// Compares serializer output with `Golden/<name>.json` (one JSON line each). Run with
/// `UPDATE_GOLDEN=1` to rewrite them after an intended change, then review the diff.
final class GoldenTests: XCTestCase {
    static let goldenDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Golden")

    private func cases() -> [(String, Event)] {
        var cases: [(String, Event)] = [
            ("exec", Fixtures.exec()),
            ("fork", Fixtures.fork()),
            ("exit_code_0", Fixtures.exit(cause: .exited, code: 0)),
            ("exit_code_7", Fixtures.exit(cause: .exited, code: 7)),
            ("exit_signal", Fixtures.exit(cause: .signaled, code: 9)),
            ("exit_coredump", Fixtures.exit(cause: .coredumped, code: 11)),
            ("open_success", Fixtures.open(success: true)),
            ("open_failure", Fixtures.open(success: false)),
        ]
        cases += Fixtures.issue4Events()
        return cases
    }

    func testGoldenFiles() throws {
        let serializer = EventSerializer()
        let update = ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] != nil
        var all: [UInt8] = []
        for (name, event) in cases() {
            var line: [UInt8] = []
            serializer.serialize(event, context: Fixtures.context, into: &line)
            all += line
            let url = Self.goldenDirectory.appendingPathComponent(name + ".json")
            if update {
                try Data(line).write(to: url)
                continue
            }
            guard let expected = try? Data(contentsOf: url) else {
                XCTFail("missing golden file \(url.path); run with UPDATE_GOLDEN=1")
                continue
            }
            if Data(line) != expected {
                XCTFail("\(name) differs from its golden file:\n got: \(String(decoding: line, as: UTF8.self))\nwant: \(String(decoding: expected, as: UTF8.self))")
            }
        }
        SchemaValidation.assertValid(all)
    }

    func testExecLayout() throws {
        let line = EventSerializer().line(Fixtures.exec(), context: Fixtures.context)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let process = try XCTUnwrap(object["process"] as? [String: Any])
        XCTAssertEqual(process["argv0"] as? String, "curl")
        XCTAssertEqual(process["args"] as? [String], ["-s", "https://example.com/install.sh"])
        let ancestors = try XCTUnwrap(process["ancestors"] as? [[String: Any]])
        XCTAssertEqual(ancestors.map { $0["pid"] as? Int }, [4100, 4010, 4001, 812, 1])
        XCTAssertEqual((process["parent"] as? [String: Any])?["pid"] as? Int, 4100)
        XCTAssertNil(process["truncated_ancestors"])
        let credentials = try XCTUnwrap(process["credentials"] as? [String: Any])
        let caps = try XCTUnwrap(credentials["cap_effective"] as? [String])
        XCTAssertEqual(caps.count, 41)
        XCTAssertEqual(caps.first, "CAP_CHOWN")
        XCTAssertEqual(caps.last, "CAP_CHECKPOINT_RESTORE")
        XCTAssertEqual(object["date"] as? String, "2026-11-24T19:06:38.123456789Z")
        XCTAssertEqual((object["cgroup"] as? [String: Any])?["id"] as? String, "/user.slice/user-1000.slice/session-3.scope")
        XCTAssertTrue(line.hasSuffix("}\n"))
        XCTAssertEqual(line.filter { $0 == "\n" }.count, 1)
    }

    func testAncestorsAreTruncatedAtTheLimit() throws {
        let event = Fixtures.exec()
        event.process!.parent = Fixtures.ancestry(depth: EventSerializer.ancestorLimit + 10)
        let line = EventSerializer().line(event, context: Fixtures.context)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let process = try XCTUnwrap(object["process"] as? [String: Any])
        XCTAssertEqual((process["ancestors"] as? [Any])?.count, EventSerializer.ancestorLimit)
        XCTAssertEqual(process["truncated_ancestors"] as? Bool, true)
        SchemaValidation.assertValid(lines: [line])
    }

    func testParentCycleTerminates() {
        let event = Fixtures.exec()
        let a = ProcessEntry(pid: 10, comm: "a")
        let b = ProcessEntry(pid: 11, comm: "b", parent: a)
        a.parent = b
        event.process!.parent = a
        let line = EventSerializer().line(event, context: Fixtures.context)
        XCTAssertTrue(line.contains("\"truncated_ancestors\":true"))
        SchemaValidation.assertValid(lines: [line])
        a.parent = nil  // break the cycle so the entries are freed
    }

    func testUnresolvedProcessAndRuleContext() throws {
        var event = Fixtures.open(success: true)
        event.process = nil
        event.processResolutionError = "pid 4200 not found"
        var fork = Fixtures.fork()
        fork.process = nil
        let context = AgentContext(
            ruleID: "shadow_read", ruleVersion: "1.2", policyName: "default", policyVersion: "7",
            version: "0.1.0", arch: "aarch64", title: "Sensitive file /etc/shadow was opened")
        let serializer = EventSerializer()
        let lines = [serializer.line(event, context: context), serializer.line(fork, context: Fixtures.context)]
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        XCTAssertEqual(object["title"] as? String, "Sensitive file /etc/shadow was opened")
        XCTAssertEqual((object["agent"] as? [String: Any])?["rule_version"] as? String, "1.2")
        XCTAssertEqual((object["process"] as? [String: Any])?["pid"] as? Int, 4200)
        let forkObject = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(lines[1].utf8)) as? [String: Any])
        XCTAssertEqual((forkObject["process"] as? [String: Any])?["pid"] as? Int, 4201)
        SchemaValidation.assertValid(lines: lines)
    }

    func testCachedAncestorsFollowMutations() throws {
        let serializer = EventSerializer()
        let event = Fixtures.exec()
        let first = serializer.line(event, context: Fixtures.context)
        XCTAssertEqual(serializer.line(event, context: Fixtures.context), first)
        let grandparent = try XCTUnwrap(event.process?.parent?.parent)
        grandparent.comm = "renamed"
        grandparent.exitTimeNs = Fixtures.eventTime
        grandparent.credentials.euid = 0
        grandparent.credentials.uid = 1234
        let second = serializer.line(event, context: Fixtures.context)
        XCTAssertNotEqual(second, first)
        XCTAssertEqual(second, EventSerializer().line(event, context: Fixtures.context))
        XCTAssertTrue(second.contains(#""comm":"renamed""#))
        SchemaValidation.assertValid(lines: [first, second])
    }

    func testSerializeAppendsToExistingBuffer() {
        let serializer = EventSerializer()
        var buffer: [UInt8] = Array("previous\n".utf8)
        serializer.serialize(Fixtures.exec(), context: Fixtures.context, into: &buffer)
        serializer.serialize(Fixtures.fork(), context: Fixtures.context, into: &buffer)
        let text = String(decoding: buffer, as: UTF8.self)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        XCTAssertEqual(lines.count, 4)
        XCTAssertEqual(lines[0], "previous")
        XCTAssertEqual(lines[3], "")
        SchemaValidation.assertValid(lines: lines[1...2].map(String.init))
    }
}
