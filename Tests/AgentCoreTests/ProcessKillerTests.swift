import Foundation
import XCTest
@testable import AgentCore

/// Real kills of child processes (the tests run as root); the disarmers run on an injected clock.
final class ProcessKillerTests: XCTestCase {
    private let clock = BootClock()
    private var children: [pid_t] = []
    private var scratch: URL!

    override func setUpWithError() throws {
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("killer-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    override func tearDown() {
        for pid in children {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        children.removeAll()
        try? FileManager.default.removeItem(at: scratch)
    }

    /// Starts `path args` as a child (posix_spawn returns after the exec).
    private func spawn(_ path: String, _ args: [String] = ["60"]) throws -> pid_t {
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let rc = posix_spawn(&pid, path, nil, nil, argv, environ)
        guard rc == 0 else { throw ActionError("posix_spawn \(path): \(errnoName(rc))") }
        children.append(pid)
        return pid
    }

    /// The child's entry as the agent would read it from /proc (fork time, executable ...).
    private func entry(_ pid: pid_t) throws -> ProcessEntry {
        try XCTUnwrap(ProcFSReader(clock: clock).readProcess(pid: UInt32(pid)))
    }

    /// Reaps the child and returns the signal that ended it (nil: exited normally).
    private func reap(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        XCTAssertEqual(waitpid(pid, &status, 0), pid)
        children.removeAll { $0 == pid }
        let signal = status & 0x7F
        return signal != 0 && signal != 0x7F ? signal : nil
    }

    private func isRunning(_ pid: pid_t) -> Bool {
        var status: Int32 = 0
        return waitpid(pid, &status, WNOHANG) == 0
    }

    /// A copy of sleep(1) at its own path: a distinct executable for the disarmer.
    private func sleepCopy(_ name: String) throws -> String {
        let path = scratch.appendingPathComponent(name).path
        try FileManager.default.copyItem(atPath: "/bin/sleep", toPath: path)
        return path
    }

    private let sigkill = KillAction(signal: 9)

    func testKillsTheProcessWithTheSignal() throws {
        let pid = try spawn("/bin/sleep")
        let killer = ProcessKiller(clock: clock)
        let target = try entry(pid)
        XCTAssertEqual(target.executablePath, "/usr/bin/sleep")
        let outcome = killer.kill(rule: "r", action: sigkill, target: target, eventTimeNs: 1_700_000_000_000_000_000)
        XCTAssertEqual(outcome.status, .performed)
        XCTAssertEqual(outcome.signalledPids, [UInt32(pid)])
        XCTAssertEqual(outcome.signalName, "SIGKILL")
        XCTAssertEqual(outcome.scope, .process)
        XCTAssertNotEqual(outcome.killedAtNs, 0)
        XCTAssertEqual(outcome.createdAtNs, target.forkTimeNs)
        XCTAssertEqual(reap(pid), SIGKILL)

        let term = try spawn("/bin/sleep")
        let termOutcome = killer.kill(rule: "r", action: KillAction(signal: SIGTERM), target: try entry(term), eventTimeNs: 1)
        XCTAssertEqual(termOutcome.status, .performed)
        XCTAssertEqual(reap(term), SIGTERM)
        XCTAssertEqual(killer.counters.performed, 2)
        XCTAssertEqual(killer.counters.processesSignalled, 2)
    }

    func testGoneProcessFails() throws {
        let pid = try spawn("/bin/sleep")
        let target = try entry(pid)
        kill(pid, SIGKILL)
        _ = reap(pid)
        let outcome = ProcessKiller(clock: clock).kill(rule: "r", action: sigkill, target: target, eventTimeNs: 1)
        XCTAssertEqual(outcome.status, .failed("ESRCH"))
        XCTAssertEqual(outcome.signalledPids, [])
        XCTAssertEqual(outcome.killedAtNs, 0)
    }

    func testRefusesProtectedProcesses() throws {
        let killer = ProcessKiller(clock: clock)
        func status(_ target: ProcessEntry, _ action: KillAction? = nil) -> KillOutcome.Status {
            killer.kill(rule: "r", action: action ?? sigkill, target: target, eventTimeNs: 1).status
        }
        // Signal 0 probes only: the process is not touched whatever the safeguards say.
        let probe = KillAction(signal: 0)
        XCTAssertEqual(status(ProcessEntry(pid: 1, executable: FileInfo(path: "/sbin/init")), probe), .refused("pid 1 is never signalled"))
        XCTAssertEqual(status(ProcessEntry(pid: 0), probe), .refused("pid 0 is never signalled"))
        XCTAssertEqual(status(ProcessEntry(pid: UInt32(getpid())), probe), .refused("pid \(getpid()) is the agent itself"))
        // kthreadd, as the process tree knows it and as a lying entry that /proc contradicts.
        XCTAssertEqual(status(try entry(2), probe), .refused("pid 2 is a kernel thread"))
        XCTAssertEqual(status(ProcessEntry(pid: 2, ppid: 0), probe), .refused("pid 2 is a kernel thread"))
        let reader = ProcFSReader(clock: clock)
        let kthread = try XCTUnwrap(reader.listPids().sorted().first { pid in pid > 2 && reader.readProcess(pid: pid)?.isKworker == true })
        XCTAssertEqual(status(try entry(pid_t(kthread)), probe), .refused("pid \(kthread) is a kernel thread"))
        let lying = ProcessEntry(pid: kthread, ppid: 1, executable: FileInfo(path: "/usr/bin/sleep"))
        XCTAssertEqual(status(lying, probe), .refused("pid \(kthread) is a kernel thread"))
        XCTAssertEqual(killer.counters.refused, 7)
        XCTAssertEqual(killer.counters.processesSignalled, 0)
        // The agent's own pid with a real signal: refused, and this test is still running.
        XCTAssertEqual(status(ProcessEntry(pid: UInt32(getpid()))), .refused("pid \(getpid()) is the agent itself"))

        // Excluded executables, enforcement off, a reused pid.
        let pid = try spawn("/bin/sleep")
        var settings = KillSettings()
        settings.excludedExecutables = ["/usr/bin/sleep"]
        XCTAssertEqual(ProcessKiller(settings: settings, clock: clock).kill(rule: "r", action: sigkill, target: try entry(pid), eventTimeNs: 1).status,
                       .refused("/usr/bin/sleep is excluded from enforcement"))
        settings = KillSettings()
        settings.enabled = false
        XCTAssertEqual(ProcessKiller(settings: settings, clock: clock).kill(rule: "r", action: sigkill, target: try entry(pid), eventTimeNs: 1).status,
                       .refused("enforcement is disabled"))
        let older = try entry(pid)
        older.forkTimeNs -= 10_000_000_000
        XCTAssertEqual(status(older), .refused("pid \(pid) was reused by another process"))
        XCTAssertEqual(status(try entry(pid), KillAction(signal: 9, scope: .container)), .refused("the process is not in a container"))
        XCTAssertTrue(isRunning(pid))
    }

    func testDisarmsAfterTooManyExecutablesWithinThePeriod() throws {
        var now: UInt64 = 1_000_000_000
        let killer = ProcessKiller(clock: clock, monotonicNs: { now })
        var paths: [String] = []
        for i in 1...6 { paths.append(try sleepCopy("sleep\(i)")) }
        // Five distinct executables: killed.
        for path in paths.prefix(5) {
            let pid = try spawn(path)
            let outcome = killer.kill(rule: "kill_rule", action: sigkill, target: try entry(pid), eventTimeNs: 1)
            XCTAssertEqual(outcome.status, .performed, path)
            XCTAssertEqual(reap(pid), SIGKILL)
            now += 1_000_000_000
        }
        // The sixth within the minute disarms the rule: not killed, and neither is a known one now.
        let sixth = try spawn(paths[5])
        XCTAssertEqual(killer.kill(rule: "kill_rule", action: sigkill, target: try entry(sixth), eventTimeNs: 1).status, .disarmed(.executable))
        XCTAssertTrue(isRunning(sixth))
        let first = try spawn(paths[0])
        XCTAssertEqual(killer.kill(rule: "kill_rule", action: sigkill, target: try entry(first), eventTimeNs: 1).status, .disarmed(.executable))
        XCTAssertTrue(isRunning(first))
        // Another rule has its own disarmer.
        XCTAssertEqual(killer.kill(rule: "other_rule", action: sigkill, target: try entry(first), eventTimeNs: 1).status, .performed)
        XCTAssertEqual(reap(first), SIGKILL)
        // A rule without the executable disarmer is never disarmed by it.
        let unguarded = KillAction(signal: 9, disableExecutableDisarmer: true)
        for path in paths {
            let pid = try spawn(path)
            XCTAssertEqual(killer.kill(rule: "unguarded", action: unguarded, target: try entry(pid), eventTimeNs: 1).status, .performed)
            XCTAssertEqual(reap(pid), SIGKILL)
        }
        // A period after the last kill it saw, the rule is armed again.
        now += 61_000_000_000
        XCTAssertEqual(killer.kill(rule: "kill_rule", action: sigkill, target: try entry(sixth), eventTimeNs: 1).status, .performed)
        XCTAssertEqual(reap(sixth), SIGKILL)
        XCTAssertEqual(killer.counters.disarmed, 2)
        XCTAssertEqual(killer.counters.rearmed, 1)
    }

    func testDisarmsAfterTooManyContainers() throws {
        var now: UInt64 = 0
        var settings = KillSettings()
        settings.containerDisarmer = DisarmerSettings(maxAllowed: 2, periodNs: 10)
        // Re-arming waits for both disarmers' keys to expire: keep the executable one out of it.
        settings.executableDisarmer.enabled = false
        let killer = ProcessKiller(settings: settings, clock: clock, monotonicNs: { now })
        // Probe-only signal on entries that claim containers: the disarmer decides before any pid is touched.
        let probe = KillAction(signal: 0)
        func target(_ id: Character) -> ProcessEntry {
            ProcessEntry(pid: UInt32(getppid()), containerID: String(repeating: id, count: 64))
        }
        XCTAssertNotEqual(killer.kill(rule: "r", action: probe, target: target("a"), eventTimeNs: 1).status, .disarmed(.container))
        XCTAssertNotEqual(killer.kill(rule: "r", action: probe, target: target("b"), eventTimeNs: 1).status, .disarmed(.container))
        XCTAssertEqual(killer.kill(rule: "r", action: probe, target: target("c"), eventTimeNs: 1).status, .disarmed(.container))
        now = 20
        XCTAssertNotEqual(killer.kill(rule: "r", action: probe, target: target("c"), eventTimeNs: 1).status, .disarmed(.container))
    }

    /// Container scope: every process of the container, nothing outside it even when the list says so.
    func testContainerScopeHitsOnlyThatContainer() throws {
        let containerID = String(repeating: "c0ffee", count: 11).prefix(64)
        // The cgroup v2 hierarchy: /sys/fs/cgroup/unified on hybrid systems.
        let hierarchy = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/unified/cgroup.procs") ? "/sys/fs/cgroup/unified" : "/sys/fs/cgroup"
        let dir = "\(hierarchy)/docker-\(containerID).scope"
        guard mkdir(dir, 0o755) == 0 || errno == EEXIST else { throw XCTSkip("cannot create a cgroup at \(dir): \(errnoName(errno))") }
        defer { rmdir(dir) }

        let inside = [try spawn("/bin/sleep"), try spawn("/bin/sleep")]
        let outside = try spawn("/bin/sleep")
        for pid in inside {
            try "\(pid)\n".write(toFile: dir + "/cgroup.procs", atomically: false, encoding: .utf8)
        }
        let exited = try spawn("/bin/sleep")
        // The outside one is a stale entry claiming the container; the exited one is gone.
        let entries = try (inside + [outside, exited]).map { pid -> ProcessEntry in
            let e = try entry(pid)
            e.containerID = String(containerID)
            return e
        }
        kill(exited, SIGKILL)
        XCTAssertEqual(reap(exited), SIGKILL)
        let action = KillAction(signal: SIGTERM, scope: .container)
        let outcome = ProcessKiller(clock: clock).kill(rule: "r", action: action, target: entries[0], eventTimeNs: 1,
                                                       containerProcesses: { entries })
        XCTAssertEqual(outcome.status, .performed)
        XCTAssertEqual(Set(outcome.signalledPids), Set(inside.map { UInt32($0) }))
        XCTAssertEqual(outcome.skipped.map { $0.pid }, [UInt32(outside), UInt32(exited)])
        XCTAssertEqual(outcome.skipped.map { $0.reason }, ["pid \(outside) is not in container \(containerID.prefix(12))", "pid \(exited) exited"])
        XCTAssertTrue(outcome.failures.isEmpty)
        for pid in inside { XCTAssertEqual(reap(pid), SIGTERM) }
        XCTAssertTrue(isRunning(outside))

        // One protected process in the list refuses the whole kill.
        let survivor = try spawn("/bin/sleep")
        try "\(survivor)\n".write(toFile: dir + "/cgroup.procs", atomically: false, encoding: .utf8)
        let survivorEntry = try entry(survivor)
        survivorEntry.containerID = String(containerID)
        let refused = ProcessKiller(clock: clock).kill(rule: "r", action: action, target: survivorEntry, eventTimeNs: 1,
                                                       containerProcesses: { [survivorEntry, ProcessEntry(pid: 1, containerID: String(containerID))] })
        XCTAssertEqual(refused.status, .refused("pid 1 is never signalled"))
        XCTAssertTrue(isRunning(survivor))
        kill(survivor, SIGKILL)
        XCTAssertEqual(reap(survivor), SIGKILL)
    }

    func testCgroupLinesNameTheContainer() {
        let id = String(repeating: "ab", count: 32)
        XCTAssertTrue(ProcessKiller.cgroups(Array("12:pids:/\n0::/system.slice/docker-\(id).scope\n".utf8), contain: id))
        XCTAssertTrue(ProcessKiller.cgroups(Array("4:memory:/docker/\(id)\n0::/\n".utf8), contain: id))
        XCTAssertFalse(ProcessKiller.cgroups(Array("0::/system.slice/ssh.service\n".utf8), contain: id))
        XCTAssertFalse(ProcessKiller.cgroups(Array("0::/system.slice/docker-\(id.dropLast())0.scope\n".utf8), contain: id))
    }
}
