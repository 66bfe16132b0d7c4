/// Counters for the agent's stats line.
public struct ResolverStats: Sendable, Equatable {
    /// Entries in the live process table.
    public var liveProcesses: Int
    /// Processes loaded from /proc by `snapshot()`.
    public var snapshotSize: Int
    /// /proc reads on process table misses.
    public var lazyLookups: Int
    /// Misses /proc could not resolve either (events get `processResolutionError`).
    public var lookupFailures: Int
    /// Entries dropped because their process was gone without an exit event.
    public var prunedProcesses: Int
    /// Walks of the cgroup hierarchy on cgroup id misses.
    public var cgroupRescans: Int
    /// Loads of the passwd/group files.
    public var userDatabaseLoads: Int
}

/// Everything that enriches an event between decoding and rules, behind one call per event.
///
/// Usage from the event loop: `snapshot()` once before draining, `resolve(&event)` per event,
/// `prune()` every ~30 s, `stats` for the stats line. Not thread-safe: owned by the event loop.
public final class Resolvers {
    public let clock: BootClock
    public let processes: ProcessResolver
    public let users: UserGroupResolving
    public let cgroups: CgroupResolving
    public let names: NameEnricher
    /// The mount table (mount, umount events; seeded from /proc/*/mountinfo by `snapshot()`).
    public let mounts = MountResolver()

    private let tree: ProcessTree?
    private let passwd: PasswdGroupResolver?
    private let cgroupFS: CgroupFSResolver?

    /// Resolvers over the live system.
    /// - Parameters:
    ///   - procRoot: procfs mount point.
    ///   - passwdPath/groupPath: the user and group databases.
    ///   - cgroupRoot: the cgroup2 mount; discovered from /proc/self/mountinfo when nil.
    ///   - clock: the boot-to-wall clock shared with the decoder, if it has one.
    ///   - maxLiveProcesses: bound on the live process table.
    public convenience init(
        procRoot: String = "/proc", passwdPath: String = "/etc/passwd", groupPath: String = "/etc/group",
        cgroupRoot: String? = nil, clock: BootClock = BootClock(),
        maxLiveProcesses: Int = ProcessTree.defaultMaxLiveEntries
    ) {
        let tree = ProcessTree(
            source: ProcFSReader(procRoot: procRoot, clock: clock), clock: clock, maxLiveEntries: maxLiveProcesses)
        self.init(
            clock: clock, processes: tree,
            users: PasswdGroupResolver(passwdPath: passwdPath, groupPath: groupPath),
            cgroups: CgroupFSResolver(root: cgroupRoot))
    }

    /// Resolvers from parts (tests, alternative sources). When `processes` is a `ProcessTree`, new
    /// entries get their names and cgroup resolved once, as they are created.
    public init(clock: BootClock, processes: ProcessResolver, users: UserGroupResolving, cgroups: CgroupResolving) {
        self.clock = clock
        self.processes = processes
        self.users = users
        self.cgroups = cgroups
        self.names = NameEnricher(names: users)
        names.describeMount = { [mounts] file in mounts.describe(&file) }
        self.tree = processes as? ProcessTree
        self.passwd = users as? PasswdGroupResolver
        self.cgroupFS = cgroups as? CgroupFSResolver
        // Weak: the tree is public and may outlive the facade.
        tree?.onNewEntry = { [weak self] entry, origin in
            self?.complete(entry, origin: origin)
        }
    }

    /// Loads the processes that exist now; call once before draining events. Returns how many.
    @discardableResult
    public func snapshot() -> Int {
        mounts.snapshot()
        return processes.snapshot()
    }

    /// Resolves one event: process context (and ptrace/signal targets), tree updates, names.
    public func resolve(_ event: inout Event) {
        if event.bootTimeNs != 0 { users.reloadIfChanged(nowNs: event.bootTimeNs) }
        processes.resolve(&event)
        if event.type == .mount || event.type == .umount { mounts.resolve(&event) }
        names.enrichPayloadFiles(&event)
    }

    /// Housekeeping for every ~30 s: drops processes that exited without an exit event, re-measures the
    /// boot-to-wall clock offset and re-checks the user databases. Returns the processes dropped.
    @discardableResult
    public func prune() -> Int {
        clock.refresh()
        users.reloadIfChanged(nowNs: BootClock.nowBootNs())
        return processes.prune()
    }

    public var stats: ResolverStats {
        ResolverStats(
            liveProcesses: processes.liveCount,
            snapshotSize: tree?.snapshotSize ?? 0,
            lazyLookups: tree?.lazyLookups ?? 0,
            lookupFailures: tree?.lookupFailures ?? 0,
            prunedProcesses: tree?.prunedEntries ?? 0,
            cgroupRescans: cgroupFS?.rescans ?? 0,
            userDatabaseLoads: passwd?.loads ?? 0)
    }

    /// Names and cgroup of a new entry, once per entry.
    private func complete(_ entry: ProcessEntry, origin: ProcessEntryOrigin) {
        names.enrich(entry)
        // A fork child copied its parent's cgroup and container: only fill what is missing.
        if entry.cgroupPath == nil && entry.cgroupID != 0 {
            entry.cgroupPath = cgroups.path(forID: entry.cgroupID)
        } else if let path = entry.cgroupPath, entry.cgroupID == 0, origin == .snapshot || origin == .procfs {
            entry.cgroupID = cgroups.id(forPath: path) ?? 0
        }
        if entry.containerID == nil, origin != .fork || entry.parent?.cgroupPath != entry.cgroupPath,
           let path = entry.cgroupPath {
            entry.containerID = cgroups.containerID(forPath: path)
        }
    }
}
