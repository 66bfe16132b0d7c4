import Foundation
import SchemaValidation
import Serializers
import XCTest
@testable import AgentCore

/// Rules of Datadog's default policy on the event types that are modelled but that no probe
/// produces yet: they load, and match (or not) hand-made events of those types, evaluated directly
/// and after a round trip through the agent's JSON (as `policy evaluate` reads them).
final class ModelledEventRulesTests: XCTestCase {
    private static let set: RuleSet = PolicyLoader().load(paths: [T.corpus]).ruleSet

    /// A python3 process run by an unprivileged user, child of a shell.
    private func process(uid: UInt32 = 1000, path: String = "/usr/bin/python3", mode: UInt32 = 0o100755) -> ProcessEntry {
        ProcessEntry(pid: 300, ppid: 60, comm: FileInfo.baseName(of: path), executable: FileInfo(path: path, mode: mode),
                     argv0: FileInfo.baseName(of: path), credentials: Credentials(uid: uid, gid: uid, euid: uid), parent: T.chain())
    }

    private func event(_ type: EventType, _ payload: EventPayload, process p: ProcessEntry? = nil) -> Event {
        let p = p ?? process()
        return Event(type: type, timeNs: 1_750_000_000_000_000_000, pid: p.pid, tid: p.pid, process: p, payload: payload)
    }

    private func change(_ path: String, _ edit: (inout FileChangePayload) -> Void = { _ in }) -> EventPayload {
        var p = FileChangePayload(file: FileInfo(path: path, mode: 0o100640))
        edit(&p)
        return .fileChange(p)
    }

    /// The rule ids matching `event`, directly and read back from its JSON line.
    private func matches(_ event: Event) throws -> (direct: [String], fromJSON: [String]) {
        let line = EventSerializer().line(event, context: AgentContext(version: "test", arch: "x86_64"))
        SchemaValidation.assertValid(lines: [line])
        let read = try EventJSONReader.event(fromLine: line)
        return (Self.set.matches(event), Self.set.matches(read))
    }

    func testCorpusRulesOnModelledEvents() throws {
        let suid = process(uid: 1000, path: "/usr/local/bin/escalate", mode: 0o104755)
        let cases: [(Event, String, Bool)] = [
            (event(.chmod, change("/etc/shadow") { $0.destinationMode = 0o644 }), "credential_modified_chmod", true),
            (event(.chmod, change("/etc/shadow") { $0.destinationMode = 0o100640 }), "credential_modified_chmod", false),
            (event(.chown, change("/etc/shadow") { $0.destinationUID = 1000; $0.destinationGID = 0 }), "credential_modified_chown", true),
            (event(.rename, change("/tmp/x") { $0.destination = FileInfo(path: "/etc/shadow") }), "credential_modified_rename", true),
            (event(.rename, change("/tmp/x") { $0.destination = FileInfo(path: "/etc/shadow.bak") }), "credential_modified_rename", false),
            (event(.link, change("/etc/gshadow") { $0.destination = FileInfo(path: "/tmp/g") }), "credential_modified_link", true),
            (event(.unlink, change("/etc/shadow")), "credential_modified_unlink", true),
            (event(.utimes, change("/etc/gshadow")), "credential_modified_utimes", true),
            (event(.utimes, change("/etc/passwd")), "credential_modified_utimes", false),
            (event(.setuid, .credentials(CredentialChangePayload(uid: 0, euid: 0)), process: suid), "suid_file_execution", true),
            (event(.setuid, .credentials(CredentialChangePayload(uid: 1000, euid: 1000)), process: suid), "suid_file_execution", false),
            (event(.dns, .dns(DNSPayload(name: "discord.com", type: 1))), "chatroom_request", true),
            (event(.dns, .dns(DNSPayload(name: "example.com", type: 1))), "chatroom_request", false),
        ]
        for (event, rule, expected) in cases {
            let (direct, fromJSON) = try matches(event)
            XCTAssertEqual(direct.contains(rule), expected, "\(rule) on \(event.type.name): \(direct)")
            XCTAssertEqual(fromJSON, direct, "\(rule): the JSON round trip changes the matches")
            XCTAssertEqual(Self.set.matches(event), Self.set.matchesUnfiltered(event), "\(rule): approvers")
        }
    }

    /// `connect.addr.hostname` is not in the backend schema: hand-written events carry it in
    /// `connect.addr`, which the JSON reader accepts.
    func testConnectHostnameFromHandWrittenJSON() throws {
        let line = """
        {"evt":{"name":"connect"},"process":{"pid":300,"comm":"curl","executable":{"path":"/usr/bin/curl","name":"curl"}},\
        "connect":{"addr":{"hostname":"webhook.site","ip":"203.0.113.9","port":443}}}
        """
        let event = try EventJSONReader.event(fromLine: line)
        guard case .connection(let c) = event.payload else { return XCTFail("payload \(event.payload)") }
        XCTAssertEqual(c.hostname, "webhook.site")
        XCTAssertEqual(c.family, 2)
        XCTAssertTrue(Self.set.matches(event).contains("connection_to_exfil_domain"), "\(Self.set.matches(event))")
    }
}
