import XCTest
import Foundation
import Glibc
@testable import AgentCore

final class UserGroupResolverTests: XCTestCase {
    private var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "csm-ug-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func write(_ name: String, _ text: String) throws -> String {
        let path = directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testParsesPasswdAndGroup() throws {
        let passwd = try write("passwd", """
            # comment
            root:x:0:0:root:/root:/bin/bash
            daemon:x:1:1::/usr/sbin:/usr/sbin/nologin

            broken line
            alice:x:1000:1000:Alice:/home/alice:/bin/zsh
            alias:x:1000:1000::/:/bin/sh
            +nis::::::
            nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin
            """)
        let group = try write("group", "root:x:0:\nadm:x:4:syslog,alice\nalice:x:1000:\nbad:x:notanumber:\n")
        let resolver = PasswdGroupResolver(passwdPath: passwd, groupPath: group)
        XCTAssertEqual(resolver.userName(0), "root")
        XCTAssertEqual(resolver.userName(1), "daemon")
        XCTAssertEqual(resolver.userName(1000), "alice", "first entry of an id wins")
        XCTAssertEqual(resolver.userName(65534), "nobody")
        XCTAssertNil(resolver.userName(4242))
        XCTAssertEqual(resolver.groupName(4), "adm")
        XCTAssertEqual(resolver.groupName(1000), "alice")
        XCTAssertNil(resolver.groupName(77))
    }

    func testReloadsWhenFilesChangeAtMostOncePerInterval() throws {
        let passwd = try write("passwd", "root:x:0:0::/:/bin/sh\n")
        let group = try write("group", "root:x:0:\n")
        let resolver = PasswdGroupResolver(passwdPath: passwd, groupPath: group, checkIntervalNs: 1_000)
        XCTAssertNil(resolver.userName(1001))
        XCTAssertEqual(resolver.loads, 1)

        resolver.reloadIfChanged(nowNs: 5_000)
        XCTAssertEqual(resolver.loads, 1, "unchanged files are not re-read")

        _ = try write("passwd", "root:x:0:0::/:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\n")
        _ = try write("group", "root:x:0:\nbob:x:1001:\n")
        resolver.reloadIfChanged(nowNs: 5_500)
        XCTAssertNil(resolver.userName(1001), "checked at most once per interval")
        resolver.reloadIfChanged(nowNs: 7_000)
        XCTAssertEqual(resolver.loads, 2)
        XCTAssertEqual(resolver.userName(1001), "bob")
        XCTAssertEqual(resolver.groupName(1001), "bob")
    }

    func testMissingFilesGiveNoNames() {
        let resolver = PasswdGroupResolver(passwdPath: directory + "/none", groupPath: directory + "/none2")
        XCTAssertNil(resolver.userName(0))
        resolver.reloadIfChanged(nowNs: 10_000_000_000)
        XCTAssertNil(resolver.groupName(0))
    }
}
