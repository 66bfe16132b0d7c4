#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One of a rule's two disarmers: at most `maxAllowed` distinct keys (containers, or executables)
/// within `periodNs`, as Datadog's `runtime_security_config.enforcement.disarmer.*`.
public struct DisarmerSettings: Sendable, Equatable {
    public var enabled: Bool
    public var maxAllowed: Int
    public var periodNs: UInt64

    /// Datadog's defaults: enabled, 5 distinct keys per minute.
    public init(enabled: Bool = true, maxAllowed: Int = 5, periodNs: UInt64 = 60_000_000_000) {
        self.enabled = enabled
        self.maxAllowed = maxAllowed
        self.periodNs = periodNs
    }
}

/// Settings of `ProcessKiller`.
public struct KillSettings: Sendable {
    /// Datadog's `enforcement.enabled`: off, every kill is refused.
    public var enabled = true
    public var containerDisarmer = DisarmerSettings()
    public var executableDisarmer = DisarmerSettings()
    /// Executables never signalled (exact paths; Datadog's `enforcement.exclude_binaries`). The
    /// agent's own executable is always among them.
    public var excludedExecutables: Set<String> = []
    /// How far /proc's start time of a pid may be from the entry's fork time for the pid to still be
    /// that process (Datadog allows 2 s); beyond it the pid was reused and is not signalled.
    public var startTimeToleranceNs: UInt64 = 2_000_000_000
    public var procRoot = "/proc"

    public init() {}
}

/// Which disarmer stopped a kill (`disarmer_type` in Datadog's report).
public enum DisarmerKind: String, Sendable {
    case container
    case executable
}

/// What one kill action did. Written as an `agent.rule_actions` item by `JSONWriter.killActionReport`.
public struct KillOutcome: Sendable {
    public enum Status: Sendable, Equatable {
        /// Every target was signalled.
        case performed
        /// Some targets were signalled, some could not be (they exited first, ...): see `failures`.
        case partiallyPerformed
        /// The rule is disarmed for the period: nothing was signalled.
        case disarmed(DisarmerKind)
        /// A safeguard forbids it (pid 1, the agent itself, a kernel thread, an excluded executable,
        /// a reused pid, enforcement off ...): nothing was signalled.
        case refused(String)
        /// No target could be signalled; the errno name of the first failure.
        case failed(String)
    }

    public let ruleID: String
    public let signal: Int32
    public let signalName: String
    public let scope: KillAction.Scope
    public let status: Status
    /// The event's process.
    public let targetPid: UInt32
    /// Pids the signal was delivered to, in order.
    public let signalledPids: [UInt32]
    /// Pids it could not be delivered to, with the errno name (`ESRCH` ...).
    public let failures: [(pid: UInt32, error: String)]
    /// Container scope: pids of the list that were left alone, with why (exited, not in the
    /// container any more, pid reused).
    public let skipped: [(pid: UInt32, reason: String)]
    /// The target's exec (else fork) time, ns since the epoch; 0 when unknown (Datadog's `created_at`).
    public let createdAtNs: UInt64
    /// The matching event's time (Datadog's `detected_at`).
    public let detectedAtNs: UInt64
    /// When the signal was sent; 0 when it was not.
    public let killedAtNs: UInt64

    public init(ruleID: String, signal: Int32, signalName: String, scope: KillAction.Scope, status: Status,
                targetPid: UInt32, signalledPids: [UInt32], failures: [(pid: UInt32, error: String)],
                skipped: [(pid: UInt32, reason: String)], createdAtNs: UInt64, detectedAtNs: UInt64, killedAtNs: UInt64) {
        self.ruleID = ruleID
        self.signal = signal
        self.signalName = signalName
        self.scope = scope
        self.status = status
        self.targetPid = targetPid
        self.signalledPids = signalledPids
        self.failures = failures
        self.skipped = skipped
        self.createdAtNs = createdAtNs
        self.detectedAtNs = detectedAtNs
        self.killedAtNs = killedAtNs
    }
}

/// Totals since the killer started (or its last `reset`).
public struct ProcessKillerCounters: Sendable, Equatable {
    public var performed = 0
    public var partiallyPerformed = 0
    public var disarmed = 0
    public var refused = 0
    public var failed = 0
    /// Processes the signal was delivered to.
    public var processesSignalled = 0
    /// Times a disarmed rule was armed again after its period.
    public var rearmed = 0
}

