import Foundation
import XCTest
@testable import AgentCore

/// `kill` and `hash` action definitions as policies load them.
final class RuleActionParseTests: XCTestCase {
    /// Loads one rule with `actions` (YAML lines under `actions:`) on `expression`.
    private func load(_ actions: String, expression: String = #"exec.file.name == "nc""#) throws -> (PolicyLoader.Result, RuleReport) {
        let policy = """
        rules:
          - id: r
            expression: '\(expression)'
            actions:
        \(actions.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n"))

        """
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("actions-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).policy")
        try policy.write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let result = PolicyLoader().load(paths: [url.path])
        XCTAssertTrue(result.fileErrors.isEmpty, "\(result.fileErrors)")
        return (result, try XCTUnwrap(result.reports.first))
    }

    private func kill(_ actions: String) throws -> KillAction {
        let (result, report) = try load(actions)
        XCTAssertEqual(report.status, .loaded, report.reason)
        guard case .kill(let kill)? = result.ruleSet.rules.first?.actions.first?.kind else {
            XCTFail("no kill action")
            throw ActionError("no kill action")
        }
        return kill
    }

    private func error(_ actions: String, expression: String = #"exec.file.name == "nc""#) throws -> String {
        let (_, report) = try load(actions, expression: expression)
        XCTAssertEqual(report.status, .error, "expected an error, got \(report.status): \(report.reason)")
        XCTAssertFalse(report.reason.contains("\n"), report.reason)
        return report.reason
    }

    func testKillSignalsAndScopes() throws {
        var k = try kill("- kill:\n    signal: SIGKILL")
        XCTAssertEqual(k.signal, 9)
        XCTAssertEqual(k.signalName, "SIGKILL")
        XCTAssertEqual(k.scope, .process)
        XCTAssertFalse(k.disableContainerDisarmer)
        XCTAssertFalse(k.disableExecutableDisarmer)

        k = try kill("- kill:\n    signal: SIGTERM\n    scope: container")
        XCTAssertEqual(k.signal, 15)
        XCTAssertEqual(k.scope, .container)

        XCTAssertEqual(try kill("- kill:\n    signal: KILL").signal, 9)
        XCTAssertEqual(try kill("- kill:\n    signal: sigusr1").signalName, "SIGUSR1")
        XCTAssertEqual(try kill("- kill:\n    signal: 15").signalName, "SIGTERM")
        XCTAssertEqual(try kill("- kill:\n    signal: '2'").signalName, "SIGINT")
        XCTAssertEqual(try kill("- kill:\n    signal: 35").signalName, "SIGRTMIN+3")

        k = try kill("- kill:\n    signal: SIGKILL\n    disable_container_disarmer: true\n    disable_executable_disarmer: true")
        XCTAssertTrue(k.disableContainerDisarmer)
        XCTAssertTrue(k.disableExecutableDisarmer)

        // With a filter beside it.
        let (result, report) = try load("- filter: 'process.uid == 0'\n  kill:\n    signal: SIGKILL")
        XCTAssertEqual(report.status, .loaded, report.reason)
        XCTAssertNotNil(result.ruleSet.rules.first?.actions.first?.filter)
    }

    func testKillErrors() throws {
        // Datadog requires the signal: there is no default.
        XCTAssertTrue(try error("- kill: {}").contains("a signal has to be specified"))
        XCTAssertTrue(try error("- kill:\n    scope: process").contains("a signal has to be specified"))
        XCTAssertTrue(try error("- kill:\n    signal: SIGNOPE").contains("unsupported signal 'SIGNOPE'"))
        XCTAssertTrue(try error("- kill:\n    signal: 0").contains("unsupported signal '0'"))
        XCTAssertTrue(try error("- kill:\n    signal: 65").contains("unsupported signal"))
        XCTAssertTrue(try error("- kill:\n    signal: true").contains("unsupported signal"))
        XCTAssertTrue(try error("- kill:\n    signal: SIGKILL\n    scope: cgroup").contains("unsupported scope 'cgroup'"))
        XCTAssertTrue(try error("- kill:\n    signal: SIGKILL\n    scope: host").contains("unsupported scope 'host'"))
        XCTAssertTrue(try error("- kill:\n    signal: SIGKILL\n    sigal: SIGTERM").contains("unknown option 'sigal'"))
        XCTAssertTrue(try error("- kill:\n    signal: SIGKILL\n    disable_container_disarmer: maybe").contains("true or false"))
    }

