import Foundation
import XCTest
@testable import AgentCore

/// Approver-filtered evaluation must return exactly what evaluating every rule returns.
final class ApproverTests: XCTestCase {
    /// Every quoted literal of the corpus (paths, names, arguments, patterns), wildcards filled in.
    static func vocabulary() -> [String] {
        guard let text = try? String(contentsOfFile: T.corpus, encoding: .utf8) else { return [] }
        var words = Set<String>()
        var current: String?
        for c in text {
            if c == "\"" {
                if let w = current { if !w.isEmpty, w.count < 200 { words.insert(w) }; current = nil } else { current = "" }
            } else if current != nil {
                if c == "\n" { current = nil } else { current!.append(c) }
            }
        }
        return words.sorted()
    }

    static func fill(_ w: String, _ rng: inout SplitMix) -> String {
        var out = ""
        for c in w {
            if c == "*" {
                switch rng.int(4) {
                case 0: out += ""
                case 1: out += "x"
                case 2: out += "abc/def"
                default: out += "1.2"
                }
            } else {
                out.append(c)
            }
        }
        return out
    }

    static func events(count: Int, seed: UInt64) -> [Event] {
        var rng = SplitMix(state: seed)
        let vocab = vocabulary()
        let paths = vocab.filter { $0.hasPrefix("/") } + ["/usr/bin/ls", "/etc/passwd", "/tmp/x", "/home/u/.ssh/id_rsa", ""]
        let names = vocab.filter { !$0.contains("/") && !$0.contains(" ") } + ["ls", "bash", "sh", "sshd", "python3"]
        func word(_ list: [String]) -> String { fill(rng.pick(list), &rng) }
        func file(_ path: String, _ rng: inout SplitMix) -> FileInfo {
            FileInfo(path: path, mode: rng.chance(20) ? 0o104755 : 0o100644, changeTimeNs: rng.chance(50) ? 999_000_000_000 : 0,
                     modificationTimeNs: rng.chance(50) ? 999_000_000_000 : 0, inUpperLayer: rng.chance(20))
        }
        func process(depth: Int) -> ProcessEntry {
            let path = rng.chance(60) ? word(paths) : "/usr/bin/" + word(names)
            let base = FileInfo.baseName(of: path)
            var args: [String] = []
            for _ in 0..<rng.int(5) { args.append(rng.chance(70) ? word(vocab) : "-" + word(names)) }
            var envs = ["PATH=/bin"]
            if rng.chance(30) { envs.append(word(names) + "=" + word(names)) }
            if rng.chance(10) { envs.append("DD_SERVICE=web") }
            let parent = depth > 0 ? process(depth: depth - 1) : nil
            return ProcessEntry(
                pid: UInt32(100 + rng.int(1000)), ppid: parent?.pid ?? 1, comm: rng.chance(80) ? String(base.prefix(15)) : word(names),
                tty: rng.chance(30) ? "pts0" : "", executable: file(path, &rng), argv0: rng.chance(80) ? base : word(vocab),
                args: StringList(args), envs: StringList(envs),
                credentials: Credentials(uid: rng.chance(50) ? 0 : 1000, gid: 0, euid: rng.chance(50) ? 0 : 1000, egid: 0),
                containerID: rng.chance(30) ? "c0ffee" : nil, cgroupPath: rng.chance(30) ? "/docker/c0ffee" : nil,
                parent: parent)
        }
        var events: [Event] = []
        for _ in 0..<count {
            let p = process(depth: rng.int(4))
            let now: UInt64 = 1_000_000_000_000
            if rng.chance(50) {
                events.append(Event(type: .exec, timeNs: now, pid: p.pid, comm: p.comm, process: p, payload: .exec(ExecPayload(
                    file: p.executable ?? FileInfo(), credentials: p.credentials, ppid: p.ppid, argv0: p.argv0, args: p.args, envs: p.envs))))
            } else {
                let path = rng.chance(80) ? word(paths) : word(paths) + "/" + word(names)
                let flags: UInt32 = rng.pick([0, 0o1, 0o2, 0o100 | 0o1, 0o1000 | 0o2, 0o2000000, 0o1 | 0o2000])
                events.append(Event(type: .open, timeNs: now, pid: p.pid, comm: p.comm, process: p, payload: .open(OpenPayload(
                    file: file(path, &rng), flags: flags, mode: 0o644, dirfd: -100, syscall: .openat, userPath: path))))
            }
        }
        return events
    }

