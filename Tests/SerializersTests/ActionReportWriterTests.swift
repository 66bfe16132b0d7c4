import AgentCore
import Foundation
import SchemaValidation
import Serializers
import XCTest

final class ActionReportWriterTests: XCTestCase {
    private func object(_ body: (inout JSONWriter) -> Void) throws -> [String: Any] {
        var writer = JSONWriter()
        body(&writer)
        let parsed = try JSONSerialization.jsonObject(with: Data(writer.bytes))
        return try XCTUnwrap(parsed as? [String: Any], String(decoding: writer.bytes, as: UTF8.self))
    }

    private func kill(_ status: KillOutcome.Status, signalled: [UInt32] = [], killedAt: UInt64 = 0, createdAt: UInt64 = Fixtures.earlier,
                      failures: [(pid: UInt32, error: String)] = [], skipped: [(pid: UInt32, reason: String)] = []) -> KillOutcome {
        KillOutcome(ruleID: "r", signal: 9, signalName: "SIGKILL", scope: .process, status: status, targetPid: 42,
                    signalledPids: signalled, failures: failures, skipped: skipped, createdAtNs: createdAt,
                    detectedAtNs: Fixtures.eventTime, killedAtNs: killedAt)
    }

    func testKillReports() throws {
        var o = try object { $0.killActionReport(kill(.performed, signalled: [42], killedAt: Fixtures.eventTime + 1000)) }
        XCTAssertEqual(o["type"] as? String, "kill")
        XCTAssertEqual(o["signal"] as? String, "SIGKILL")
        XCTAssertEqual(o["scope"] as? String, "process")
        XCTAssertEqual(o["status"] as? String, "performed")
        XCTAssertEqual(o["created_at"] as? String, "2026-11-24T19:00:00.000000005Z")
        XCTAssertEqual(o["detected_at"] as? String, "2026-11-24T19:06:38.123456789Z")
        XCTAssertEqual(o["killed_at"] as? String, "2026-11-24T19:06:38.123457789Z")
        XCTAssertEqual(o["pid"] as? Int, 42)
        XCTAssertEqual(o["signalled_pids"] as? [Int], [42])
        XCTAssertNil(o["disarmer_type"])
        XCTAssertNil(o["reason"])

        o = try object { $0.killActionReport(kill(.disarmed(.executable), createdAt: 0)) }
        XCTAssertEqual(o["status"] as? String, "rule_disarmed")
        XCTAssertEqual(o["disarmer_type"] as? String, "executable")
        XCTAssertNil(o["created_at"], "an unknown time is left out")
        XCTAssertNil(o["killed_at"])
        XCTAssertNil(o["signalled_pids"])

        o = try object { $0.killActionReport(kill(.refused("pid 1 is never signalled \"quoted\""))) }
        XCTAssertEqual(o["status"] as? String, "refused")
        XCTAssertEqual(o["reason"] as? String, "pid 1 is never signalled \"quoted\"")

        o = try object { $0.killActionReport(kill(.partiallyPerformed, signalled: [42], killedAt: 5, failures: [(43, "ESRCH")],
                                                  skipped: [(44, "pid 44 is not in container c0ffee")])) }
        XCTAssertEqual(o["status"] as? String, "partially_performed")
        XCTAssertEqual((o["failures"] as? [[String: Any]])?.first?["error"] as? String, "ESRCH")
        XCTAssertEqual((o["skipped"] as? [[String: Any]])?.first?["pid"] as? Int, 44)

        o = try object { $0.killActionReport(kill(.failed("EPERM"))) }
        XCTAssertEqual(o["status"] as? String, "error")
        XCTAssertEqual(o["reason"] as? String, "EPERM")
    }

    private let done = HashResult(path: "/tmp/a\"b", state: .done,
                                  hashes: ["sha1:a9993e364706816aba3e25717850c26c9cd0d89d",
                                           "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
                                  detail: nil, fromCache: false)

    func testHashReports() throws {
        var o = try object { $0.hashActionReport(done) }
        XCTAssertEqual(o["type"] as? String, "hash")
        XCTAssertEqual(o["path"] as? String, "/tmp/a\"b")
        XCTAssertEqual(o["state"] as? String, "Done")
        XCTAssertNil(o["reason"])
        o = try object { $0.hashActionReport(HashResult(path: "", state: .pathnameResolutionError, hashes: [], detail: "no path", fromCache: false)) }
        XCTAssertNil(o["path"])
        XCTAssertEqual(o["state"] as? String, "PathnameResolutionError")
        XCTAssertEqual(o["reason"] as? String, "no path")

        o = try object { w in
            w.beginObject()
            w.key("path")
            w.string("/tmp/x")
            w.fileHashMembers(done)
            w.endObject()
        }
        XCTAssertEqual(o["hashes"] as? [String], done.hashes)
        XCTAssertEqual(o["hash_state"] as? String, "Done")
        o = try object { w in
            w.beginObject()
            w.fileHashMembers(HashResult(path: "/x", state: .fileTooBig, hashes: [], detail: nil, fromCache: false))
            w.endObject()
        }
        XCTAssertNil(o["hashes"])
        XCTAssertEqual(o["hash_state"] as? String, "FileTooBig")
    }

    /// A golden exec line with the reports spliced in where the lead writes them stays valid
    /// against the schema copy.
    func testReportsInAnEventLineValidate() throws {
        let golden = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Golden/exec.json")
        var line = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: golden)) as? [String: Any])
        var items: [Any] = []
        for outcome in [kill(.performed, signalled: [42], killedAt: 9), kill(.disarmed(.container)), kill(.refused("why"))] {
            items.append(try object { $0.killActionReport(outcome) })
        }
        items.append(try object { $0.hashActionReport(done) })
        var agent = try XCTUnwrap(line["agent"] as? [String: Any])
        agent["rule_actions"] = items
        line["agent"] = agent
        var process = try XCTUnwrap(line["process"] as? [String: Any])
        var file = try XCTUnwrap(process["executable"] as? [String: Any])
        for (key, value) in try object({ w in
            w.beginObject()
            w.fileHashMembers(done)
            w.endObject()
        }) { file[key] = value }
        process["executable"] = file
        line["process"] = process
        SchemaValidation.assertValid(Array(try JSONSerialization.data(withJSONObject: line)) + [UInt8(ascii: "\n")])
    }
}
