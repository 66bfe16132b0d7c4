import XCTest
@testable import AgentCore

final class ProcessTreeTests: XCTestCase {
    private var source: FakeProcessSource!
    private var tree: ProcessTree!

    override func setUp() {
        source = FakeProcessSource()
        source.add(pid: 1, ppid: 0, comm: "init", exe: "/sbin/init")
        tree = ProcessTree(source: source, clock: BootClock(offsetNs: 1_000_000))
        XCTAssertEqual(tree.snapshot(), 1)
    }

    @discardableResult
    private func apply(_ event: Event) -> Event {
        var event = event
        tree.resolve(&event)
        return event
    }

    func testForkCopiesParentImageAndLinksLineage() throws {
        apply(Events.exec(pid: 1, ppid: 0, path: "/sbin/init"))
        let fork = apply(Events.fork(parent: 1, child: 100, comm: "init", uid: 1000))
        let child = try XCTUnwrap(fork.process)
        XCTAssertEqual(child.pid, 100)
        XCTAssertEqual(child.ppid, 1)
        XCTAssertTrue(child.parent === tree.entry(forPid: 1))
        XCTAssertEqual(child.executable?.path, "/sbin/init")
        XCTAssertEqual(child.credentials.uid, 1000, "fork credentials come from the payload")
        XCTAssertEqual(child.tty, "pts0")
        XCTAssertEqual(child.forkTimeNs, 1_000 + 1_000_000, "boot ns converted to wall ns")
        XCTAssertFalse(child.isExecChild)
        XCTAssertNil(fork.processResolutionError)

        apply(Events.fork(parent: 100, child: 200))
        let grandchild = try XCTUnwrap(tree.entry(forPid: 200))
        XCTAssertEqual(grandchild.ancestors(limit: 10).entries.map(\.pid), [100, 1])
        XCTAssertEqual(tree.liveCount, 3)
    }

    func testExecReplacesImageAndKeepsParent() throws {
        apply(Events.fork(parent: 1, child: 100))
        let forked = try XCTUnwrap(tree.entry(forPid: 100))
        let exec = apply(Events.exec(pid: 100, ppid: 1, path: "/usr/bin/ls", args: ["-l", "/tmp"], time: 5_000))
        let image = try XCTUnwrap(exec.process)
        XCTAssertFalse(image === forked)
        XCTAssertTrue(tree.entry(forPid: 100) === image)
        XCTAssertTrue(image.parent === tree.entry(forPid: 1))
        XCTAssertTrue(image.isExecChild)
        XCTAssertEqual(image.executable?.path, "/usr/bin/ls")
        XCTAssertEqual(image.argv0, "/usr/bin/ls")
        XCTAssertEqual(image.args, ["-l", "/tmp"])
        XCTAssertEqual(image.envs, ["PATH=/bin"])
        XCTAssertEqual(image.execTimeNs, 5_000)
        XCTAssertEqual(image.forkTimeNs, 500 + 1_000_000)
        XCTAssertEqual(image.comm, "ls")

        // Events of the pid now see the new image.
        XCTAssertTrue(apply(Events.open(pid: 100)).process === image)
    }

    func testExecOfUnknownPidUsesPayloadParent() throws {
        let exec = apply(Events.exec(pid: 300, ppid: 1, path: "/bin/date"))
        let image = try XCTUnwrap(exec.process)
        XCTAssertFalse(image.isExecChild)
        XCTAssertTrue(image.parent === tree.entry(forPid: 1))
        XCTAssertEqual(source.reads.filter { $0 == 300 }, [], "exec never reads /proc for its own pid")
    }

    func testExitRemovesEntryAndReleasesLeaf() throws {
        apply(Events.fork(parent: 1, child: 100))
        weak var leaf: ProcessEntry?
        do {
            let exit = apply(Events.exit(pid: 100, time: 9_000))
            leaf = exit.process
            XCTAssertEqual(exit.process?.exitTimeNs, 9_000)
            XCTAssertNil(tree.entry(forPid: 100))
            XCTAssertNotNil(leaf, "the in-flight event keeps the entry")
        }
        XCTAssertNil(leaf, "an exited leaf is freed once no event refers to it")
        XCTAssertEqual(tree.liveCount, 1)
    }

    func testExitedParentLivesWhileChildLives() throws {
        apply(Events.fork(parent: 1, child: 100))
        apply(Events.fork(parent: 100, child: 200))
        weak let parent = tree.entry(forPid: 100)
        weak let child = tree.entry(forPid: 200)
        apply(Events.exit(pid: 100))
        XCTAssertNil(tree.entry(forPid: 100))
        XCTAssertNotNil(parent, "the child's parent link keeps the exited parent")
        XCTAssertTrue(child?.parent === parent)
        apply(Events.exit(pid: 200))
        XCTAssertNil(child)
        XCTAssertNil(parent, "released with its last child")
    }