/// Runs `kill` actions: sends the signal to the event's process, or to every process of its
/// container, under Datadog's safeguards.
///
/// Never signalled: pid ≤ 1, the agent's own pid, kernel threads (PF_KTHREAD, kthreadd and its
/// children), excluded executables, a pid whose start time is not the entry's (reused), and for
/// container scope any pid whose cgroup is not the target's container at the moment of the kill.
/// A pid is opened with pidfd_open(2) before it is checked and signalled through that descriptor,
/// so the pid cannot be reused between the checks and the signal.
///
/// Each rule has its disarmers (Datadog's): when the rule's kills within the period would reach
/// more than `maxAllowed` distinct executables (or containers), the rule is disarmed and its kills
/// are reported `disarmed` without being performed, until every key it saw is older than the
/// period. Not thread-safe: the event loop owns it.
public final class ProcessKiller {
    public let settings: KillSettings
    public private(set) var counters = ProcessKillerCounters()
    private let clock: BootClock
    private let monotonicNs: () -> UInt64
    private let wallNs: () -> UInt64
    private let ownPid: UInt32
    private var excluded: Set<String>
    private var disarmers: [String: RuleDisarmer] = [:]

    /// - Parameters:
    ///   - clock: converts /proc start times for the pid-reuse check.
    ///   - monotonicNs: the disarmers' clock (injected by tests).
    ///   - wallNs: `killedAtNs`.
    public init(settings: KillSettings = KillSettings(), clock: BootClock = BootClock(),
                monotonicNs: @escaping () -> UInt64 = { ProcessKiller.clockNs(CLOCK_MONOTONIC) },
                wallNs: @escaping () -> UInt64 = { ProcessKiller.clockNs(CLOCK_REALTIME) }) {
        self.settings = settings
        self.clock = clock
        self.monotonicNs = monotonicNs
        self.wallNs = wallNs
        ownPid = UInt32(getpid())
        excluded = settings.excludedExecutables
        if let own = SysFS.readLink("/proc/self/exe") { excluded.insert(own) }
    }

    /// Forgets every rule's disarmer state (a new policy was loaded).
    public func reset() {
        disarmers.removeAll()
    }

    /// Runs `action` of rule `ruleID` for an event of `target` at `eventTimeNs`. For container scope,
    /// `containerProcesses` gives the processes the agent knows in the target's container (from the
    /// process tree); it is called only then, and each pid is checked again against /proc.
    public func kill(rule ruleID: String, action: KillAction, target: ProcessEntry, eventTimeNs: UInt64,
                     containerProcesses: () -> [ProcessEntry] = { [] }) -> KillOutcome {
        var signalled: [UInt32] = []
        var failures: [(pid: UInt32, error: String)] = []
        var skipped: [(pid: UInt32, reason: String)] = []
        var killedAt: UInt64 = 0
        func outcome(_ status: KillOutcome.Status) -> KillOutcome {
            switch status {
            case .performed: counters.performed += 1
            case .partiallyPerformed: counters.partiallyPerformed += 1
            case .disarmed: counters.disarmed += 1
            case .refused: counters.refused += 1
            case .failed: counters.failed += 1
            }
            counters.processesSignalled += signalled.count
            return KillOutcome(ruleID: ruleID, signal: action.signal, signalName: action.signalName, scope: action.scope,
                               status: status, targetPid: target.pid, signalledPids: signalled, failures: failures,
                               skipped: skipped, createdAtNs: target.execTimeNs != 0 ? target.execTimeNs : target.forkTimeNs,
                               detectedAtNs: eventTimeNs, killedAtNs: killedAt)
        }

        guard settings.enabled else { return outcome(.refused("enforcement is disabled")) }
        if let reason = protection(of: target) { return outcome(.refused(reason)) }
        let containerID = target.containerID.flatMap { $0.isEmpty ? nil : $0 }
        if action.scope == .container && containerID == nil {
            return outcome(.refused("the process is not in a container"))
        }

        // Disarmers, as Datadog: the container key first, then the executable.
        let disarmer = disarmerFor(ruleID, action)
        let now = monotonicNs()
        if disarmer.expire(now: now) { counters.rearmed += 1 }
        if let containerID, !disarmer.allow(.container, key: containerID, now: now) {
            return outcome(.disarmed(.container))
        }
        if !disarmer.allow(.executable, key: target.executablePath ?? "", now: now) {
            return outcome(.disarmed(.executable))
        }

        // The targets, each checked before anything is signalled: one protected process refuses it all.
        var targets: [(entry: ProcessEntry, handle: PidHandle)] = []
        defer { for t in targets { t.handle.close() } }
        var candidates = [target]
        if action.scope == .container {
            var seen: Set<UInt32> = [target.pid]
            for entry in containerProcesses() where seen.insert(entry.pid).inserted { candidates.append(entry) }
        }
        for entry in candidates {
            let isTarget = entry === target
            if !isTarget, let reason = protection(of: entry) { return outcome(.refused(reason)) }
            // A process of the container list that exited is left out; the event's own one failed.
            func gone() -> KillOutcome? {
                if !isTarget {
                    skipped.append((entry.pid, "pid \(entry.pid) exited"))
                    return nil
                }
                failures.append((entry.pid, "ESRCH"))
                return action.scope == .process ? outcome(.failed("ESRCH")) : nil
            }
            guard let handle = PidHandle(pid: entry.pid) else {
                if let done = gone() { return done }
                continue
            }
            switch check(entry, containerID: action.scope == .container ? containerID : nil) {
            case .ok:
                targets.append((entry, handle))
            case .gone:
                handle.close()
                if let done = gone() { return done }
            case .protected(let reason):
                handle.close()
                return outcome(.refused(reason))
            case .skip(let reason):
                handle.close()
                if action.scope == .process { return outcome(.refused(reason)) }
                skipped.append((entry.pid, reason))
            }
        }

        killedAt = wallNs()
        for (entry, handle) in targets {
            if let error = handle.send(action.signal) {
                failures.append((entry.pid, errnoName(error)))
            } else {
                signalled.append(entry.pid)
            }
        }
        if signalled.isEmpty {
            killedAt = 0
            return outcome(.failed(failures.first?.error ?? "ESRCH"))
        }
        return outcome(failures.isEmpty ? .performed : .partiallyPerformed)
    }

