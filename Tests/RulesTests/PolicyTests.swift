import XCTest
@testable import AgentCore

final class PolicyTests: XCTestCase {
    let options = PolicyLoader.Options(compatibilityVersion: "7.70.0", host: HostFacts(os: "linux", kernelRelease: "6.8.0-45-generic"))

    func load(_ texts: [String]) throws -> PolicyLoader.Result {
        let files = try texts.enumerated().map { try PolicyParser.parse(text: $1, path: "p\($0).policy") }
        return PolicyLoader(options: options).load(files: files)
    }

    func status(_ r: PolicyLoader.Result, _ id: String) -> RuleStatus? { r.reports.first { $0.id == id }?.status }

    let base = """
    version: 1.0
    type: policy
    unknown_top: 1
    macros:
      - id: SHELLS
        values: ["/bin/sh", "/bin/bash"]
      - id: WINDOWS_ONLY
        expression: '["a"]'
        filters:
          - os == "windows"
    rules:
      - id: shell
        expression: exec.file.path in SHELLS
        weird_key: x
      - id: to_override
        expression: exec.file.name == "a"
        tags: {k: v}
      - id: to_disable
        expression: exec.file.name == "b"
      - id: win
        expression: exec.file.name == "c"
        filters: ['os == "windows"']
      - id: new_agent
        expression: exec.file.name == "d"
        agent_version: ">= 7.71"
      - id: old_agent
        expression: exec.file.name == "d"
        agent_version: ">=7.60 <7.71"
      - id: new_kernel
        expression: exec.file.name == "e"
        filters: ["kernel.version.major >= 5"]
      - id: old_kernel
        expression: exec.file.name == "e"
        filters: ["kernel.version.major < 5"]
      - id: turned_off
        expression: exec.file.name == "f"
        disabled: true
      - id: bad
        expression: exec.file.name == 3
      - id: chmod_rule
        expression: chmod.file.path == "/x"
      - id: cgroup_write_rule
        expression: cgroup_write.pid == 1
      - id: uses_windows_macro
        expression: exec.file.name in WINDOWS_ONLY
    """

    func testStatusesFiltersAndWarnings() throws {
        let r = try load([base])
        XCTAssertEqual(status(r, "shell"), .loaded)
        XCTAssertEqual(status(r, "win"), .filtered)
        XCTAssertEqual(status(r, "new_agent"), .filtered)
        XCTAssertEqual(status(r, "old_agent"), .loaded)
        XCTAssertEqual(status(r, "new_kernel"), .loaded)
        XCTAssertEqual(status(r, "old_kernel"), .filtered)
        XCTAssertEqual(status(r, "turned_off"), .disabled)
        XCTAssertEqual(status(r, "bad"), .error)
        XCTAssertTrue(r.reports.first { $0.id == "bad" }!.reason.contains("column"))
        // chmod is modelled (fields, JSON) though no probe produces it: loaded, with a note.
        XCTAssertEqual(status(r, "chmod_rule"), .loaded)
        XCTAssertTrue(r.reports.first { $0.id == "chmod_rule" }!.reason.contains("no probe produces 'chmod'"))
        XCTAssertEqual(status(r, "cgroup_write_rule"), .unsupported)
        XCTAssertTrue(r.reports.first { $0.id == "cgroup_write_rule" }!.reason.contains("cgroup_write"))
        XCTAssertNotEqual(status(r, "uses_windows_macro"), .loaded, "filtered macro is not defined")
        XCTAssertTrue(r.warnings.contains { $0.contains("unknown_top") })
        XCTAssertTrue(r.warnings.contains { $0.contains("weird_key") })
        XCTAssertEqual(r.ruleSet.matches(T.exec("/bin/bash")), ["shell"])
    }