    func testApproversMatchFullEvaluationOnCorpus() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: T.corpus), "corpus not available")
        let loaded = PolicyLoader().load(paths: [T.corpus])
        let set = loaded.ruleSet
        XCTAssertGreaterThan(set.rules.count, 100)
        let ctx = EvalContext()
        let reference = EvalContext()
        var total = 0
        var matchedRules = Set<String>()
        for e in ApproverTests.events(count: 20_000, seed: 0x5eed) {
            let filtered = set.matches(e, context: ctx)
            let full = set.matchesUnfiltered(e, context: reference)
            XCTAssertEqual(filtered, full, "event \(e.type.name) \(e.process?.executable?.path ?? "") args \(e.process?.args ?? [])")
            if filtered != full { break }
            total += full.count
            matchedRules.formUnion(full)
        }
        // The generator must exercise the rules, not only miss them.
        XCTAssertGreaterThan(total, 1_000)
        XCTAssertGreaterThan(matchedRules.count, 40, "distinct rules matched: \(matchedRules.count)")
        print("approver equivalence: \(total) matches of \(matchedRules.count) distinct rules over 20000 events")
    }

    func testApproverKinds() throws {
        let policy = """
        rules:
          - id: by_name
            expression: exec.file.name in ["nc", "ncat"] && process.uid == 0
          - id: by_pattern
            expression: open.file.path =~ "/etc/ssh/*" || open.file.name == "shadow"
          - id: by_ancestor
            expression: exec.file.name != "" && process.ancestors.file.name == "sshd"
          - id: not_empty
            expression: process.container.id != "" && exec.file.path =~ "/tmp/**"
          - id: literal_in_array
            expression: "\\"--secret\\" in exec.argv"
          - id: none
            expression: open.file.path != open.syscall.path
          - id: by_flags
            expression: open.flags & O_CREAT > 0
          - id: by_name_and_flags
            expression: open.flags & O_CREAT > 0 && open.file.name == "shadow"
          - id: by_ancestry
            expression: open.file.name != "" && process.ancestors.uid == 0 && process.parent.euid != 0
        """
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("approvers-\(getpid()).policy")
        try policy.write(to: url, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: url) }
        let set = PolicyLoader().load(paths: [url.path]).ruleSet
        XCTAssertEqual(set.rules.count, 9)
        // A per-event predicate is only ever a second group (it costs what the rule's own test does).
        XCTAssertEqual(set.rulesWithoutApprover(for: .open), ["none", "by_flags"])
        XCTAssertTrue(set.approverSummary(for: .open).contains("predicates: 1 per event, 0 kept per process, 2 kept per parent"),
                      set.approverSummary(for: .open))
        XCTAssertEqual(set.rulesWithoutApprover(for: .exec), [])
        let sshd = ProcessEntry(pid: 2, comm: "sshd", executable: FileInfo(path: "/usr/sbin/sshd"))
        let root = ProcessEntry(pid: 3, ppid: 2, comm: "nc", executable: FileInfo(path: "/usr/bin/nc"), args: ["--secret"],
                                credentials: Credentials(uid: 0), containerID: "abc", parent: sshd)
        func exec(_ p: ProcessEntry) -> Event {
            Event(type: .exec, pid: p.pid, process: p, payload: .exec(ExecPayload(
                file: p.executable!, credentials: p.credentials, ppid: p.ppid, argv0: "nc", args: p.args, envs: [])))
        }
        XCTAssertEqual(set.matches(exec(root)), ["by_name", "by_ancestor", "literal_in_array"])
        let tmp = ProcessEntry(pid: 4, comm: "x", executable: FileInfo(path: "/tmp/a/x"), containerID: "abc")
        XCTAssertEqual(set.matches(exec(tmp)), ["not_empty"])
        let host = ProcessEntry(pid: 4, comm: "x", executable: FileInfo(path: "/tmp/a/x"))
        XCTAssertEqual(set.matches(exec(host)), [])
        func open(_ path: String, _ flags: UInt32) -> Event {
            Event(type: .open, pid: 5, process: host, payload: .open(OpenPayload(
                file: FileInfo(path: path), flags: flags, mode: 0, dirfd: -100, syscall: .openat, userPath: path)))
        }
        XCTAssertEqual(set.matches(open("/etc/ssh/sshd_config", 0o100)), ["by_pattern", "by_flags"])
        XCTAssertEqual(set.matches(open("/etc/shadow", 0)), ["by_pattern"])
        XCTAssertEqual(set.matches(open("/etc/shadow", 0o100)), ["by_pattern", "by_flags", "by_name_and_flags"])
        XCTAssertEqual(set.matches(open("/etc/passwd", 0)), [])
        // Ancestry: some ancestor runs as root, the parent not with euid 0.
        let user = ProcessEntry(pid: 6, comm: "bash", credentials: Credentials(uid: 1000, euid: 1000), parent: sshd)
        let child = ProcessEntry(pid: 7, comm: "cat", credentials: Credentials(uid: 1000, euid: 1000), parent: user)
        let event = Event(type: .open, pid: 7, process: child, payload: .open(OpenPayload(
            file: FileInfo(path: "/etc/passwd"), flags: 0, mode: 0, dirfd: -100, syscall: .openat, userPath: "/etc/passwd")))
        XCTAssertEqual(set.matches(event), ["by_ancestry"])
        user.credentials.euid = 0
        XCTAssertEqual(set.matches(event), [])
        for e in [exec(root), exec(tmp), exec(host), open("/etc/ssh/x", 0), open("/etc/shadow", 0o100), open("/etc/shadow", 0), event] {
            XCTAssertEqual(set.matches(e), set.matchesUnfiltered(e))
        }
    }

    /// Environment names are mostly ruled out by their first two bytes and length alone (see
    /// `FieldIndex.quickRejectBelow`); names long enough to hold a literal pattern's literal, whatever
    /// they start with, must still reach it.
    func testEnvironmentNamesQuickReject() throws {
        let set = try T.ruleSet(T.environmentRules)
        XCTAssertEqual(set.rulesWithoutApprover(for: .exec), [])
        func exec(_ envs: StringList) -> Event { T.exec(envs: envs) }
        let cases: [(StringList, [String])] = [
            (["HOME=/root", "XGLIBC_TUNABLES=1"], ["literal_env"]),
            (["GLIBC_TUNABLES=glibc.malloc"], ["literal_env"]),
            (["HOME=/root", "A=GLIBC_TUNABLES_IN_THE_VALUE"], []),
            (["LD_PRELOAD=/tmp/x.so", "SHORT=1"], ["exact_env"]),
            (["A=1", "=", "B", "PYTHONPATH=/x"], ["prefix_env"]),
            (["HOME=/root", "SHORT=1", "X"], []),
        ]
        for (envs, expected) in cases {
            XCTAssertEqual(set.matches(exec(envs)), expected, "\(Array(envs))")
            XCTAssertEqual(set.matches(exec(envs)), set.matchesUnfiltered(exec(envs)), "\(Array(envs))")
        }
    }

    func testRegexRequiredLiteral() {
        func lit(_ r: String) -> String { String(decoding: StringMatcher.requiredLiteral(r), as: UTF8.self) }
        XCTAssertEqual(lit(#"^\[.*\]$"#), "[")
        XCTAssertEqual(lit("abc*d"), "ab")
        XCTAssertEqual(lit("(TCP4-LISTEN:|SOCKS)"), "")
        XCTAssertEqual(lit(#"((25[0-5]|(2[0-4]|1\d|[1-9])\d)\.?\b){4}"#), "")
        XCTAssertEqual(lit("x+yz"), "yz")
        XCTAssertEqual(lit(#"\Qa*\E"#), "")
        XCTAssertEqual(lit("(?i)abc"), "")
        XCTAssertEqual(lit("[a[b]c]def"), "")
        XCTAssertEqual(lit("foo[0-9]+barbaz"), "barbaz")
        let m = try! StringMatcher([.regex(#"^\[.*\]$"#), .regex("(TCP4-LISTEN:|SOCKS)")], isPath: false)
        XCTAssertTrue(m.matches("[kworker/0:1]"))
        XCTAssertFalse(m.matches("kworker"))
        XCTAssertTrue(m.matches("x SOCKS4:1"))
    }
}