    // MARK: Safeguards

    /// Why the entry may never be signalled, from what the agent knows of it.
    private func protection(of entry: ProcessEntry) -> String? {
        if entry.pid <= 1 { return "pid \(entry.pid) is never signalled" }
        if entry.pid == ownPid { return "pid \(entry.pid) is the agent itself" }
        if entry.isKworker || entry.pid == 2 || entry.ppid == 2 { return "pid \(entry.pid) is a kernel thread" }
        if let path = entry.executablePath, excluded.contains(path) { return "\(path) is excluded from enforcement" }
        return nil
    }

    private enum CheckResult {
        case ok
        case gone
        case protected(String)
        case skip(String)
    }

    /// The pid as /proc shows it now (after its pidfd is open): still the entry's process, not a
    /// kernel thread, and in the container when one is given.
    private func check(_ entry: ProcessEntry, containerID: String?) -> CheckResult {
        let base = "\(settings.procRoot)/\(entry.pid)"
        guard let bytes = SysFS.readFile(base + "/stat", limit: 4096)?.bytes, let stat = ProcStat(bytes) else { return .gone }
        if stat.flags & ProcFSReader.kernelThreadFlag != 0 || stat.ppid == 2 {
            return .protected("pid \(entry.pid) is a kernel thread")
        }
        if entry.forkTimeNs != 0 {
            let started = clock.wallNs(fromBootNs: BootClock.bootNs(fromStartTicks: stat.startTicks))
            let gap = started > entry.forkTimeNs ? started - entry.forkTimeNs : entry.forkTimeNs - started
            if gap > settings.startTimeToleranceNs { return .skip("pid \(entry.pid) was reused by another process") }
        }
        if let containerID {
            guard let cgroups = SysFS.readFile(base + "/cgroup", limit: 16384)?.bytes else { return .gone }
            if !Self.cgroups(cgroups, contain: containerID) {
                return .skip("pid \(entry.pid) is not in container \(containerID.prefix(12))")
            }
        }
        return .ok
    }

    /// True when a line of /proc/<pid>/cgroup names the container (as `ContainerID` reads paths).
    static func cgroups(_ bytes: [UInt8], contain containerID: String) -> Bool {
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            // `hierarchy-id:controllers:path`; the path may itself hold colons.
            let parts = line.split(separator: UInt8(ascii: ":"), maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            if ContainerID.extract(fromCgroupPath: String(decoding: parts[2], as: UTF8.self)) == containerID { return true }
        }
        return false
    }