    func testOverrideAndCombineAcrossFiles() throws {
        let second = """
        macros:
          - id: SHELLS
            values: ["/bin/zsh"]
            combine: merge
        rules:
          - id: to_override
            expression: exec.file.name == "z"
            combine: override
          - id: to_disable
            disabled: true
          - id: shell
            expression: exec.file.name == "conflict"
        """
        let r = try load([base, second])
        XCTAssertEqual(status(r, "to_override"), .loaded)
        XCTAssertEqual(r.ruleSet.matches(T.exec("/usr/bin/z")), ["to_override"])
        XCTAssertEqual(r.ruleSet.matches(T.exec("/usr/bin/a")), [])
        XCTAssertEqual(status(r, "to_disable"), .disabled)
        XCTAssertEqual(status(r, "shell"), .error, "same id without combine: override conflicts")
        // Macro merge: zsh joins the list.
        let third = """
        rules:
          - id: zsh
            expression: exec.file.path in SHELLS
        """
        let merged = try load([base, second, third])
        XCTAssertEqual(merged.ruleSet.matches(T.exec("/bin/zsh")), ["zsh"])
        let overrideFields = """
        rules:
          - id: to_override
            expression: exec.file.name == "y"
            combine: override
            override_options:
              fields: [tags]
        """
        let partial = try load([base, overrideFields])
        XCTAssertEqual(partial.ruleSet.matches(T.exec("/usr/bin/a")), ["to_override"], "only tags were overridden")
    }

    func testAgentVersionConstraints() throws {
        let v = SemVer("7.70.0")!
        XCTAssertTrue(try SemVer.satisfies(v, constraint: ">= 7.38"))
        XCTAssertTrue(try SemVer.satisfies(v, constraint: ">=7.65 <7.71"))
        XCTAssertFalse(try SemVer.satisfies(v, constraint: ">=7.65 <7.70"))
        XCTAssertFalse(try SemVer.satisfies(v, constraint: ">= 7.70.1"))
        XCTAssertTrue(try SemVer.satisfies(v, constraint: "< 7.71"))
        XCTAssertThrowsError(try SemVer.satisfies(v, constraint: ">= abc"))
        XCTAssertEqual(AgentCompatibility.defaultVersion, "7.70.0")
    }

