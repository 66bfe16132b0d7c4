import AgentCore
import Foundation
import Serializers
import SchemaValidation
import XCTest

/// Scrubbing of secrets at serialization: Datadog's matching rules for arguments, names only for
/// environments, and rules still seeing the real values.
final class ScrubbingTests: XCTestCase {
    private let defaults = try! ArgumentScrubber(words: ScrubbingSettings.defaultSensitiveWords)

    private func scrubbed(_ args: [String], _ scrubber: ArgumentScrubber? = nil) -> [String] {
        let list = StringList(args)
        return (scrubber ?? defaults).scrub(list).map(Array.init) ?? args
    }

    private func assertScrubbed(_ args: [String], _ expected: [String], _ scrubber: ArgumentScrubber? = nil,
                                file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(scrubbed(args, scrubber), expected, file: file, line: line)
    }

    private func assertUntouched(_ args: [String], _ scrubber: ArgumentScrubber? = nil, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNil((scrubber ?? defaults).scrub(StringList(args)), "\(args) should be left as it is", file: file, line: line)
    }

    // MARK: - Arguments

    func testWordWithValueInTheArgument() {
        assertScrubbed(["--password=hunter2"], ["--password=********"])
        assertScrubbed(["-password=1234"], ["-password=********"])
        assertScrubbed(["api_key=AKIAIOSFODNN7EXAMPLE"], ["api_key=********"])
        assertScrubbed(["PASSWORD:x"], ["PASSWORD:********"])
        assertScrubbed(["--PaSsWoRd=1234"], ["--PaSsWoRd=********"])
        assertScrubbed(["-password=========123"], ["-password=********"])
        assertScrubbed(["password/test:123"], ["password/test:********"])
        assertScrubbed(["-password////:123"], ["-password////:********"])
        assertScrubbed(["GITHUB_TOKEN=ghp_0123456789", "--auth_token=t"], ["GITHUB_TOKEN=********", "--auth_token=********"])
        assertScrubbed(["--passwd=1234", "--passwords=12345,123456", "--mypasswords=1234,123456"],
                       ["--passwd=********", "--passwords=********", "--mypasswords=********"])
        assertScrubbed(["-Dopscenter.ssl.keyStorePassword=opscenter", "-Dagent-pidfile=/var/run/agent.pid", "--anotherpassword=1234"],
                       ["-Dopscenter.ssl.keyStorePassword=********", "-Dagent-pidfile=/var/run/agent.pid", "--anotherpassword=********"])
        assertScrubbed(["--password=\"Data Source another_password=12345\""], ["--password=********"])
        assertScrubbed(["--password:'Data Source'", "x"], ["--password:********", "x"])
        assertScrubbed(["--client-secret=s", "--credentials=c", "MYSQL_PWD=p", "--stripetoken=t"],
                       ["--client-secret=********", "--credentials=********", "MYSQL_PWD=********", "--stripetoken=********"])
    }

    func testWordThenValueInTheNextArgument() {
        assertScrubbed(["--password", "hunter2"], ["--password", "********"])
        assertScrubbed(["-password", "1234", "-v"], ["-password", "********", "-v"])
        assertScrubbed(["--db-password", "x", "--secret", "y"], ["--db-password", "********", "--secret", "********"])
        // Datadog's: the next argument is the value, whatever it is.
        assertScrubbed(["password", "-token", "1234"], ["password", "********", "1234"])
        assertScrubbed(["-password", "-password"], ["-password", "********"])
        assertScrubbed(["kafka", "password", "1234"], ["kafka", "password", "********"])
        // An empty argument between them is Datadog's run of spaces.
        assertScrubbed(["-password", "", "1234"], ["-password", "", "********"])
    }

    func testInsideAnArgumentAfterASpace() {
        assertScrubbed(["-c", "mysql --password=hunter2 -e 'select 1'"], ["-c", "mysql --password=******** -e 'select 1'"])
        assertScrubbed(["-c", "curl -H token:abc https://x"], ["-c", "curl -H token:******** https://x"])
    }

    /// The first argument is matched like the others (Datadog's CWS never matches it).
    func testFirstArgumentIsMatched() {
        assertScrubbed(["--token", "abc"], ["--token", "********"])
    }

