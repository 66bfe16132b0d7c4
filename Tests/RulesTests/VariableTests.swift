import Foundation
import XCTest
@testable import AgentCore

/// `set` actions and the variables they write, read back by later events (`VariableStore`).
final class VariableTests: XCTestCase {
    // MARK: - Helpers

    /// A policy's rules, loaded; fails the test when a rule is not loaded.
    private func load(_ rules: String, file: StaticString = #filePath, line: UInt = #line) throws -> RuleSet {
        let result = try loadResult(rules)
        for r in result.reports where r.status != .loaded {
            XCTFail("\(r.id): \(r.status.rawValue) - \(r.reason)", file: file, line: line)
        }
        return result.ruleSet
    }

    private func loadResult(_ rules: String) throws -> PolicyLoader.Result {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vars-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).policy")
        try ("rules:\n" + rules).write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        return PolicyLoader().load(paths: [url.path])
    }

    /// The error of the only rule of `rules` (fails when it loads).
    private func loadError(_ rules: String, file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let result = try loadResult(rules)
        guard let r = result.reports.first, r.status == .error else {
            XCTFail("expected an error, got \(result.reports.map { "\($0.status.rawValue) \($0.reason)" })", file: file, line: line)
            return ""
        }
        return r.reason
    }

    /// Evaluates `event` as the pipeline does: matching rules, then their `set` actions.
    @discardableResult
    private func run(_ set: RuleSet, _ ctx: EvalContext, _ event: Event) -> [String] {
        var ids: [String] = []
        set.forEachMatch(event, context: ctx) { rule in
            ids.append(rule.id)
            rule.runSetActions(context: ctx)
        }
        return ids
    }

    private func process(_ pid: UInt32, _ path: String = "/usr/bin/true", fork: UInt64 = 0, exec: UInt64 = 0, parent: ProcessEntry? = nil,
                         container: String? = nil, cgroup: String? = nil) -> ProcessEntry {
        ProcessEntry(pid: pid, ppid: parent?.pid ?? 0, comm: FileInfo.baseName(of: path), forkTimeNs: fork == 0 ? UInt64(pid) * 1_000 : fork,
                     execTimeNs: exec == 0 ? UInt64(pid) * 1_000 + 1 : exec, executable: FileInfo(path: path), argv0: FileInfo.baseName(of: path),
                     containerID: container, cgroupPath: cgroup, parent: parent)
    }

    private func exec(_ p: ProcessEntry, at seconds: UInt64 = 1_000) -> Event {
        Event(type: .exec, timeNs: seconds * 1_000_000_000, pid: p.pid, process: p, payload: .exec(ExecPayload(
            file: p.executable!, credentials: p.credentials, ppid: p.ppid, argv0: p.argv0, args: p.args, envs: p.envs)))
    }

    private func open(_ path: String, _ p: ProcessEntry, at seconds: UInt64 = 1_000) -> Event {
        Event(type: .open, timeNs: seconds * 1_000_000_000, pid: p.pid, process: p, payload: .open(OpenPayload(
            file: FileInfo(path: path), flags: 0, mode: 0, dirfd: -100, syscall: .openat, userPath: path)))
    }

    // MARK: - Scopes

    func testProcessVariableIsReadByALaterEventOfTheSameProcess() throws {
        let set = try load("""
          - id: mark
            expression: open.file.path == "/etc/shadow"
            actions:
              - set:
                  name: touched_shadow
                  scope: process
                  value: true
          - id: after
            expression: open.file.path == "/etc/passwd" && ${process.touched_shadow}
        """)
        let ctx = EvalContext()
        let p = process(10)
        XCTAssertEqual(run(set, ctx, open("/etc/passwd", p)), [], "not set yet")
        XCTAssertEqual(run(set, ctx, open("/etc/shadow", p)), ["mark"])
        XCTAssertEqual(run(set, ctx, open("/etc/passwd", p)), ["after"])
        // Another process (same pid, another fork time: a reused pid) has its own value.
        XCTAssertEqual(run(set, ctx, open("/etc/passwd", process(10, fork: 99_999))), [])
        // A context with its own store knows nothing of it.
        XCTAssertEqual(run(set, EvalContext(), open("/etc/passwd", p)), [])
        XCTAssertEqual(ctx.variables.stats.processImages, 1)
    }

    func testInheritedProcessVariableIsSeenByDescendantsAndLaterImages() throws {
        let rules = { (inherited: Bool) in """
          - id: mark
            expression: exec.file.name == "bash"
            actions:
              - set:
                  name: key
                  scope: process
                  value: "k1"
                  inherited: \(inherited)
          - id: read
            expression: open.file.path == "/x" && ${process.key} == "k1"
        """ }
        let set = try load(rules(true))
        let ctx = EvalContext()
        let initP = process(1, "/sbin/init")
        let bash = process(20, "/bin/bash", parent: initP)
        XCTAssertEqual(run(set, ctx, exec(bash)), ["mark"])
        XCTAssertEqual(run(set, ctx, open("/x", bash)), ["read"])
        // A child, and the child's child, inherit.
        let child = process(21, "/usr/bin/make", parent: bash)
        let grandchild = process(22, "/usr/bin/cc", parent: child)
        XCTAssertEqual(run(set, ctx, open("/x", grandchild)), ["read"])
        // The same process after exec (same pid and fork time, later exec time) inherits from the image it replaced.
        let replaced = process(20, "/usr/bin/python3", fork: bash.forkTimeNs, exec: bash.execTimeNs + 5, parent: initP)
        XCTAssertEqual(run(set, ctx, open("/x", replaced)), ["read"])
        // The parent is not its child's descendant.
        XCTAssertEqual(run(set, ctx, open("/x", initP)), [])
        // A value set by the parent after the fork is seen too (the walk is at read time).
        let late = process(30, "/bin/sh", parent: initP)
        let lateChild = process(31, "/bin/ls", parent: late)
        XCTAssertEqual(run(set, ctx, open("/x", lateChild)), [])
        let lateShell = process(30, "/bin/bash", fork: late.forkTimeNs, exec: late.execTimeNs, parent: initP)
        XCTAssertEqual(run(set, ctx, exec(lateShell)), ["mark"])
        XCTAssertEqual(run(set, ctx, open("/x", lateChild)), ["read"])

        // Not inherited: the image that set it only, as in Datadog.
        let own = try load(rules(false))
        let ctx2 = EvalContext()
        XCTAssertEqual(run(own, ctx2, exec(bash)), ["mark"])
        XCTAssertEqual(run(own, ctx2, open("/x", bash)), ["read"])
        XCTAssertEqual(run(own, ctx2, open("/x", child)), [])
        XCTAssertEqual(run(own, ctx2, open("/x", replaced)), [], "a later image of the process does not see it")
    }

    func testChildValueShadowsAndAppendStartsFromTheInheritedValues() throws {
        let set = try load("""
          - id: keys
            expression: exec.file.name in ["bash", "sh"]
            actions:
              - set:
                  name: keys
                  scope: process
                  field: exec.file.name
                  append: true
                  inherited: true
          - id: both
            expression: open.file.path == "/x" && "bash" in ${process.keys} && "sh" in ${process.keys}
          - id: bash_only
            expression: open.file.path == "/x" && "bash" in ${process.keys} && "sh" not in ${process.keys}
        """)
        let ctx = EvalContext()
        let bash = process(40, "/bin/bash")
        XCTAssertEqual(run(set, ctx, exec(bash)), ["keys"])
        let sh = process(41, "/bin/sh", parent: bash)
        XCTAssertEqual(run(set, ctx, exec(sh)), ["keys"])
        XCTAssertEqual(run(set, ctx, open("/x", sh)), ["both"], "the child's array holds the inherited value and its own")
        XCTAssertEqual(run(set, ctx, open("/x", bash)), ["bash_only"], "the parent's is unchanged")
    }

    func testContainerCgroupAndGlobalScopes() throws {
        let set = try load("""
          - id: mark
            expression: open.file.path == "/etc/shadow"
            actions:
              - set:
                  name: hit
                  scope: container
                  field: process.container.id
              - set:
                  name: hits
                  scope: cgroup
                  value: 1
              - set:
                  name: seen
                  value: "yes"
          - id: container_read
            expression: open.file.path == "/c" && process.container.id == ${container.hit}
          - id: cgroup_read
            expression: open.file.path == "/g" && ${cgroup.hits} == 1
          - id: global_read
            expression: open.file.path == "/h" && ${seen} == "yes"
        """)
        let ctx = EvalContext()
        let a = process(50, container: "aaaa", cgroup: "/docker/aaaa")
        let a2 = process(51, container: "aaaa", cgroup: "/docker/aaaa")
        let b = process(52, container: "bbbb", cgroup: "/docker/bbbb")
        let host = process(53)
        XCTAssertEqual(run(set, ctx, open("/c", a2)), [])
        XCTAssertEqual(run(set, ctx, open("/h", host)), [])
        XCTAssertEqual(run(set, ctx, open("/etc/shadow", a)), ["mark"])
        XCTAssertEqual(run(set, ctx, open("/c", a2)), ["container_read"], "another process of the container")
        XCTAssertEqual(run(set, ctx, open("/c", b)), [])
        XCTAssertEqual(run(set, ctx, open("/g", a2)), ["cgroup_read"])
        XCTAssertEqual(run(set, ctx, open("/g", b)), [])
        XCTAssertEqual(run(set, ctx, open("/h", host)), ["global_read"], "global: every process")
        XCTAssertEqual(run(set, ctx, open("/h", b)), ["global_read"])
        // A host process has no container and no cgroup here: those sets have nowhere to go.
        XCTAssertEqual(run(set, ctx, open("/etc/shadow", host)), ["mark"])
        XCTAssertEqual(ctx.variables.stats.setsWithoutScope, 2)
        XCTAssertEqual(ctx.variables.stats.containers, 1)
        XCTAssertEqual(ctx.variables.stats.cgroups, 1)
        // A cgroup without a path is keyed by its kernel id.
        let byID = ProcessEntry(pid: 60, forkTimeNs: 1, cgroupID: 777)
        XCTAssertEqual(run(set, ctx, open("/etc/shadow", byID)), ["mark"])
        XCTAssertEqual(run(set, ctx, open("/g", ProcessEntry(pid: 61, forkTimeNs: 1, cgroupID: 777))), ["cgroup_read"])
        ctx.variables.containerRemoved(id: "aaaa")
        XCTAssertEqual(run(set, ctx, open("/c", a2)), [])
    }

    // MARK: - Arrays, time, defaults, types

    /// As in Datadog, a rule's actions run as it matches: the rules after it in the same event see
    /// the value (here `touch` re-adds what `new_path` added).
    func testAppendKeepsDistinctValuesAndDropsTheOldestBeyondSize() throws {
        let set = try load("""
          - id: new_path
            expression: open.file.path =~ "/data/*" && open.file.path not in ${cgroup.paths}
            actions:
              - set: {name: paths, scope: cgroup, field: open.file.path, append: true, size: 3}
          - id: touch
            expression: open.file.path =~ "/data/*" && open.file.path in ${cgroup.paths}
            actions:
              - set: {name: paths, scope: cgroup, field: open.file.path, append: true, size: 3}
          - id: known
            expression: open.file.path =~ "/q/*" && "/data/a" in ${cgroup.paths}
        """)
        let ctx = EvalContext()
        let p = process(70, cgroup: "/c1")
        XCTAssertEqual(run(set, ctx, open("/data/a", p)), ["new_path", "touch"])
        XCTAssertEqual(run(set, ctx, open("/data/a", p)), ["touch"], "already in the array")
        XCTAssertEqual(run(set, ctx, open("/q/x", p)), ["known"])
        for path in ["/data/b", "/data/c"] { XCTAssertEqual(run(set, ctx, open(path, p)), ["new_path", "touch"]) }
        XCTAssertEqual(ctx.variables.stats.arrayValuesDropped, 0)
        // A fourth value drops the oldest, a.
        XCTAssertEqual(run(set, ctx, open("/data/d", p)), ["new_path", "touch"])
        XCTAssertEqual(ctx.variables.stats.arrayValuesDropped, 1)
        XCTAssertEqual(run(set, ctx, open("/q/x", p)), [], "/data/a was dropped")
        // Adding b again makes it the newest: the next new value drops c.
        XCTAssertEqual(run(set, ctx, open("/data/b", p)), ["touch"])
        XCTAssertEqual(run(set, ctx, open("/data/e", p)), ["new_path", "touch"])
        XCTAssertEqual(run(set, ctx, open("/data/c", p)), ["new_path", "touch"], "c was dropped")
        XCTAssertEqual(run(set, ctx, open("/data/b", p)), ["touch"])
        // Another cgroup has its own array.
        XCTAssertEqual(run(set, ctx, open("/data/b", process(71, cgroup: "/c2"))), ["new_path", "touch"])
    }

    func testTTLExpiresByEventTime() throws {
        let set = try load("""
          - id: mark
            expression: open.file.path == "/m"
            actions:
              - set:
                  name: flag
                  scope: process
                  value: true
                  ttl: 10s
              - set:
                  name: seen
                  scope: process
                  field: open.file.path
                  append: true
                  ttl: 5000000000
          - id: flagged
            expression: open.file.path == "/r" && ${process.flag}
          - id: listed
            expression: open.file.path == "/r" && "/m" in ${process.seen}
        """)
        let ctx = EvalContext()
        let p = process(80)
        XCTAssertEqual(run(set, ctx, open("/m", p, at: 100)), ["mark"])
        XCTAssertEqual(run(set, ctx, open("/r", p, at: 104)), ["flagged", "listed"])
        XCTAssertEqual(run(set, ctx, open("/r", p, at: 105)), ["flagged"], "the array value lives 5 s (an integer ttl is nanoseconds)")
        XCTAssertEqual(run(set, ctx, open("/r", p, at: 109)), ["flagged"])
        XCTAssertEqual(run(set, ctx, open("/r", p, at: 110)), [], "10 s after it was set")
        // Setting again renews it.
        XCTAssertEqual(run(set, ctx, open("/m", p, at: 200)), ["mark"])
        XCTAssertEqual(run(set, ctx, open("/m", p, at: 208)), ["mark"])
        XCTAssertEqual(run(set, ctx, open("/r", p, at: 215)), ["flagged"])
        XCTAssertEqual(try SetAction.duration("1h30m"), 5_400_000_000_000)
        XCTAssertEqual(try SetAction.duration("1.5s"), 1_500_000_000)
        XCTAssertEqual(try SetAction.duration("250ms"), 250_000_000)
        XCTAssertEqual(try SetAction.duration(600_000_000_000), 600_000_000_000)
        XCTAssertThrowsError(try SetAction.duration("10"))
        XCTAssertThrowsError(try SetAction.duration("5 parsecs"))
        XCTAssertThrowsError(try SetAction.duration(-1))
    }

    func testDefaultValuesAndValueTypes() throws {
        let set = try load("""
          - id: set_all
            expression: open.file.path == "/s"
            actions:
              - set:
                  name: count
                  scope: process
                  expression: ${process.count} + 1
                  default_value: 10
              - set:
                  name: label
                  scope: process
                  expression: '"${process.label}+${process.count}:${builtins.uuid4}"'
                  default_value: start
              - set:
                  name: ports
                  scope: process
                  value: [22, 80]
              - set:
                  name: names
                  scope: process
                  value: ["a", "b"]
              - set:
                  name: pid
                  scope: process
                  field: process.pid
          - id: count_11
            expression: open.file.path == "/r" && ${process.count} == 11
          - id: count_default
            expression: open.file.path == "/r" && ${process.count} == 10
          - id: label_default
            expression: open.file.path == "/r" && ${process.label} == "start"
          - id: label_set
            expression: open.file.path == "/r" && ${process.label} =~ "start+11:*-*-4*"
          - id: port
            expression: open.file.path == "/r" && 80 in ${process.ports} && 443 not in ${process.ports}
          - id: name
            expression: open.file.path == "/r" && "b" in ${process.names} && ${process.names} == "a"
          - id: pid
            expression: open.file.path == "/r" && ${process.pid} == process.pid && ${process.pid} > 90
        """)
        let ctx = EvalContext()
        let p = process(91)
        XCTAssertEqual(run(set, ctx, open("/r", p)), ["count_default", "label_default"])
        XCTAssertEqual(run(set, ctx, open("/s", p)), ["set_all"])
        XCTAssertEqual(run(set, ctx, open("/r", p)), ["count_11", "label_set", "port", "name", "pid"])
        // The expression reads the value before the set: the count goes on.
        XCTAssertEqual(run(set, ctx, open("/s", p)), ["set_all"])
        XCTAssertEqual(run(set, ctx, open("/r", p)), ["label_set", "port", "name", "pid"])
        let declaration = try XCTUnwrap(set.variables.first { $0.name == "label" })
        var label = ""
        _ = ctx.variables.readString(declaration, EvalContext(event: open("/r", p), variables: ctx.variables)) {
            label = String(decoding: $0, as: UTF8.self)
            return true
        }
        let parts = label.split(separator: "+")
        XCTAssertEqual(parts.count, 3, "start+11:uuid+12:uuid: \(label)")
        let uuids = parts.dropFirst().map { String($0.split(separator: ":")[1]) }
        XCTAssertNotEqual(uuids[0], uuids[1], "a new UUID per action run")
        for uuid in uuids {
            XCTAssertEqual(uuid.count, 36)
            XCTAssertEqual(uuid.split(separator: "-").map(\.count), [8, 4, 4, 4, 12])
            XCTAssertEqual(Array(uuid)[14], "4", "version 4")
            XCTAssertTrue("89ab".contains(Array(uuid)[19]), "variant")
        }
    }

    func testAFilterThatDoesNotHoldBlocksItsAction() throws {
        let set = try load("""
          - id: mark
            expression: open.file.path == "/m"
            actions:
              - filter: process.pid == 100
                set:
                  name: flag
                  scope: process
                  value: true
          - id: read
            expression: open.file.path == "/r" && ${process.flag}
        """)
        let ctx = EvalContext()
        let other = process(99)
        XCTAssertEqual(run(set, ctx, open("/m", other)), ["mark"])
        XCTAssertEqual(run(set, ctx, open("/r", other)), [], "filter did not hold")
        XCTAssertEqual(ctx.variables.stats.sets, 0)
        let p = process(100)
        XCTAssertEqual(run(set, ctx, open("/m", p)), ["mark"])
        XCTAssertEqual(run(set, ctx, open("/r", p)), ["read"])
    }

    /// A rule evaluated later in the same event sees what an earlier rule's action set, as in
    /// Datadog (actions run as each rule matches); and a predicate on the process that reads a
    /// variable is not kept per process (`ApproverCache`).
    func testVariablesAreReadAnewForEveryEvaluation() throws {
        let set = try load("""
          - id: first
            expression: exec.file.name == "ls"
            actions:
              - set:
                  name: ran
                  scope: process
                  value: true
          - id: second
            expression: exec.file.name == "ls" && ${process.ran}
          - id: process_only
            expression: process.file.name == "ls" && process.comm == "ls" && ${process.ran} == false
        """)
        let ctx = EvalContext()
        let p = process(110, "/bin/ls")
        XCTAssertEqual(run(set, ctx, open("/tmp/x", p)), ["process_only"])
        XCTAssertEqual(run(set, ctx, exec(p)), ["first", "second"])
        XCTAssertEqual(run(set, ctx, open("/tmp/x", p)), [], "the same process entry, after the variable changed")
    }

    /// While no value of a variable is held anywhere, comparisons of it with constants (and the
    /// `&&`/`||` around them) give their result for the default without reading the store; once a
    /// value is held for some other process, the full evaluation reads the default for this one:
    /// both must agree.
    func testUnsetShortcutsAgreeWithFullEvaluation() throws {
        let expressions = [
            #"${process.s} == """#, #"${process.s} != """#, #"${process.s} in ["", ~"a*"]"#, #"${process.s} =~ "a*""#,
            #"${process.n} == 3"#, #"${process.n} + 1 > 3"#, #"${process.b}"#, #"!${process.b}"#, #"${process.b} == false"#,
            #"process.pid in ${process.ns}"#, #"process.pid not in ${process.ns}"#, #"process.ancestors.pid in ${process.ns}"#,
            #""a" in ${process.ss}"#, #""a" not in ${process.ss}"#, #"${process.s} == process.comm"#, #"${process.d} == "dflt""#,
            #"${process.s} == "" && process.comm == "true""#, #"process.comm == "true" && ${process.n} == 3"#,
            #"${process.n} == 3 || process.comm == "x""#, #"process.comm == "x" || ${process.s} == """#,
            #"!(${process.n} == 3 && process.pid > 0)"#, #"(${process.b} || ${process.s} == "") && process.pid > 0"#,
            #""${process.s}x" == "x""#, #""${process.n}" == "0""#,
        ]
        var rules = """
          - id: setter
            expression: open.file.path == "/set"
            actions:
              - set: {name: s, scope: process, value: "zz"}
              - set: {name: d, scope: process, expression: '"v"', default_value: "dflt"}
              - set: {name: n, scope: process, value: 7}
              - set: {name: b, scope: process, value: true}
              - set: {name: ns, scope: process, value: [1, 2]}
              - set: {name: ss, scope: process, value: ["z"]}

        """
        for (i, e) in expressions.enumerated() {
            rules += "  - id: r\(i)\n    expression: 'open.file.path == \"/x\" && (\(e.replacingOccurrences(of: "'", with: "''")))'\n"
        }
        let set = try load(rules)
        let unset = EvalContext()
        let held = EvalContext()
        XCTAssertEqual(run(set, held, open("/set", process(900))), ["setter"])
        let p = process(901, parent: process(1))
        let ids = run(set, unset, open("/x", p))
        XCTAssertEqual(ids, run(set, held, open("/x", p)))
        // A sample of the expected results, for the defaults ("", 0, false, [], "dflt").
        for (i, expected) in [(0, true), (1, false), (2, true), (4, false), (5, false), (6, false), (7, true), (9, false), (10, true),
                              (12, false), (13, true), (15, true), (16, true), (20, true), (22, true), (23, true)] {
            XCTAssertEqual(ids.contains("r\(i)"), expected, "\(expressions[i])")
        }
    }

    // MARK: - Definitions

    func testBadDefinitionsAreErrors() throws {
        func rule(_ set: String, expression: String = "open.file.path == \"/x\"") -> String {
            "  - id: bad\n    expression: \(expression)\n    actions:\n      - set:\n" + set.split(separator: "\n").map { "          \($0)" }.joined(separator: "\n") + "\n"
        }
        let cases: [(String, String)] = [
            ("name: x", "exactly one of 'value', 'field' or 'expression'"),
            ("name: x\nvalue: 1\nfield: process.pid", "exactly one of"),
            ("value: 1", "variable name is empty"),
            ("name: 'a-b'\nvalue: 1", "invalid variable name"),
            ("name: x\nvalue: 1\nscope: thread", "unknown scope 'thread'"),
            ("name: x\nvalue: 1\ninherited: true", "only process variables can be inherited"),
            ("name: x\nvalue: 1\nscope: process\nscope_field: open.pid", "scope_field is not supported"),
            ("name: x\nexpression: process.pid", "needs a 'default_value'"),
            ("name: x\nvalue: 1\nttl: soon", "ttl: invalid duration"),
            ("name: x\nvalue: 1\nsize: 5", "size applies to arrays"),
            ("name: x\nvalue: a\nappend: true\nsize: -1", "size must be an integer"),
            ("name: x\nvalue: true\nappend: true", "not booleans"),
            ("name: x\nvalue: 1.5", "a number with a fraction"),
            ("name: x\nvalue: [1, a]", "mixes strings and integers"),
            ("name: x\nvalue: 1\ndefault_value: a", "default_value of variable x is string"),
            ("name: x\nfield: exec.file.path", "reads exec events, the rule matches open"),
            ("name: x\nexpression: process.pid ==\ndefault_value: 0", "expression 'process.pid ==':"),
            ("name: x\nexpression: '\"a\"'\ndefault_value: 0", "gives string, the variable is int"),
            ("name: x\nvalue: 1\nappend: yes please", "append must be true or false"),
            ("name: x\nvalue: 1\ncolour: red", "unknown key 'colour'"),
            ("name: x\nfield: process.file.path ~ 1", "expected"),
        ]
        for (definition, expected) in cases {
            let reason = try loadError(rule(definition))
            XCTAssertTrue(reason.contains(expected), "\(definition.replacingOccurrences(of: "\n", with: "; ")): \(reason)")
            XCTAssertFalse(reason.contains("\n"), reason)
            XCTAssertTrue(reason.hasPrefix("action #1: "), reason)
        }
        // Two rules that disagree on a variable's type: both report it.
        let conflict = try loadResult("""
          - id: a
            expression: open.file.path == "/a"
            actions:
              - set: {name: v, value: 1}
          - id: b
            expression: open.file.path == "/b"
            actions:
              - set: {name: v, value: x}
        """)
        XCTAssertEqual(conflict.reports.map(\.status), [.error, .error])
        XCTAssertTrue(conflict.reports[1].reason.contains("conflicting types for variable v"), conflict.reports[1].reason)
        // An unsupported field makes the rule unsupported, not an error.
        let unsupported = try loadResult(rule("name: x\nfield: process.nonexistent_field_name"))
        XCTAssertEqual(unsupported.reports.first?.status, .unsupported, unsupported.reports.first?.reason ?? "")
    }

    // MARK: - Lifetime and bounds

    func testExitRemovesAProcessValuesButKeepsInheritedOnesForItsChildren() throws {
        let set = try load("""
          - id: mark
            expression: exec.file.name == "nohup"
            actions:
              - set: {name: own, scope: process, value: true}
              - set: {name: key, scope: process, value: true, inherited: true}
          - id: own
            expression: open.file.path == "/x" && ${process.own}
          - id: key
            expression: open.file.path == "/x" && ${process.key}
        """)
        let ctx = EvalContext()
        let store = ctx.variables
        let a = process(120, "/usr/bin/nohup")
        XCTAssertEqual(run(set, ctx, exec(a)), ["mark"])
        XCTAssertEqual(run(set, ctx, open("/x", a)), ["own", "key"])
        let orphan = process(121, "/usr/bin/sleep", parent: a)
        store.processExited(a)
        XCTAssertEqual(store.stats.exitedProcessImages, 1)
        XCTAssertEqual(run(set, ctx, open("/x", orphan)), ["key"], "the orphan still inherits")
        // A process whose values nobody inherits is gone at exit.
        let b = process(130, "/usr/bin/nohup")
        let setOwn = try load("""
          - id: mark
            expression: exec.file.name == "nohup"
            actions:
              - set: {name: own, scope: process, value: true}
          - id: own
            expression: open.file.path == "/x" && ${process.own}
        """)
        let ctx2 = EvalContext()
        XCTAssertEqual(run(setOwn, ctx2, exec(b)), ["mark"])
        XCTAssertEqual(ctx2.variables.stats.processImages, 1)
        ctx2.variables.processExited(pid: b.pid, forkTimeNs: b.forkTimeNs)
        XCTAssertEqual(ctx2.variables.stats.processImages, 0)
        XCTAssertEqual(ctx2.variables.stats.exitRemovals, 1)
        XCTAssertEqual(ctx2.variables.stats.bytes, 0)
        XCTAssertEqual(run(setOwn, ctx2, open("/x", b)), [])
    }

    func testBoundsEvictTheOldestAndCountIt() throws {
        let set = try load("""
          - id: mark
            expression: open.file.path == "/m"
            actions:
              - set: {name: flag, scope: process, value: true, inherited: true}
              - set: {name: flag, scope: container, value: true}
              - set: {name: path, scope: process, field: process.file.path}
          - id: process_flag
            expression: open.file.path == "/r" && ${process.flag}
          - id: container_flag
            expression: open.file.path == "/r" && ${container.flag}
        """)
        let ctx = EvalContext(variables: VariableStore(limits: .init(maxProcessImages: 3, maxExitedProcessImages: 1, maxContainers: 2,
                                                                       maxValueBytes: 64)))
        let store = ctx.variables
        let ps = (0..<5).map { process(UInt32(200 + $0), container: "c\($0)") }
        for p in ps { XCTAssertEqual(run(set, ctx, open("/m", p)), ["mark"]) }
        XCTAssertEqual(store.stats.processImages, 3)
        XCTAssertEqual(store.stats.processEvictions, 2)
        XCTAssertEqual(store.stats.containers, 2)
        XCTAssertEqual(store.stats.containerEvictions, 3)
        XCTAssertEqual(run(set, ctx, open("/r", ps[0])), [], "the oldest went")
        XCTAssertEqual(run(set, ctx, open("/r", ps[4])), ["process_flag", "container_flag"])
        XCTAssertEqual(run(set, ctx, open("/r", ps[2])), ["process_flag"])
        // Exited images with inherited values: at most one kept.
        store.processExited(ps[2])
        store.processExited(ps[3])
        XCTAssertEqual(store.stats.exitedProcessImages, 1)
        XCTAssertEqual(store.stats.exitedProcessEvictions, 1)
        // A value longer than maxValueBytes is not stored, and counted.
        let long = process(300, "/" + String(repeating: "x", count: 100))
        XCTAssertEqual(run(set, ctx, open("/m", long)), ["mark"])
        XCTAssertEqual(store.stats.valuesTooLong, 1)
        // The byte bound removes the oldest records.
        let small = EvalContext(variables: VariableStore(limits: .init(maxBytes: 400)))
        for p in ps { run(set, small, open("/m", p)) }
        XCTAssertLessThanOrEqual(small.variables.stats.bytes, 400)
        XCTAssertGreaterThan(small.variables.stats.byteEvictions, 0)
        XCTAssertEqual(run(set, small, open("/r", ps[4])), ["process_flag", "container_flag"], "the newest stays")
        XCTAssertTrue(small.variables.stats.description.hasPrefix("variables: "))
        store.removeAll()
        XCTAssertEqual(store.stats.bytes, 0)
        XCTAssertEqual(run(set, ctx, open("/r", ps[4])), [])
    }

    // MARK: - Offline evaluation

    /// `policy evaluate` runs the set actions on one store for the whole input: the agent's own
    /// JSON lines, re-read, match as they did live.
    func testOfflineEvaluationRunsSetActions() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vars-eval-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let policy = dir.appendingPathComponent("p.policy").path
        try """
        rules:
          - id: shell
            expression: exec.file.name == "bash"
            actions:
              - set: {name: key, scope: process, expression: '"shell_${builtins.uuid4}"', default_value: "", inherited: true}
          - id: in_shell
            expression: exec.file.name == "curl" && ${process.key} =~ "shell_*"
        """.write(toFile: policy, atomically: true, encoding: .utf8)
        let evaluator = PolicyTools.Evaluator(paths: [policy])
        let shell = #"{"evt":{"name":"exec"},"date":"2024-05-01T12:00:00Z","process":{"pid":7,"fork_time":"2024-05-01T11:59:59.5Z","exec_time":"2024-05-01T12:00:00Z","comm":"bash","executable":{"path":"/bin/bash","name":"bash"}}}"#
        let curl = #"{"evt":{"name":"exec"},"date":"2024-05-01T12:00:01Z","process":{"pid":8,"fork_time":"2024-05-01T12:00:00.8Z","exec_time":"2024-05-01T12:00:01Z","comm":"curl","executable":{"path":"/usr/bin/curl","name":"curl"},"ancestors":[{"pid":7,"fork_time":"2024-05-01T11:59:59.5Z","exec_time":"2024-05-01T12:00:00Z","executable":{"path":"/bin/bash"}}]}}"#
        XCTAssertEqual(evaluator.evaluate(line: curl), #"{"matched": []}"#)
        XCTAssertEqual(evaluator.evaluate(line: shell), #"{"matched": ["shell"]}"#)
        XCTAssertEqual(evaluator.evaluate(line: curl), #"{"matched": ["in_shell"]}"#)
        let exit = #"{"evt":{"name":"exit"},"date":"2024-05-01T12:00:02Z","process":{"pid":7,"fork_time":"2024-05-01T11:59:59.5Z","exec_time":"2024-05-01T12:00:00Z"},"exit":{"cause":"EXITED","code":0}}"#
        XCTAssertEqual(evaluator.evaluate(line: exit), #"{"matched": []}"#)
        XCTAssertEqual(evaluator.variables.stats.exitedProcessImages, 1, "kept for the children")
        XCTAssertEqual(evaluator.evaluate(line: curl), #"{"matched": ["in_shell"]}"#)
    }

    // MARK: - Corpus

    /// The Datadog policy's correlation rules: a shell gets a key, its children inherit it and add
    /// their parent's key to the chain.
    func testCorpusExecutionContext() throws {
        let loaded = PolicyLoader(options: .init(compatibilityVersion: "7.70.0", host: HostFacts(os: "linux", kernelRelease: "6.8.0")))
            .load(paths: [T.corpus])
        let set = loaded.ruleSet
        let key = try XCTUnwrap(set.variables.first { $0.scopedName == "process.correlation_key" })
        XCTAssertTrue(key.inherited)
        let ctx = EvalContext()
        let initP = process(1, "/sbin/init")
        let bash = process(500, "/bin/bash", parent: initP)
        bash.tty = "pts0"
        let matches = run(set, ctx, exec(bash))
        XCTAssertTrue(matches.contains("execution_context_interactive_shell"), "\(matches)")
        var value = ""
        let child = process(501, "/usr/bin/id", parent: bash)
        _ = ctx.variables.readString(key, EvalContext(event: exec(child), variables: ctx.variables)) { value = String(decoding: $0, as: UTF8.self); return true }
        XCTAssertTrue(value.hasPrefix("interactive_shell_"), value)
        XCTAssertEqual(value.count, "interactive_shell_".count + 36)
    }
}