    func testInvalidYAMLIsAnErrorWithPosition() throws {
        XCTAssertThrowsError(try PolicyParser.parse(text: "rules:\n  - id: x\n    expression: [unclosed\n", path: "bad.policy")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("bad.policy"), text)
            XCTAssertTrue(text.contains("3:") || text.contains("line"), text)
        }
        let result = PolicyTools.check(paths: ["/nonexistent/x.policy"], json: true)
        XCTAssertEqual(result.exitCode, 1)
    }

    func testCorpus() throws {
        let r = PolicyLoader(options: options).load(paths: [T.corpus])
        XCTAssertTrue(r.fileErrors.isEmpty)
        var counts: [RuleStatus: Int] = [:]
        for rep in r.reports { counts[rep.status, default: 0] += 1 }
        print("corpus: \(counts)")
        XCTAssertEqual(r.reports.count, 319)
        XCTAssertEqual(counts[.error] ?? 0, 0, r.reports.filter { $0.status == .error }.map { "\($0.id): \($0.reason)" }.joined(separator: "\n"))
        // Every rule whose event type the agent models and that is not filtered must be loaded; the
        // unsupported ones are on event types it neither produces nor models (cgroup_write,
        // setsockopt, fim, selinux, packet) or use a field it does not model.
        for rep in r.reports where rep.status == .unsupported {
            XCTAssertTrue(rep.reason.contains("event type") || rep.reason.contains("not provided"), "\(rep.id): \(rep.reason)")
            let type = rep.reason.split(separator: "'").dropFirst().first.map(String.init) ?? ""
            XCTAssertNil(EventType(name: type), "\(rep.id): \(rep.reason)")
        }
        XCTAssertEqual(counts[.loaded], 246)
        XCTAssertEqual(counts[.filtered], 66)
        XCTAssertEqual(counts[.unsupported], 7)
        // Rules on modelled types without a probe say so.
        let modelled = r.reports.filter { $0.status == .loaded && $0.eventType.map { !$0.hasProbe } == true }
        XCTAssertEqual(modelled.count, 92)
        for rep in modelled { XCTAssertTrue(rep.reason.hasPrefix("no probe produces"), "\(rep.id): \(rep.reason)") }
        let json = PolicyTools.check(paths: [T.corpus], json: true, options: options)
        XCTAssertEqual(json.exitCode, 0)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [String: Any]
        XCTAssertEqual((parsed?["rules"] as? [Any])?.count, 319)
    }

    func testEvaluateJSONLines() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rules-eval-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let policy = dir.appendingPathComponent("p.policy").path
        try """
        rules:
          - id: shadow_write
            expression: open.file.path == "/etc/shadow" && open.flags & O_WRONLY > 0
          - id: curl_from_git
            expression: exec.file.name == "curl" && process.ancestors.file.name == "git" && process.uid == 1000
          - id: cap
            expression: exec.file.name == "curl" && process.cap_effective & CAP_SYS_ADMIN > 0
        """.write(toFile: policy, atomically: true, encoding: .utf8)
        let evaluator = PolicyTools.Evaluator(paths: [policy], options: options)
        let open = #"{"evt":{"name":"open","outcome":"Success"},"date":"2024-05-01T12:00:00.5Z","process":{"pid":5,"uid":0,"gid":0,"comm":"vi","credentials":{"uid":0,"gid":0}},"file":{"path":"/etc/shadow","name":"shadow","flags":["O_WRONLY"]},"syscall":{"open":{"path":"/etc/shadow","flags":1,"mode":0}}}"#
        XCTAssertEqual(evaluator.evaluate(line: open), #"{"matched": ["shadow_write"]}"#)
        let exec = #"{"evt":{"name":"exec"},"process":{"pid":7,"comm":"curl","credentials":{"uid":1000,"gid":1000,"cap_effective":["CAP_SYS_ADMIN"]},"executable":{"path":"/usr/bin/curl","name":"curl"},"args":["-s"],"parent":{"pid":6,"executable":{"path":"/usr/bin/git"}},"ancestors":[{"pid":6,"executable":{"path":"/usr/bin/git"}},{"pid":1,"executable":{"path":"/sbin/init"}}]}}"#
        XCTAssertEqual(evaluator.evaluate(line: exec), #"{"matched": ["curl_from_git", "cap"]}"#)
        XCTAssertTrue(evaluator.evaluate(line: "not json")!.hasPrefix(#"{"error":"#))
        XCTAssertTrue(evaluator.evaluate(line: #"{"a":1}"#)!.hasPrefix(#"{"error":"#))
        XCTAssertNil(evaluator.evaluate(line: "  "))
        XCTAssertEqual(EventJSONReader.rfc3339("1970-01-01T00:00:01.5Z"), 1_500_000_000)
    }

    /// Flag and constant names as the serializer writes them: one name, `A|B` with or without
    /// spaces, hexadecimal and decimal parts, unknown numbers after a prefix; other text is nil.
    func testFlagValues() {
        XCTAssertEqual(flagValue(of: "O_WRONLY") { openFlag(named: $0).map(UInt64.init) }, 1)
        XCTAssertEqual(flagValue(of: "O_WRONLY | O_CREAT") { openFlag(named: $0).map(UInt64.init) }, 0o101)
        XCTAssertEqual(flagValue(of: " O_WRONLY|\tO_CREAT ") { openFlag(named: $0).map(UInt64.init) }, 0o101)
        XCTAssertEqual(flagValue(of: "0x10 | 3") { _ in nil }, 0x13)
        XCTAssertNil(flagValue(of: "NO_SUCH_FLAG") { openFlag(named: $0).map(UInt64.init) })
        XCTAssertEqual(addressFamily(named: "AF_42"), 42)
        XCTAssertEqual(protection(named: "PROT_READ|PROT_EXEC"), 5)
        XCTAssertEqual(mmapFlags(named: "MAP_PRIVATE|MAP_ANONYMOUS"), 0x22)
        XCTAssertEqual(signalNumber(named: "SIGRTMIN+3"), 35)
        XCTAssertEqual(capabilityNumber(named: "CAP_BPF"), 39)
    }

    func testFieldsListing() {
        let text = PolicyTools.fieldsListing(json: false)
        for name in ["process.ancestors.file.path", "open.flags", "exec.args_flags", "load_module.name", "container.id", "cgroup.id", "bind.addr.ip"] {
            XCTAssertTrue(text.contains(name), name)
        }
    }
}