    /// A quoted value running over arguments is masked in each of them.
    func testQuotedValueOverArguments() {
        assertScrubbed(["--password='a", "b'", "next"], ["--password=********", "********", "next"])
    }

    func testNotScrubbed() {
        // Datadog has no `-p` rule: a port, a pid or a path in most tools.
        assertUntouched(["-p", "hunter2"])
        assertUntouched(["-uroot", "-phunter2"])
        assertUntouched(["start", "-p", "config.cfg"])
        // The word in the value, not the key.
        assertUntouched(["--user=mypassword"])
        assertUntouched(["-user", "admin", "--debug_port=2043"])
        // No delimiter after the key.
        assertUntouched(["-password/123"])
        assertUntouched(["--password"])
        assertUntouched(["-open_pword=admin", "-pword", "1234"])
        // Paths: a `*` before the word does not cross `/` or `$`.
        assertUntouched(["cat", "/etc/vaultd/secrets/haproxy.pem"])
        assertUntouched(["-cp", "$ES_CLASSPATH:$ES_HOME/lib/*"])
        assertUntouched([])
        assertUntouched(["-s", "https://example.com/install.sh"])
    }

    /// Nothing to hide: `--password=` has no value.
    func testEmptyValueStaysEmpty() {
        assertUntouched(["--password="])
        assertUntouched(["--password", ""])
    }

    func testCustomWordsWithWildcards() throws {
        let scrubber = try ArgumentScrubber(words: ["*befpass", "afterpass*", "mi*le", "*path*", "consul_token"])
        assertScrubbed(["--befpass=2043", "onebefpass", "1234", "--befpassCustom=1234"],
                       ["--befpass=********", "onebefpass", "********", "--befpassCustom=1234"], scrubber)
        assertScrubbed(["--afterpass=2043", "afterpass_1", "1234", "--befafterpass_1=1234"],
                       ["--afterpass=********", "afterpass_1", "********", "--befafterpass_1=1234"], scrubber)
        assertScrubbed(["middle", "1234", "-mile", "1234", "--mill=1234"], ["middle", "********", "-mile", "********", "--mill=1234"], scrubber)
        assertScrubbed(["-Des.path.home=/usr/local/es", "-cp", "$ES_CLASSPATH:$ES_HOME/lib/*"],
                       ["-Des.path.home=********", "-cp", "$ES_CLASSPATH:$ES_HOME/lib/*"], scrubber)
        assertScrubbed(["\u{2011}XXpath:/secret/"], ["\u{2011}XXpath:********"], scrubber)
        assertScrubbed(["--consul_token", "1234567890", "-consul_token=1"], ["--consul_token", "********", "-consul_token=********"], scrubber)
        // A word without wildcards matches the whole key only.
        assertUntouched(["--consul_token2=1", "---consul_token=1"], scrubber)
        // The defaults are not in this scrubber.
        assertUntouched(["--password=x"], scrubber)
    }

    func testInvalidWordsAreRefused() {
        for word in ["", "*", "**", "a**b", "pass-word", "pass word", "pass=", "/p"] {
            XCTAssertThrowsError(try ArgumentScrubber(words: [word]), word)
        }
        XCTAssertNoThrow(try ArgumentScrubber(words: ScrubbingSettings.defaultSensitiveWords))
        XCTAssertThrowsError(try EventSerializer(scrubbing: ScrubbingSettings(sensitiveWords: ["bad-word"])))
        // Words are checked only when scrubbing is on.
        XCTAssertNoThrow(try EventSerializer(scrubbing: ScrubbingSettings(enabled: false, sensitiveWords: ["bad-word"])))
    }

    /// Hostile input: long arguments full of near-matches take linear time and never trap.
    func testLongAndHostileArguments() {
        let long = String(repeating: "passwor", count: 2_000) + "d=x"
        XCTAssertEqual(scrubbed([long]), [String(repeating: "passwor", count: 2_000) + "d=********"])
        let spaces = String(repeating: " password", count: 2_000)
        XCTAssertEqual(scrubbed([spaces]).first?.contains("********"), true)
        let quotes = Array(repeating: "--password=\"", count: 500)
        _ = scrubbed(quotes)
        assertUntouched([String(repeating: "=:", count: 5_000)])
    }

