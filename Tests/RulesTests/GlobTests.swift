import XCTest
@testable import AgentCore

final class GlobTests: XCTestCase {
    func testPathGlobs() {
        let star = Glob("/etc/*", isPath: true)
        XCTAssertTrue(star.matches("/etc/passwd"))
        XCTAssertFalse(star.matches("/etc/ssh/sshd_config"), "* stays inside one segment")
        XCTAssertFalse(star.matches("/etc/"), "trailing slash: * needs a non-empty segment")
        XCTAssertFalse(star.matches("/etc"))
        let deep = Glob("/etc/**", isPath: true)
        XCTAssertTrue(deep.matches("/etc/ssh/sshd_config"))
        XCTAssertTrue(deep.matches("/etc/passwd"))
        XCTAssertFalse(deep.matches("/etc/"))
        XCTAssertFalse(deep.matches("/etcx/a"))
        let mid = Glob("/var/run/secrets/**/token", isPath: true)
        XCTAssertTrue(mid.matches("/var/run/secrets/a/b/token"))
        XCTAssertTrue(mid.matches("/var/run/secrets/token"))
        XCTAssertFalse(mid.matches("/var/run/secrets/a/tokens"))
        let home = Glob("/home/*/.ssh/id_rsa", isPath: true)
        XCTAssertTrue(home.matches("/home/alice/.ssh/id_rsa"))
        XCTAssertFalse(home.matches("/home/alice/x/.ssh/id_rsa"))
        let lead = Glob("*/bin/*", isPath: true)
        XCTAssertTrue(lead.matches("/usr/bin/ls"))
        XCTAssertFalse(lead.matches("/usr/local/bin/ls"))
        XCTAssertTrue(Glob("/proc/*/status", isPath: true).matches("/proc/123/status"))
        XCTAssertTrue(Glob("/tmp/*.sh", isPath: true).matches("/tmp/x.sh"))
        XCTAssertFalse(Glob("/tmp/*.sh", isPath: true).matches("/tmp/a/x.sh"))
    }

    func testStringGlobs() {
        XCTAssertTrue(Glob("*msr*allow_writes*", isPath: false).matches("msr.allow_writes=on"))
        XCTAssertTrue(Glob("* install *", isPath: false).matches("npm install x"))
        XCTAssertFalse(Glob("* install *", isPath: false).matches("install x"))
        XCTAssertTrue(Glob("python*", isPath: false).matches("python"))
        XCTAssertTrue(Glob("*", isPath: false).matches(""))
        XCTAssertFalse(Glob("a", isPath: false).matches(""))
        XCTAssertTrue(Glob("", isPath: false).matches(""))
        XCTAssertTrue(Glob("*.minexmr.com", isPath: false).matches("pool.minexmr.com"))
        XCTAssertFalse(Glob("*.minexmr.com", isPath: false).matches("minexmr.com"))
        XCTAssertTrue(Glob("a*b*c", isPath: false).matches("aXbYbZc"))
        XCTAssertFalse(Glob("a*b*c", isPath: false).matches("aXbYbZ"))
        XCTAssertTrue(Glob(#"a\*b"#, isPath: false).matches("a*b"), "escaped star is literal")
        XCTAssertFalse(Glob(#"a\*b"#, isPath: false).matches("axb"))
        XCTAssertTrue(Glob("*/x/*", isPath: false).matches("a/b/x/c/d"), "outside paths * crosses slashes")
    }

    func testRegex() throws {
        let e = T.exec("/usr/bin/iptables", args: ["-A", "OUTPUT", "-d", "8.8.8.8", "-j", "ACCEPT"])
        XCTAssertTrue(try T.eval(#"process.args in [r"OUTPUT.*((25[0-5]|(2[0-4]|1\d|[1-9]|)\d)\.?\b){4}.*ACCEPT"]"#, e))
        XCTAssertTrue(try T.eval(#"exec.comm =~ r"^ipt""#, e))
        XCTAssertFalse(try T.eval(#"exec.comm =~ r"^\[.*\]$""#, e))
        XCTAssertTrue(try T.eval(#"process.args =~ r"(?i)output""#, e))
        XCTAssertThrowsError(try T.compile(#"exec.comm =~ r"(unclosed""#))
    }
}
