/// The process tree: a table of live process entries keyed by pid, kept current by fork, exec and
/// exit events, seeded from /proc and completed lazily from /proc on misses.
///
/// Not thread-safe: the event loop owns it. Memory is bounded by ARC: an exited entry leaves the table
/// and lives on only while a child's `parent` link or an in-flight event refers to it.
public final class ProcessTree: ProcessResolver {
    /// Default bound on live entries. Above it, entries of pids that no longer exist are dropped
    /// (exit events are lost when the ring buffer overflows).
    public static let defaultMaxLiveEntries = 131_072
    /// Bound on /proc reads up an unknown ancestry in one lookup.
    static let maxLazyAncestry = 64
    /// `processResolutionError` values.
    public static let processNotFound = "process not found"
    public static let parentNotFound = "parent process not found"

    public let maxLiveEntries: Int
    /// Called once for every entry created (snapshot, lazy lookup, fork, exec, minimal), before the
    /// entry is visible to any event: the place to resolve names and cgroups once per entry.
    public var onNewEntry: ((ProcessEntry, ProcessEntryOrigin) -> Void)?

    /// Entries added by `snapshot()` calls.
    public private(set) var snapshotSize = 0
    /// /proc reads on table misses.
    public private(set) var lazyLookups = 0
    /// Misses that /proc could not resolve either.
    public private(set) var lookupFailures = 0
    /// Entries removed by `prune()` (explicit or on reaching the cap).
    public private(set) var prunedEntries = 0

    private var table: [UInt32: ProcessEntry] = [:]
    /// Pids whose entry was built from an event header only; their events keep reporting the error.
    private var unresolvedPids: Set<UInt32> = []
    private let source: ProcessSource
    private let clock: BootClock
    private var lastCapPruneNs: UInt64 = 0

    public init(
        source: ProcessSource, clock: BootClock, maxLiveEntries: Int = ProcessTree.defaultMaxLiveEntries
    ) {
        self.source = source
        self.clock = clock
        self.maxLiveEntries = maxLiveEntries
    }

    public var liveCount: Int { table.count }

    public func entry(forPid pid: UInt32) -> ProcessEntry? { table[pid] }

    /// The live entries whose container is `containerID` (a scan of the table: for the rare
    /// container-scope kill, not for per-event use).
    public func entries(inContainer containerID: String) -> [ProcessEntry] {
        guard !containerID.isEmpty else { return [] }
        return table.values.filter { $0.containerID == containerID }
    }

    // MARK: Snapshot

    @discardableResult
    public func snapshot() -> Int {
        var added: [ProcessEntry] = []
        for pid in source.listPids() where table[pid] == nil {
            // Gone since listing: normal, skip it.
            guard let entry = source.readProcess(pid: pid), table[entry.pid] == nil else { continue }
            entry.source = "snapshot"
            table[entry.pid] = entry
            added.append(entry)
        }
        // Parents are linked once every process is read, whatever the listing order was.
        for entry in added where entry.parent == nil && entry.ppid != 0 && entry.ppid != entry.pid {
            entry.parent = table[entry.ppid]
        }
        for entry in added { onNewEntry?(entry, .snapshot) }
        snapshotSize += added.count
        enforceCap()
        return added.count
    }

    // MARK: Events

    public func resolve(_ event: inout Event) {
        switch event.payload {
        case .fork(let fork):
            resolveFork(&event, fork)
        case .exec(let exec) where event.retval >= 0:
            resolveExec(&event, exec)
        case .exit:
            resolveExit(&event)
        case .ptrace(var ptrace):
            resolveActing(&event)
            if ptrace.tracee == nil && ptrace.traceePid != 0 {
                ptrace.tracee = lookup(ptrace.traceePid)
                event.payload = .ptrace(ptrace)
            }
        case .signal(var signal):
            resolveActing(&event)
            // 0 and negative pids address process groups; there is no single target.
            if signal.target == nil && signal.pid > 0 {
                signal.target = lookup(UInt32(signal.pid))
                event.payload = .signal(signal)
            }
        default:
            resolveActing(&event)
        }
    }

    /// Any event but fork/exec/exit: the acting process, from the table, /proc, or the header.
    private func resolveActing(_ event: inout Event) {
        if let entry = table[event.pid] {
            event.process = entry
            if !unresolvedPids.isEmpty && unresolvedPids.contains(event.pid) {
                event.processResolutionError = Self.processNotFound
            }
            return
        }
        if let entry = lookup(event.pid) {
            event.process = entry
            return
        }
        // Kept in the table so a burst of events from this pid costs one failed /proc read; exit or
        // prune() removes it.
        let entry = minimalEntry(pid: event.pid, event: event)
        insert(entry)
        unresolvedPids.insert(entry.pid)
        onNewEntry?(entry, .minimal)
        event.process = entry
        event.processResolutionError = Self.processNotFound
    }

