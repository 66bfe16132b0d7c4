import Foundation
import XCTest
@testable import AgentCore

/// Approver results kept on process entries (`ApproverCache`) must follow every change to the
/// entries they were read from.
final class ApproverCacheTests: XCTestCase {
    private func ruleSet(_ policy: String) throws -> RuleSet { try T.ruleSet(policy) }

    func testKeptResultsFollowProcessAndChainChanges() throws {
        let set = try ruleSet("""
        rules:
          - id: by_comm
            expression: open.file.path == "/etc/shadow" && process.comm == "nc"
          - id: by_ancestor
            expression: open.file.path == "/etc/shadow" && process.ancestors.comm == "sshd"
          - id: by_parent
            expression: exec.file.name != "" && process.parent.file.name == "sshd"
        """)
        let ctx = EvalContext()
        let top = ProcessEntry(pid: 1, comm: "systemd", executable: FileInfo(path: "/usr/lib/systemd/systemd"))
        let middle = ProcessEntry(pid: 2, ppid: 1, comm: "bash", executable: FileInfo(path: "/usr/bin/bash"), parent: top)
        let leaf = ProcessEntry(pid: 3, ppid: 2, comm: "cat", executable: FileInfo(path: "/usr/bin/cat"), parent: middle)
        func open(_ p: ProcessEntry) -> Event { T.open("/etc/shadow", process: p) }
        XCTAssertEqual(set.matches(open(leaf), context: ctx), [])
        XCTAssertNotNil(leaf.approverCache, "open events keep process results on their process")
        XCTAssertNotNil(middle.approverCache, "and chain results on its parent")

        // The process's own field.
        leaf.comm = "nc"
        XCTAssertEqual(set.matches(open(leaf), context: ctx), ["by_comm"])
        // A field two levels up.
        top.comm = "sshd"
        XCTAssertEqual(set.matches(open(leaf), context: ctx), ["by_comm", "by_ancestor"])
        top.comm = "systemd"
        XCTAssertEqual(set.matches(open(leaf), context: ctx), ["by_comm"])
        // Re-parenting above the parent.
        let sshd = ProcessEntry(pid: 9, comm: "sshd", executable: FileInfo(path: "/usr/sbin/sshd"))
        middle.parent = sshd
        XCTAssertEqual(set.matches(open(leaf), context: ctx), ["by_comm", "by_ancestor"])
        // Re-parenting the process itself.
        leaf.parent = top
        XCTAssertEqual(set.matches(open(leaf), context: ctx), ["by_comm"])

        // Exec events: a new image each time, its parent's results are kept and shared.
        func exec(_ parent: ProcessEntry) -> Event {
            let p = ProcessEntry(pid: 10, ppid: parent.pid, comm: "ls", executable: FileInfo(path: "/usr/bin/ls"), parent: parent)
            return Event(type: .exec, pid: p.pid, process: p, payload: .exec(ExecPayload(
                file: p.executable!, credentials: p.credentials, ppid: p.ppid, argv0: "ls", args: [], envs: [])))
        }
        XCTAssertEqual(set.matches(exec(sshd), context: ctx), ["by_parent"])
        XCTAssertEqual(set.matches(exec(sshd), context: ctx), ["by_parent"])
        XCTAssertEqual(set.matches(exec(middle), context: ctx), [])
        sshd.executable = FileInfo(path: "/usr/sbin/dropbear")
        XCTAssertEqual(set.matches(exec(sshd), context: ctx), [])

        // Two rule sets keep separate results on the same entries.
        let other = try ruleSet("""
        rules:
          - id: other
            expression: open.file.path == "/etc/shadow" && process.comm == "cat"
        """)
        leaf.comm = "cat"
        XCTAssertEqual(other.matches(open(leaf), context: ctx), ["other"])
        XCTAssertEqual(set.matches(open(leaf), context: ctx), [])
    }

    func testDeepAndCyclicChainsAreBounded() throws {
        let set = try ruleSet("""
        rules:
          - id: by_ancestor
            expression: open.file.path == "/etc/shadow" && process.ancestors.comm == "sshd"
        """)
        var entry = ProcessEntry(pid: 1, comm: "sshd")
        for i in 0..<300 { entry = ProcessEntry(pid: UInt32(i + 2), comm: "sh", parent: entry) }
        let event = T.open("/etc/shadow", process: entry)
        // Deeper than `ApproverCache.maxChainDepth`: read per event, still correct.
        XCTAssertEqual(set.matches(event), ["by_ancestor"])
        XCTAssertEqual(set.matches(event), ["by_ancestor"])
        // A cycle (never made by the agent): evaluation ends.
        let a = ProcessEntry(pid: 1, comm: "a")
        let b = ProcessEntry(pid: 2, comm: "b", parent: a)
        a.parent = b
        let leaf = ProcessEntry(pid: 3, comm: "c", parent: a)
        XCTAssertEqual(set.matches(T.open("/etc/shadow", process: leaf)), [])
        XCTAssertEqual(set.matches(T.open("/etc/shadow", process: leaf)), [])
    }

