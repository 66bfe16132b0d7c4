import AgentCore
import Foundation
import Serializers
import SchemaValidation
import XCTest

/// The event types that are modelled but that no probe produces yet (file changes, credential
/// changes, connect/accept, dns, imds): every one serializes to schema-valid JSON, and the JSON reader
/// of `policy evaluate` reads back what the rule engine needs.
final class ModelledEventTests: XCTestCase {
    static func process() -> ProcessEntry {
        ProcessEntry(pid: 4242, ppid: 4100, comm: "python3", executable: Fixtures.binary("/usr/bin/python3"), argv0: "python3",
                     args: ["app.py"], credentials: Fixtures.userCredentials(), parent: Fixtures.ancestry())
    }

    static func event(_ type: EventType, _ payload: EventPayload) -> Event {
        let p = process()
        return Event(type: type, timeNs: Fixtures.eventTime, pid: p.pid, tid: p.pid, comm: p.comm, process: p, payload: payload)
    }

    /// One event of every modelled type, with every payload value set.
    static func events() -> [Event] {
        let shadow = Fixtures.binary("/etc/shadow")
        var events: [Event] = []
        for type in EventType.allCases where type.isFileChange {
            var change = FileChangePayload(file: shadow)
            change.syscallPath = "shadow"
            switch type {
            case .link, .rename: change.destination = Fixtures.binary("/tmp/shadow.copy")
            case .chmod, .mkdir: change.destinationMode = 0o777
            case .chown:
                change.destinationUID = 1000
                change.destinationGID = -1
                change.destinationUser = "alice"
            case .setxattr, .removexattr:
                change.attributeName = "security.capability"
                change.attributeNamespace = "security"
            default: break
            }
            events.append(event(type, .fileChange(change)))
        }
        var setuid = CredentialChangePayload(uid: 0, euid: 0, fsuid: 0)
        setuid.user = "root"
        events.append(event(.setuid, .credentials(setuid)))
        events.append(event(.setgid, .credentials(CredentialChangePayload(gid: 0, egid: 0, fsgid: 0))))
        events.append(event(.capset, .credentials(CredentialChangePayload(capEffective: 1 << 21, capPermitted: 1 << 21))))
        events.append(event(.connect, .connection(ConnectionPayload(family: 2, ip: "203.0.113.9", port: 443, protocol_: 6))))
        events.append(event(.accept, .connection(ConnectionPayload(family: 10, ip: "2001:db8::1", port: 8080, protocol_: 6))))
        events.append(event(.dns, .dns(DNSPayload(id: 77, name: "pool.example.com", type: 16, size: 40))))
        events.append(event(.imds, .imds(IMDSPayload(url: "/latest/meta-data/iam/security-credentials/role", host: "169.254.169.254",
                                                     userAgent: "curl/8.0", isIMDSv2: false))))
        return events
    }

    func testEveryModelledTypeIsSchemaValidAndReadsBack() throws {
        let events = Self.events()
        XCTAssertEqual(Set(events.map(\.type)), Set(EventType.allCases.filter { !$0.hasProbe }))
        let serializer = EventSerializer()
        var output: [UInt8] = []
        for event in events { serializer.serialize(event, context: Fixtures.context, into: &output) }
        SchemaValidation.assertValid(output)

        let lines = String(decoding: output, as: UTF8.self).split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.count, events.count)
        for (line, original) in zip(lines, events) {
            let read = try EventJSONReader.event(fromLine: line)
            XCTAssertEqual(read.type, original.type)
            XCTAssertEqual(read.process?.pid, original.process?.pid)
            switch (read.payload, original.payload) {
            case (.fileChange(let a), .fileChange(let b)):
                XCTAssertEqual(a.file.path, b.file.path, "\(read.type)")
                XCTAssertEqual(a.destination?.path, b.destination?.path, "\(read.type)")
                XCTAssertEqual(a.destinationMode, b.destinationMode, "\(read.type)")
                XCTAssertEqual(a.destinationUID, b.destinationUID, "\(read.type)")
                XCTAssertEqual(a.destinationGID, b.destinationGID, "\(read.type)")
                XCTAssertEqual(a.destinationUser, b.destinationUser, "\(read.type)")
                XCTAssertEqual(a.attributeName, b.attributeName, "\(read.type)")
                XCTAssertEqual(a.attributeNamespace, b.attributeNamespace, "\(read.type)")
                // The schema's syscall context has only some of the types.
                if [.chmod, .chown, .chdir, .unlink, .link, .rename, .utimes].contains(read.type) {
                    XCTAssertEqual(a.syscallPath, b.syscallPath, "\(read.type)")
                }
            case (.credentials(let a), .credentials(let b)):
                XCTAssertEqual([a.uid, a.euid, a.fsuid, a.gid, a.egid, a.fsgid], [b.uid, b.euid, b.fsuid, b.gid, b.egid, b.fsgid])
                XCTAssertEqual(a.user, b.user)
                XCTAssertEqual(a.capEffective, b.capEffective)
                XCTAssertEqual(a.capPermitted, b.capPermitted)
            case (.connection(let a), .connection(let b)):
                XCTAssertEqual(a.ip, b.ip)
                XCTAssertEqual(a.port, b.port)
                XCTAssertEqual(a.family, b.family)
                XCTAssertEqual(a.protocol_, b.protocol_)
            case (.dns(let a), .dns(let b)):
                XCTAssertEqual([a.id, a.type, a.qclass, a.size, a.count], [b.id, b.type, b.qclass, b.size, b.count])
                XCTAssertEqual(a.name, b.name)
            case (.imds(let a), .imds(let b)):
                XCTAssertEqual([a.type, a.cloudProvider, a.url, a.host, a.userAgent], [b.type, b.cloudProvider, b.url, b.host, b.userAgent])
                XCTAssertEqual(a.isIMDSv2, b.isIMDSv2)
            default:
                XCTFail("\(read.type): payload read back as \(read.payload)")
            }
        }
    }
}
