/// One process image: what a pid runs between an exec (or its fork) and the next exec or its exit.
///
/// A reference type because many events and the children's `parent` links share one entry. The
/// process tree resolver owns the table of live entries; an exited entry lives on only while a
/// child's `parent` link or an in-flight event still refers to it.
public final class ProcessEntry {
    /// Bumped by every change to a field below, so that serialized copies of this entry (cached by
    /// the serializer: the same ancestors appear in most events) know when they are stale.
    public private(set) var revision: UInt64 = 0

    public var pid: UInt32 { didSet { revision &+= 1 } }
    public var ppid: UInt32 { didSet { revision &+= 1 } }
    /// The thread that did the event, when known (set per event by the serializer's caller).
    public var comm: String { didSet { revision &+= 1 } }
    /// Controlling terminal name (`pts0`), empty when none.
    public var tty: String { didSet { revision &+= 1 } }
    /// Nanoseconds since the Unix epoch; 0 when unknown.
    public var forkTimeNs: UInt64 { didSet { revision &+= 1 } }
    public var execTimeNs: UInt64 { didSet { revision &+= 1 } }
    public var exitTimeNs: UInt64 { didSet { revision &+= 1 } }
    /// The executed file; nil for kernel threads or when unknown.
    public var executable: FileInfo? {
        didSet {
            revision &+= 1
            executablePath = executable?.path
            executableName = executable?.name
        }
    }
    /// `executable?.path` and `executable?.name`, kept apart: reading them through `executable` copies
    /// the whole FileInfo (a retain and release per string in it), and the rule engine reads them for
    /// every ancestor of every event.
    public private(set) var executablePath: String?
    public private(set) var executableName: String?
    /// argv[0] and the arguments after it.
    public var argv0: String { didSet { revision &+= 1 } }
    public var args: StringList { didSet { revision &+= 1 } }
    public var argsTruncated: Bool { didSet { revision &+= 1 } }
    /// Environment as `NAME=value` strings.
    public var envs: StringList { didSet { revision &+= 1 } }
    public var envsTruncated: Bool { didSet { revision &+= 1 } }
    public var credentials: Credentials { didSet { revision &+= 1 } }
    public var cgroupID: UInt64 { didSet { revision &+= 1 } }
    /// Container id derived from the cgroup path; nil outside containers.
    public var containerID: String? { didSet { revision &+= 1 } }
    /// cgroup path (`/system.slice/foo.service`), when known.
    public var cgroupPath: String? { didSet { revision &+= 1 } }
    /// The process that forked this one (its image at fork time); nil for pid 1 / kthreadd or unknown.
    public var parent: ProcessEntry? { didSet { revision &+= 1 } }
    public var isKworker: Bool { didSet { revision &+= 1 } }
    /// True when this image replaced another one of the same pid by exec.
    public var isExecChild: Bool { didSet { revision &+= 1 } }
    /// Where this entry came from: `snapshot` (/proc at start-up) or `event` (kernel events).
    public var source: String { didSet { revision &+= 1 } }
    /// The rule engine's per-process approver results, validated by revisions (see `ApproverCache`).
    /// Not part of the entry's value: it does not bump `revision`.
    var approverCache: ApproverCache? {
        didSet { approverCacheRef = approverCache.map { Unmanaged.passUnretained($0) } }
    }
    /// The same, unretained (the property above owns it): read for every event.
    private(set) var approverCacheRef: Unmanaged<ApproverCache>?

    public init(
        pid: UInt32, ppid: UInt32 = 0, comm: String = "", tty: String = "", forkTimeNs: UInt64 = 0,
        execTimeNs: UInt64 = 0, exitTimeNs: UInt64 = 0, executable: FileInfo? = nil, argv0: String = "",
        args: StringList = [], argsTruncated: Bool = false, envs: StringList = [], envsTruncated: Bool = false,
        credentials: Credentials = Credentials(), cgroupID: UInt64 = 0, containerID: String? = nil,
        cgroupPath: String? = nil, parent: ProcessEntry? = nil, isKworker: Bool = false,
        isExecChild: Bool = false, source: String = "event"
    ) {
        self.pid = pid
        self.ppid = ppid
        self.comm = comm
        self.tty = tty
        self.forkTimeNs = forkTimeNs
        self.execTimeNs = execTimeNs
        self.exitTimeNs = exitTimeNs
        self.executable = executable
        executablePath = executable?.path
        executableName = executable?.name
        self.argv0 = argv0
        self.args = args
        self.argsTruncated = argsTruncated
        self.envs = envs
        self.envsTruncated = envsTruncated
        self.credentials = credentials
        self.cgroupID = cgroupID
        self.containerID = containerID
        self.cgroupPath = cgroupPath
        self.parent = parent
        self.isKworker = isKworker
        self.isExecChild = isExecChild
        self.source = source
    }

    /// Ancestors from the parent up, at most `limit`; `truncated` when more exist.
    public func ancestors(limit: Int) -> (entries: [ProcessEntry], truncated: Bool) {
        var result: [ProcessEntry] = []
        var current = parent
        while let entry = current {
            if result.count == limit { return (result, true) }
            result.append(entry)
            current = entry.parent
        }
        return (result, false)
    }
}