    private func disarmerFor(_ ruleID: String, _ action: KillAction) -> RuleDisarmer {
        if let existing = disarmers[ruleID] { return existing }
        var container = settings.containerDisarmer
        var executable = settings.executableDisarmer
        if action.disableContainerDisarmer { container.enabled = false }
        if action.disableExecutableDisarmer { executable.enabled = false }
        let created = RuleDisarmer(container: container, executable: executable)
        disarmers[ruleID] = created
        return created
    }

    public static func clockNs(_ id: clockid_t) -> UInt64 {
        var ts = timespec()
        clock_gettime(id, &ts)
        return UInt64(max(0, ts.tv_sec)) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}

// MARK: - Disarmer

/// A rule's disarmers: for each kind, the keys seen within the period and when last seen.
final class RuleDisarmer {
    let container: DisarmerSettings
    let executable: DisarmerSettings
    private var seen: [DisarmerKind: [String: UInt64]] = [.container: [:], .executable: [:]]
    private(set) var disarmed = false

    init(container: DisarmerSettings, executable: DisarmerSettings) {
        self.container = container
        self.executable = executable
    }

    private func settings(_ kind: DisarmerKind) -> DisarmerSettings {
        switch kind {
        case .container: return container
        case .executable: return executable
        }
    }

    /// Drops keys last seen a period ago or more; re-arms the rule once none is left. True when it re-armed.
    func expire(now: UInt64) -> Bool {
        for kind in [DisarmerKind.container, .executable] {
            let period = settings(kind).periodNs
            seen[kind] = seen[kind]!.filter { now &- $0.value < period }
        }
        if disarmed && seen.values.allSatisfy(\.isEmpty) {
            disarmed = false
            return true
        }
        return false
    }

    /// Records `key` (refreshing its time) and tells whether the rule may still kill: a new key
    /// beyond `maxAllowed` distinct ones disarms it.
    func allow(_ kind: DisarmerKind, key: String, now: UInt64) -> Bool {
        let s = settings(kind)
        // A disabled disarmer lets everything through, as Datadog's (the other one may still block).
        guard s.enabled else { return true }
        if seen[kind]![key] == nil && seen[kind]!.count >= s.maxAllowed { disarmed = true }
        seen[kind]![key] = now
        return !disarmed
    }
}

// MARK: - pidfd

/// A pid held through pidfd_open(2), so that a signal reaches the process that was checked even if
/// the pid is reused in between; plain kill(2) when the kernel or libc lacks pidfds.
private final class PidHandle {
    private typealias OpenFunction = @convention(c) (pid_t, UInt32) -> Int32
    private typealias SendFunction = @convention(c) (Int32, Int32, UnsafeMutableRawPointer?, UInt32) -> Int32

    // glibc 2.36+ exports both; Swift's Glibc module does not declare them (no sys/pidfd.h).
    private static let functions: (OpenFunction, SendFunction)? = {
        guard let handle = dlopen(nil, RTLD_NOW),
              let open = dlsym(handle, "pidfd_open"), let send = dlsym(handle, "pidfd_send_signal")
        else { return nil }
        return (unsafeBitCast(open, to: OpenFunction.self), unsafeBitCast(send, to: SendFunction.self))
    }()

    let pid: UInt32
    private var fd: Int32 = -1

    /// nil when the process does not exist.
    init?(pid: UInt32) {
        self.pid = pid
        if let (open, _) = Self.functions {
            let fd = open(pid_t(pid), 0)
            if fd >= 0 {
                self.fd = fd
                return
            }
            if errno == ESRCH { return nil }
            // ENOSYS (kernel before 5.3) and the like: fall back to kill(2).
        }
        if kill(pid_t(pid), 0) != 0 && errno == ESRCH { return nil }
    }

    /// nil on success, else errno.
    func send(_ signal: Int32) -> Int32? {
        let result: Int32
        if fd >= 0, let (_, sendSignal) = Self.functions {
            result = sendSignal(fd, signal, nil, 0)
        } else {
            result = kill(pid_t(pid), signal)
        }
        return result == 0 ? nil : errno
    }

    func close() {
        if fd >= 0 {
            closeDescriptor(fd)
            fd = -1
        }
    }

    deinit { close() }
}

private func closeDescriptor(_ fd: Int32) {
    _ = close(fd)
}