    private func resolveFork(_ event: inout Event, _ fork: ForkPayload) {
        let parentPid = fork.parentPid != 0 ? fork.parentPid : event.pid
        let parent: ProcessEntry
        if let known = lookup(parentPid) {
            parent = known
        } else {
            parent = minimalEntry(pid: parentPid, event: event)
            insert(parent)
            unresolvedPids.insert(parentPid)
            onNewEntry?(parent, .minimal)
            event.processResolutionError = Self.parentNotFound
        }
        let child = ProcessEntry(
            pid: fork.childPid,
            ppid: parentPid,
            comm: event.comm.isEmpty ? parent.comm : event.comm,
            tty: parent.tty,
            forkTimeNs: fork.childStartBootNs != 0 ? clock.wallNs(fromBootNs: fork.childStartBootNs) : event.timeNs,
            execTimeNs: parent.execTimeNs,
            executable: parent.executable,
            argv0: parent.argv0,
            args: parent.args,
            argsTruncated: parent.argsTruncated,
            envs: parent.envs,
            envsTruncated: parent.envsTruncated,
            credentials: fork.credentials,
            cgroupID: parent.cgroupID != 0 ? parent.cgroupID : event.cgroupID,
            containerID: parent.containerID,
            cgroupPath: parent.cgroupPath,
            parent: parent,
            isKworker: parent.isKworker,
            isExecChild: false,
            source: "event"
        )
        // A stale entry under the child pid means its exit was lost: the pid was reused.
        unresolvedPids.remove(child.pid)
        insert(child)
        onNewEntry?(child, .fork)
        event.process = child
    }

    private func resolveExec(_ event: inout Event, _ exec: ExecPayload) {
        let previous = table[event.pid]
        // The lineage is the fork lineage: keep the previous image's parent even if the process was
        // reparented since (ppid then tells the current parent).
        var parent = previous?.parent
        if parent == nil && exec.ppid != 0 && exec.ppid != event.pid {
            parent = lookup(exec.ppid)
        }
        let cgroupID = event.cgroupID != 0 ? event.cgroupID : (previous?.cgroupID ?? 0)
        let entry = ProcessEntry(
            pid: event.pid,
            ppid: exec.ppid,
            comm: event.comm,
            tty: exec.tty,
            forkTimeNs: exec.forkTimeNs != 0 ? clock.wallNs(fromBootNs: exec.forkTimeNs) : (previous?.forkTimeNs ?? 0),
            execTimeNs: event.timeNs,
            executable: exec.file,
            argv0: exec.argv0,
            args: exec.args,
            argsTruncated: exec.argsTruncated,
            envs: exec.envs,
            envsTruncated: exec.envsTruncated,
            credentials: exec.credentials,
            cgroupID: cgroupID,
            parent: parent,
            isKworker: false,
            isExecChild: previous != nil,
            source: "event"
        )
        if let previous, previous.cgroupID == cgroupID {
            entry.cgroupPath = previous.cgroupPath
            entry.containerID = previous.containerID
        }
        unresolvedPids.remove(entry.pid)
        insert(entry)
        onNewEntry?(entry, .exec)
        event.process = entry
    }

    private func resolveExit(_ event: inout Event) {
        let entry: ProcessEntry
        if let known = table.removeValue(forKey: event.pid) {
            entry = known
            if !unresolvedPids.isEmpty && unresolvedPids.remove(event.pid) != nil {
                event.processResolutionError = Self.processNotFound
            }
        } else if let read = readFromProc(event.pid) {
            // A zombie may still be readable; it is not inserted since it is leaving.
            entry = read
            onNewEntry?(entry, .procfs)
        } else {
            entry = minimalEntry(pid: event.pid, event: event)
            onNewEntry?(entry, .minimal)
            event.processResolutionError = Self.processNotFound
        }
        entry.exitTimeNs = event.timeNs
        event.process = entry
    }

    // MARK: Lookups

    /// The entry of a pid (or of the process of a thread id): the table, else /proc (inserted).
    func lookup(_ pid: UInt32, depth: Int = 0) -> ProcessEntry? {
        if let entry = table[pid] { return entry }
        guard let entry = readFromProc(pid, depth: depth) else { return nil }
        if let existing = table[entry.pid] { return existing }  // `pid` was a thread of a known process
        insert(entry)
        onNewEntry?(entry, .procfs)
        return entry
    }

    /// Reads a process from /proc and links its parent (reading unknown ancestors too, bounded).
    private func readFromProc(_ pid: UInt32, depth: Int = 0) -> ProcessEntry? {
        lazyLookups += 1
        guard let entry = source.readProcess(pid: pid) else {
            lookupFailures += 1
            return nil
        }
        if entry.ppid != 0 && entry.ppid != entry.pid && depth < Self.maxLazyAncestry {
            entry.parent = lookup(entry.ppid, depth: depth + 1)
        }
        return entry
    }

    private func minimalEntry(pid: UInt32, event: Event) -> ProcessEntry {
        ProcessEntry(pid: pid, comm: event.comm, cgroupID: event.cgroupID, source: "event")
    }

    // MARK: Bounds

    private func insert(_ entry: ProcessEntry) {
        table[entry.pid] = entry
        if table.count > maxLiveEntries { enforceCap() }
    }

    /// Over the cap, drops dead pids; rate-limited so a table full of live processes does not rescan
    /// /proc on every insert.
    private func enforceCap() {
        guard table.count > maxLiveEntries else { return }
        let now = SysFS.monotonicNs()
        if lastCapPruneNs != 0 && now &- lastCapPruneNs < 1_000_000_000 { return }
        lastCapPruneNs = now
        prune()
    }

    @discardableResult
    public func prune() -> Int {
        var removed = 0
        for pid in Array(table.keys) where !source.exists(pid: pid) {
            table.removeValue(forKey: pid)
            unresolvedPids.remove(pid)
            removed += 1
        }
        prunedEntries += removed
        return removed
    }
}