    // MARK: - Environment

    private func environment(_ envs: [String], _ names: [String] = ScrubbingSettings.defaultEnvsWithValue) -> [String] {
        var out: [String] = []
        EnvironmentScrubber(envsWithValue: names).forEach(StringList(envs)) { out.append(String(decoding: $0, as: UTF8.self)) }
        return out
    }

    func testEnvironmentNamesOnly() {
        XCTAssertEqual(
            environment(["HOME=/root", "MYSQL_PWD=s3cr3t", "AWS_SECRET_ACCESS_KEY=wJalr", "LD_LIBRARY_PATH=/x", "PATH=/usr/bin",
                         "LD_PRELOAD=/tmp/a.so", "KEY", "EMPTY=", "A=b=c", "path=/lower"]),
            ["HOME", "MYSQL_PWD", "AWS_SECRET_ACCESS_KEY", "LD_LIBRARY_PATH=/x", "PATH=/usr/bin", "LD_PRELOAD=/tmp/a.so", "KEY", "EMPTY",
             "A", "path"])
        XCTAssertEqual(environment(["DD_API_KEY=abc", "MY_VAR=1"], ["MY_VAR"]), ["DD_API_KEY", "MY_VAR=1"])
        XCTAssertEqual(environment([], []), [])
    }

    // MARK: - Serializer