    private func hash(_ actions: String, expression: String = #"exec.file.name == "nc""#) throws -> HashAction {
        let (result, report) = try load(actions, expression: expression)
        XCTAssertEqual(report.status, .loaded, report.reason)
        guard case .hash(let hash)? = result.ruleSet.rules.first?.actions.first?.kind else {
            XCTFail("no hash action")
            throw ActionError("no hash action")
        }
        return hash
    }

    func testHashDefinitions() throws {
        XCTAssertEqual(try hash("- hash: {}"), HashAction(field: "exec.file"))
        XCTAssertEqual(try hash("- hash:"), HashAction(field: "exec.file"))
        XCTAssertEqual(try hash("- hash: {}", expression: #"open.file.path == "/etc/shadow""#), HashAction(field: "open.file"))
        XCTAssertEqual(try hash("- hash:\n    field: process.file", expression: #"dns.question.name == "pool.example""#),
                       HashAction(field: "process.file"))
        XCTAssertEqual(try hash("- hash:\n    field: process.parent.file\n    max_file_size: 10485760"),
                       HashAction(field: "process.parent.file", maxFileSize: 10_485_760))
        XCTAssertEqual(try hash("- hash:\n    field: exec.file\n    algorithms: [sha256, MD5, sha256]"),
                       HashAction(field: "exec.file", algorithms: [.sha256, .md5]))
    }

    func testHashErrors() throws {
        XCTAssertTrue(try error("- hash: {}", expression: #"dns.question.name == "x""#).contains("`field` is required for 'dns' rules"))
        XCTAssertTrue(try error("- hash:\n    field: open.file").contains("not compatible with 'exec' rules"))
        XCTAssertTrue(try error("- hash:\n    field: process.comm").contains("'process.comm' is not a file field"))
        XCTAssertTrue(try error("- hash:\n    field: process.ancestors.file").contains("not a file field"))
        XCTAssertTrue(try error("- hash:\n    max_file_size: -1").contains("max_file_size must be a positive"))
        XCTAssertTrue(try error("- hash:\n    max_file_size: 5MB").contains("max_file_size must be a positive"))
        XCTAssertTrue(try error("- hash:\n    algorithms: [sha512]").contains("unsupported algorithm 'sha512'"))
        XCTAssertTrue(try error("- hash:\n    algorithms: []").contains("algorithms must be a list"))
        XCTAssertTrue(try error("- hash:\n    feild: exec.file").contains("unknown option 'feild'"))
    }

    /// Datadog's default policy: its hash actions (`hash: {}` on exec rules, `field: process.file`
    /// on dns and network rules) all load.
    func testCorpusHashActionsLoad() throws {
        let r = PolicyLoader().load(paths: [T.corpus])
        // (`set` actions are another component's: only kill and hash errors count here.)
        let errors = r.reports.filter { $0.status == .error && ($0.reason.contains("hash") || $0.reason.contains("kill")) }
        XCTAssertEqual(errors.map { "\($0.id): \($0.reason)" }, [])
        let hashes = r.ruleSet.rules.flatMap(\.actions).compactMap { action -> HashAction? in
            if case .hash(let h) = action.kind { return h }
            return nil
        }
        XCTAssertFalse(hashes.isEmpty)
        XCTAssertTrue(hashes.allSatisfy { ["exec.file", "open.file", "process.file"].contains($0.field) }, "\(hashes)")
    }
}