    func testLazyLookupFromSourceThenMinimalEntry() throws {
        source.add(pid: 50, ppid: 1, comm: "sshd", exe: "/usr/sbin/sshd")
        let known = apply(Events.open(pid: 50))
        XCTAssertEqual(known.process?.executable?.path, "/usr/sbin/sshd")
        XCTAssertTrue(known.process?.parent === tree.entry(forPid: 1))
        XCTAssertNil(known.processResolutionError)
        XCTAssertEqual(tree.lazyLookups, 1)
        apply(Events.open(pid: 50))
        XCTAssertEqual(tree.lazyLookups, 1, "known pids never read /proc")

        let unknown = apply(Events.open(pid: 77, comm: "ghost"))
        XCTAssertEqual(unknown.process?.pid, 77)
        XCTAssertEqual(unknown.process?.comm, "ghost")
        XCTAssertEqual(unknown.process?.cgroupID, 7)
        XCTAssertEqual(unknown.processResolutionError, ProcessTree.processNotFound)
        XCTAssertEqual(tree.lookupFailures, 1)
        let again = apply(Events.open(pid: 77, comm: "ghost"))
        XCTAssertEqual(again.processResolutionError, ProcessTree.processNotFound)
        XCTAssertEqual(tree.lookupFailures, 1, "one failed read per unknown pid, not per event")
    }

    func testForkFromUnknownParentReadsProcLazily() throws {
        source.add(pid: 60, ppid: 1, comm: "bash", exe: "/bin/bash")
        let fork = apply(Events.fork(parent: 60, child: 61))
        XCTAssertEqual(fork.process?.executable?.path, "/bin/bash")
        XCTAssertEqual(fork.process?.ancestors(limit: 5).entries.map(\.pid), [60, 1])

        let orphan = apply(Events.fork(parent: 70, child: 71))
        XCTAssertEqual(orphan.process?.pid, 71)
        XCTAssertEqual(orphan.process?.parent?.pid, 70)
        XCTAssertEqual(orphan.processResolutionError, ProcessTree.parentNotFound)
    }

    func testPtraceAndSignalTargets() throws {
        source.add(pid: 80, ppid: 1, comm: "victim")
        var ptrace = Event(type: .ptrace, pid: 1, tid: 1, comm: "init",
                           payload: .ptrace(PtracePayload(request: 16, address: 0, traceePid: 80)))
        tree.resolve(&ptrace)
        guard case .ptrace(let payload) = ptrace.payload else { return XCTFail() }
        XCTAssertEqual(payload.tracee?.comm, "victim")

        for (pid, expected) in [(Int32(80), Optional("victim")), (0, nil), (-80, nil), (999, nil)] {
            var signal = Event(type: .signal, pid: 1, tid: 1, comm: "init",
                               payload: .signal(SignalPayload(type: 9, pid: pid)))
            tree.resolve(&signal)
            guard case .signal(let payload) = signal.payload else { return XCTFail() }
            XCTAssertEqual(payload.target?.comm, expected, "pid \(pid)")
            XCTAssertNil(signal.processResolutionError, "target misses do not mark the acting process")
        }
    }

    func testEntriesInAContainer() {
        let id = String(repeating: "ab", count: 32)
        apply(Events.fork(parent: 1, child: 100))
        apply(Events.fork(parent: 1, child: 200))
        apply(Events.fork(parent: 1, child: 300))
        tree.entry(forPid: 100)?.containerID = id
        tree.entry(forPid: 300)?.containerID = id
        tree.entry(forPid: 200)?.containerID = String(repeating: "cd", count: 32)
        XCTAssertEqual(tree.entries(inContainer: id).map(\.pid).sorted(), [100, 300])
        XCTAssertTrue(tree.entries(inContainer: "").isEmpty)
    }

    func testPruneDropsDeadPidsAndCapTriggersPrune() {
        apply(Events.fork(parent: 1, child: 100))
        apply(Events.fork(parent: 1, child: 101))
        source.add(pid: 101, ppid: 1, comm: "alive")
        XCTAssertEqual(tree.prune(), 1)
        XCTAssertNil(tree.entry(forPid: 100))
        XCTAssertNotNil(tree.entry(forPid: 101))

        let small = ProcessTree(source: source, clock: BootClock(offsetNs: 0), maxLiveEntries: 4)
        for child in UInt32(1000)..<1010 {
            var event = Events.fork(parent: 1, child: child)
            small.resolve(&event)
        }
        XCTAssertLessThanOrEqual(small.liveCount, 10)
        XCTAssertGreaterThan(small.prunedEntries, 0, "going over the cap drops dead pids")
    }

    func testSnapshotLinksParentsRegardlessOfOrder() {
        let source = FakeProcessSource()
        source.add(pid: 30, ppid: 20, comm: "c")
        source.add(pid: 20, ppid: 10, comm: "b")
        source.add(pid: 10, ppid: 0, comm: "a")
        let tree = ProcessTree(source: source, clock: BootClock(offsetNs: 0))
        XCTAssertEqual(tree.snapshot(), 3)
        XCTAssertEqual(tree.entry(forPid: 30)?.ancestors(limit: 5).entries.map(\.pid), [20, 10])
        XCTAssertEqual(tree.entry(forPid: 30)?.source, "snapshot")
        XCTAssertEqual(tree.snapshot(), 0, "a second snapshot keeps existing entries")
    }
}