    /// bash(10, `--password hunter2`) -> sh(11, `api_key=...`) -> the exec (12) with secrets in its
    /// arguments and environment.
    private func secretExec() -> Event {
        let grandparent = ProcessEntry(pid: 10, comm: "bash", forkTimeNs: 1, execTimeNs: 2, executable: Fixtures.binary("/usr/bin/bash"),
                                       argv0: "bash", args: ["--password", "hunter2"], envs: ["MYSQL_PWD=s3cr3t"])
        let parent = ProcessEntry(pid: 11, ppid: 10, comm: "sh", forkTimeNs: 3, execTimeNs: 4, executable: Fixtures.binary("/bin/sh"),
                                  argv0: "sh", args: ["-c", "run api_key=AKIAIOSFODNN7EXAMPLE"], envs: ["MYSQL_PWD=s3cr3t"],
                                  parent: grandparent)
        let process = ProcessEntry(pid: 12, ppid: 11, comm: "mysql", forkTimeNs: 5, execTimeNs: 6,
                                   executable: Fixtures.binary("/usr/bin/mysql"), argv0: "mysql --password=argv0-stays",
                                   args: ["--password=hunter2", "-u", "root"], argsTruncated: true,
                                   envs: ["MYSQL_PWD=s3cr3t", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI", "LD_LIBRARY_PATH=/x", "TERM=xterm"],
                                   credentials: Fixtures.rootCredentials(), parent: parent)
        return Event(type: .exec, timeNs: Fixtures.eventTime, pid: 12, tid: 12, comm: "mysql", process: process,
                     payload: .exec(ExecPayload(file: process.executable!, credentials: process.credentials, ppid: 11,
                                                argv0: process.argv0, args: process.args, envs: process.envs)))
    }

    private static let secrets = ["hunter2", "AKIAIOSFODNN7EXAMPLE", "s3cr3t", "wJalrXUtnFEMI"]

    func testExecLineIsScrubbedInProcessParentAndAncestors() throws {
        let serializer = EventSerializer()
        let event = secretExec()
        let line = serializer.line(event, context: Fixtures.context)
        for secret in Self.secrets { XCTAssertFalse(line.contains(secret), "\(secret) in \(line)") }
        SchemaValidation.assertValid(lines: [line])
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let process = try XCTUnwrap(object["process"] as? [String: Any])
        XCTAssertEqual(process["argv0"] as? String, "mysql --password=argv0-stays")
        XCTAssertEqual(process["args"] as? [String], ["--password=********", "-u", "root"])
        XCTAssertEqual(process["args_truncated"] as? Bool, true)
        XCTAssertEqual(process["envs"] as? [String], ["MYSQL_PWD", "AWS_SECRET_ACCESS_KEY", "LD_LIBRARY_PATH=/x", "TERM"])
        let parent = try XCTUnwrap(process["parent"] as? [String: Any])
        XCTAssertEqual(parent["args"] as? [String], ["-c", "run api_key=********"])
        let ancestors = try XCTUnwrap(process["ancestors"] as? [[String: Any]])
        XCTAssertEqual(ancestors.map { $0["args"] as? [String] }, [["-c", "run api_key=********"], ["--password", "********"]])
        // The same from the caches.
        XCTAssertEqual(serializer.line(event, context: Fixtures.context), line)
        // A later event of the same process (its object cached without envs) and of a child.
        let open = Event(type: .open, timeNs: Fixtures.eventTime, pid: 12, tid: 12, process: event.process, payload: .open(OpenPayload(
            file: FileInfo(path: "/etc/hosts"), flags: 0, mode: 0, dirfd: -100, syscall: .openat, userPath: "/etc/hosts")))
        let openLine = serializer.line(open, context: Fixtures.context)
        for secret in Self.secrets { XCTAssertFalse(openLine.contains(secret), "\(secret) in \(openLine)") }
    }

    func testOffWritesEverything() throws {
        let line = try EventSerializer(scrubbing: .off).line(secretExec(), context: Fixtures.context)
        for secret in Self.secrets { XCTAssertTrue(line.contains(secret), "\(secret) missing from \(line)") }
        XCTAssertTrue(line.contains(#""envs":["MYSQL_PWD=s3cr3t","#))
        SchemaValidation.assertValid(lines: [line])
    }

    func testFlagsAddWordsAndVariables() throws {
        let settings = ScrubbingSettings(sensitiveWords: ScrubbingSettings.defaultSensitiveWords + ["*vault_key*"],
                                         envsWithValue: ScrubbingSettings.defaultEnvsWithValue + ["TERM"])
        let event = secretExec()
        event.process!.args = ["--vault_key", "k1", "--password=hunter2"]
        let line = try EventSerializer(scrubbing: settings).line(event, context: Fixtures.context)
        XCTAssertTrue(line.contains(#""args":["--vault_key","********","--password=********"]"#), line)
        XCTAssertTrue(line.contains(#""TERM=xterm""#), line)
        XCTAssertFalse(line.contains("s3cr3t"), line)
    }

    func testModuleArgumentsAreScrubbed() {
        let event = Fixtures.withPayload(.loadModule, .loadModule(LoadModulePayload(
            name: "m", loadedFromMemory: false, argv: ["debug=1", "secret=abc"], argsTruncated: false, file: nil)))
        let line = EventSerializer().line(event, context: Fixtures.context)
        XCTAssertTrue(line.contains(#""argv":["debug=1","secret=********"]"#), line)
        SchemaValidation.assertValid(lines: [line])
    }

    /// Rules evaluate the real values; the line holds none; `policy evaluate` reads the line.
    func testRulesSeeTheRealValuesAndTheLineHoldsNone() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("scrub-\(getpid()).policy")
        try """
        rules:
          - id: secret_in_args
            expression: exec.args_options in ["password=hunter2"]
          - id: secret_in_envp
            expression: exec.envp in ["MYSQL_PWD=s3cr3t"]
          - id: secret_in_parent
            expression: exec.file.name == "mysql" && process.parent.args =~ "*AKIAIOSFODNN7EXAMPLE*"
        """.write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let set = PolicyLoader().load(paths: [url.path]).ruleSet
        let event = secretExec()
        XCTAssertEqual(set.matches(event), ["secret_in_args", "secret_in_envp", "secret_in_parent"])
        let line = EventSerializer().line(event, context: Fixtures.context)
        for secret in Self.secrets { XCTAssertFalse(line.contains(secret), "\(secret) in \(line)") }
        // The scrubbed line is an ordinary line for the reader: `********` is a value, names are names.
        let read = try EventJSONReader.event(fromLine: line)
        XCTAssertEqual(read.process?.args, ["--password=********", "-u", "root"])
        XCTAssertEqual(read.process?.envs, ["MYSQL_PWD", "AWS_SECRET_ACCESS_KEY", "LD_LIBRARY_PATH=/x", "TERM"])
        XCTAssertEqual(set.matches(read), [])
    }
}