    /// The corpus, on events that share a pool of process entries, with random changes to the
    /// entries between events: filtered evaluation (with kept results) equals full evaluation.
    func testKeptResultsMatchFullEvaluationOnCorpusWithChanges() throws {
        try XCTSkipUnless(FileManager.default.fileExists(atPath: T.corpus), "corpus not available")
        let set = PolicyLoader().load(paths: [T.corpus]).ruleSet
        let generated = ApproverTests.events(count: 400, seed: 0xcafe)
        let pool = generated.compactMap(\.process)
        let names = ["sshd", "bash", "nc", "python3", "java", "containerd-shim", "runc", "sh"]
        var rng = SplitMix(state: 42)
        let ctx = EvalContext()
        let reference = EvalContext()
        var total = 0
        for n in 0..<20_000 {
            let p = rng.pick(pool)
            if rng.chance(10) {
                // Change one entry of the chain.
                var target = p
                for _ in 0..<rng.int(3) { if let up = target.parent { target = up } }
                switch rng.int(6) {
                case 0: target.comm = rng.pick(names)
                case 1: target.executable = FileInfo(path: "/usr/bin/" + rng.pick(names))
                case 2: target.containerID = rng.chance(50) ? "c0ffee" : nil
                case 3: target.parent = rng.chance(20) ? nil : ApproverTests.events(count: 1, seed: UInt64(n)).first?.process
                case 4: target.args = [rng.pick(names), "-c", "x"]
                default:
                    let uid: UInt32 = rng.chance(50) ? 0 : 1000
                    target.credentials = Credentials(uid: uid, gid: 0, euid: rng.chance(50) ? 0 : uid, egid: 0)
                }
            }
            let template = rng.pick(generated)
            var e = template
            e.process = p
            if case .exec = template.payload {
                e.payload = .exec(ExecPayload(file: p.executable ?? FileInfo(), credentials: p.credentials, ppid: p.ppid,
                                              argv0: p.argv0, args: p.args, envs: p.envs))
            }
            let filtered = set.matches(e, context: ctx)
            let full = set.matchesUnfiltered(e, context: reference)
            XCTAssertEqual(filtered, full, "event \(n): \(e.type.name) of \(p.comm)")
            if filtered != full { break }
            total += full.count
        }
        XCTAssertGreaterThan(total, 500)
    }

    func testReplaySharesProcessEntries() throws {
        func line(_ name: String, pid: Int, exec: String, cgroup: String?, ancestors: [(Int, String)]) -> String {
            let chain = ancestors.map { #"{"pid":\#($0.0),"comm":"p\#($0.0)","exec_time":"\#($0.1)"}"# }.joined(separator: ",")
            let cg = cgroup.map { #","cgroup":{"id":"\#($0)"}"# } ?? ""
            return #"{"evt":{"name":"\#(name)"},"process":{"pid":\#(pid),"comm":"p\#(pid)","exec_time":"\#(exec)","ancestors":[\#(chain)]}\#(cg)}"#
        }
        let t1 = "2026-01-01T00:00:01Z", t2 = "2026-01-01T00:00:02Z", t3 = "2026-01-01T00:00:03Z"
        let replay = EventReplay()
        // The shell first appears as an ancestor (no cgroup), then as an event's process.
        let a = try replay.event(fromLine: line("exec", pid: 3, exec: t3, cgroup: "/a.slice", ancestors: [(2, t2), (1, t1)]))
        let b = try replay.event(fromLine: line("open", pid: 2, exec: t2, cgroup: "/b.slice", ancestors: [(1, t1)]))
        let c = try replay.event(fromLine: line("open", pid: 3, exec: t3, cgroup: nil, ancestors: [(2, t2)]))
        XCTAssertTrue(a.process?.parent === b.process)
        XCTAssertTrue(b.process?.parent === a.process?.parent?.parent)
        XCTAssertTrue(c.process === a.process)
        XCTAssertEqual(a.process?.parent?.cgroupPath, "/b.slice", "filled in when first seen as an event's process")
        XCTAssertEqual(c.process?.cgroupPath, "/a.slice")
        XCTAssertNotNil(c.process?.parent?.parent, "a truncated chain does not cut the known one")
        XCTAssertEqual(replay.processCount, 3)
    }
}
