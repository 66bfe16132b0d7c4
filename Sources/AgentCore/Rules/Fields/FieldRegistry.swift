import Foundation

/// Every SECL field the agent can evaluate, keyed by name.
///
/// A registry owns scratch buffers used while reading assembled values, so each engine builds its own.
public final class FieldRegistry {
    public private(set) var fields: [String: FieldSpec] = [:]
    /// Derived-value cache slots by key (`<process source>.<kind>`), see `EvalContext.withDerivedBytes`.
    private var slots: [String: DerivedSlot] = [:]
    /// The scope of the fields being added (set around `addProcess` calls); `.event` otherwise.
    private var addingScope = FieldScope.event

    /// Datadog event types this agent neither produces nor models; rules on them are `unsupported`.
    /// (The file, credential and network types of the backend schema are modelled: `EventType.hasProbe`.)
    public static let unproducedEventTypes: Set<String> = [
        "cgroup_write", "create", "delete", "open_key", "create_key", "delete_key", "set_key_value", "set", "packet",
        "prctl", "selinux", "setsockopt", "write", "fim", "network_flow_monitor", "raw_packet", "sysctl", "ondemand",
        "login_uid_write", "change_permission", "cgroup_tracing", "stat", "tracer_memfd_seal",
        "user_session", "short_dns_response", "network", "security_profile",
    ]

    public init() {
        addCommon()
        addProcess(prefix: "process", source: "process", eventType: nil, iterates: false, scope: .process, description: "process", .eventProcess)
        addProcess(prefix: "process.parent", source: "process.parent", eventType: nil, iterates: false, scope: .chain,
                   description: "parent process", .parent)
        addProcess(prefix: "process.ancestors", source: "process.ancestors", eventType: nil, iterates: true, scope: .chain,
                   description: "an ancestor process", .ancestor)
        add("process.ancestors.length", .int, nil, "Number of ancestors of the process", scope: .chain, accessor: Read.int { ctx in
            var n: Int64 = 0
            var a = ctx.event.process?.parent
            while let x = a, n < 1_000 { n += 1; a = x.parent }
            return n
        })
        addEvents()
    }

    /// The process-wide registry used for listing (`csm-agent fields`).
    public static let listing = FieldRegistry()

    public func lookup(_ name: String) -> FieldSpec? { fields[name] }

    /// The cache slot of a derived value; fields reading the same process for the same value share one.
    func slot(_ key: String) -> DerivedSlot {
        if let s = slots[key] { return s }
        let s = DerivedSlot(index: slots.count)
        slots[key] = s
        return s
    }

    func add(
        _ name: String, _ type: SECLType, _ eventType: EventType?, _ description: String, isArray: Bool = false,
        isPath: Bool = false, iterates: Bool = false, scope: FieldScope? = nil, accessor: FieldAccessor,
        environment: ((EvalContext) -> StringList?)? = nil, determinant: FieldDeterminant? = nil
    ) {
        fields[name] = FieldSpec(
            name: name, type: type, isArray: isArray || iterates, eventType: eventType, description: description,
            isPath: isPath, iteratesAncestors: iterates, scope: scope ?? addingScope, accessor: accessor, environment: environment,
            determinant: determinant)
    }

    // MARK: - Common fields

    private func addCommon() {
        let serviceKey = Array("DD_SERVICE=".utf8)
        for prefix in ["evt", "event"] {
            add("\(prefix).type", .string, nil, "Event type (exec, open, ...)", accessor: Read.string { $0.event.type.name })
            add("\(prefix).origin", .string, nil, "Origin of the event: always `ebpf` for this agent", accessor: Read.string { _ in "ebpf" })
            add("\(prefix).source", .string, nil, "Source of the event: always `runtime`", accessor: Read.string { _ in "runtime" })
            add("\(prefix).os", .string, nil, "Operating system: always `linux`", accessor: Read.string { _ in "linux" })
            add("\(prefix).async", .bool, nil, "True for asynchronous events: always false", accessor: Read.bool { _ in false })
            add("\(prefix).timestamp", .int, nil, "Event time, nanoseconds since the epoch", accessor: Read.int { Int64(truncatingIfNeeded: $0.event.timeNs) })
            add("\(prefix).retval", .int, nil, "Return value of the syscall", accessor: Read.int { $0.event.retval })
            add("\(prefix).service", .string, nil, "Service of the process, from its DD_SERVICE environment variable", accessor: .string { ctx, body in
                // The first DD_SERVICE, read in place (`for e in envs` would copy each into a String).
                var result: Bool?
                _ = ctx.event.process?.envs.containsUTF8 { e in
                    guard e.count >= 11, Glob.equal(UnsafeBufferPointer(rebasing: e[0..<11]), 0, 11, serviceKey) else { return false }
                    result = body(UnsafeBufferPointer(rebasing: e[11...]))
                    return true
                }
                return result ?? withEmpty(body)
            })
        }
        add("container.id", .string, nil, "Container id of the process, empty outside containers", scope: .process, accessor: Read.string { $0.event.process?.containerID })
        add("container.created_at", .time, nil, "Container creation time (not tracked by the agent: 0, i.e. long ago)", accessor: Read.int { _ in 0 })
        add("container.tags", .string, nil, "Container tags (not tracked by the agent: empty)", isArray: true, accessor: Read.strings { _ in nil })
        add("container.runtime", .string, nil, "Container runtime (not tracked by the agent: empty)", accessor: Read.string { _ in nil })
        add("cgroup.id", .string, nil, "cgroup path of the process", scope: .process, accessor: Read.string { $0.event.process?.cgroupPath })
        add("cgroup.file.inode", .int, nil, "Inode of the cgroup directory (the kernel cgroup id)", accessor: Read.int { ctx in
            Int64(truncatingIfNeeded: ctx.event.process?.cgroupID ?? ctx.event.cgroupID)
        })
        add("cgroup.manager", .string, nil, "cgroup manager (systemd, docker, ...) derived from the cgroup path", scope: .process, accessor: Read.string { ctx in
            guard let path = ctx.event.process?.cgroupPath else { return nil }
            if path.contains("docker") { return "docker" }
            if path.contains("kubepods") { return "kubernetes" }
            if path.contains("containerd") { return "containerd" }
            if path.contains(".slice") || path.contains(".service") { return "systemd" }
            return nil
        })
    }

    // MARK: - Process fields

    /// The fields of a process context under `prefix` (`process`, `process.parent`, `exec`, ...).
    /// `source` names the process read: prefixes reading the same process (`process` and `exec`) share
    /// derived-value cache slots.
    func addProcess(
        prefix: String, source: String, eventType: EventType?, iterates: Bool, scope: FieldScope = .event,
        description what: String, _ proc: FieldProcess
    ) {
        addingScope = scope
        defer { addingScope = .event }
        func s(_ n: String, _ d: String, _ get: @escaping (ProcessEntry) -> String?) {
            add("\(prefix).\(n)", .string, eventType, "\(d) of the \(what)", iterates: iterates, accessor: Read.string { ctx in
                withProcess(proc, ctx, get)
            })
        }
        func i(_ n: String, _ d: String, _ type: SECLType = .int, _ get: @escaping (ProcessEntry) -> Int64) {
            add("\(prefix).\(n)", type, eventType, "\(d) of the \(what)", iterates: iterates, accessor: Read.int { ctx in
                withProcess(proc, ctx, get)
            })
        }
        func b(_ n: String, _ d: String, _ get: @escaping (ProcessEntry) -> Bool) {
            add("\(prefix).\(n)", .bool, eventType, "\(d) of the \(what)", iterates: iterates, accessor: Read.bool { ctx in
                withProcess(proc, ctx, get)
            })
        }
        func a(_ n: String, _ d: String, _ accessor: FieldAccessor, determinant: FieldDeterminant? = nil) {
            add("\(prefix).\(n)", .string, eventType, "\(d) of the \(what)", isArray: true, iterates: iterates, accessor: accessor,
                determinant: determinant)
        }
        i("pid", "Process id") { Int64($0.pid) }
        i("ppid", "Parent process id") { Int64($0.ppid) }
        s("comm", "Command name (comm)") { $0.comm }
        s("tty_name", "Controlling terminal name") { $0.tty }
        s("argv0", "First argument (argv[0])") { $0.argv0 }
        let argv = Read.strings { withProcess(proc, $0) { $0.args } }
        // The joined arguments, their flags and options are functions of the arguments.
        var arguments: FieldDeterminant?
        if case .string(let read) = argv { arguments = FieldDeterminant(name: "\(prefix).argv", read: read) }
        add("\(prefix).args", .string, eventType, "Arguments, excluding argv0, as one space-separated string of the \(what)",
            iterates: iterates, accessor: Read.joined(slot("\(source).args"), proc), determinant: arguments)
        a("argv", "Arguments, excluding argv0, as an array", argv)
        a("args_flags", "Flags in the arguments (`-x`, `--long`)", Read.argFlags { withProcess(proc, $0) { $0.args } }, determinant: arguments)
        a("args_options", "Options in the arguments (`name=value`)", Read.argOptions(slot("\(source).args_options"), proc),
          determinant: arguments)
        b("args_truncated", "True when the arguments were truncated") { $0.argsTruncated }
        let envs: (EvalContext) -> StringList? = { withProcess(proc, $0) { $0.envs } }
        add("\(prefix).envs", .string, eventType, "Environment variable names of the \(what)", isArray: true, iterates: iterates,
            accessor: Read.envNames(envs), environment: iterates ? nil : envs)
        a("envp", "Environment variables (`NAME=value`)", Read.strings { withProcess(proc, $0) { $0.envs } })
        b("envs_truncated", "True when the environment was truncated") { $0.envsTruncated }
        i("uid", "Real uid") { Int64($0.credentials.uid) }
        i("gid", "Real gid") { Int64($0.credentials.gid) }
        i("euid", "Effective uid") { Int64($0.credentials.euid) }
        i("egid", "Effective gid") { Int64($0.credentials.egid) }
        i("fsuid", "Filesystem uid") { Int64($0.credentials.fsuid) }
        i("fsgid", "Filesystem gid") { Int64($0.credentials.fsgid) }
        i("auid", "Audit login uid") { Int64($0.credentials.auid) }
        s("user", "Real user name") { $0.credentials.user }
        s("group", "Real group name") { $0.credentials.group }
        s("euser", "Effective user name") { $0.credentials.euser }
        s("egroup", "Effective group name") { $0.credentials.egroup }
        s("fsuser", "Filesystem user name") { $0.credentials.fsuser }
        s("fsgroup", "Filesystem group name") { $0.credentials.fsgroup }
        i("cap_effective", "Effective capability set") { Int64(bitPattern: $0.credentials.capEffective) }
        i("cap_permitted", "Permitted capability set") { Int64(bitPattern: $0.credentials.capPermitted) }
        s("container.id", "Container id") { $0.containerID }
        s("cgroup.id", "cgroup path") { $0.cgroupPath }
        i("cgroup.file.inode", "Kernel cgroup id") { Int64(bitPattern: $0.cgroupID) }
        b("is_kworker", "True for kernel workers") { $0.isKworker }
        b("is_exec", "True when the image came from an exec") { $0.isExecChild }
        b("is_thread", "True when the process did not exec since its fork") { !$0.isExecChild && $0.execTimeNs == 0 }
        i("fork_time", "Fork time", .time) { Int64(truncatingIfNeeded: $0.forkTimeNs) }
        i("exec_time", "Exec time", .time) { Int64(truncatingIfNeeded: $0.execTimeNs) }
        i("exit_time", "Exit time", .time) { Int64(truncatingIfNeeded: $0.exitTimeNs) }
        s("user_session.k8s_username", "Kubernetes user session name (not tracked by the agent: empty)") { _ in nil }
        s("user_session.id", "User session id (not tracked by the agent: empty)") { _ in nil }
        addFile(prefix: "\(prefix).file", eventType: eventType, iterates: iterates, what: "executable of the \(what)", source: .executable(proc))
    }

    // MARK: - File fields

    /// Where a group of file fields reads from: the event's own file, the new path of a `link` or
    /// `rename`, or a process's executable.
    enum FileSource {
        case event
        case destination
        case executable(FieldProcess)
    }

    /// File fields. Each read projects one stored value (no copy of the whole `FileInfo`).
    func addFile(prefix: String, eventType: EventType?, iterates: Bool = false, what: String, source: FileSource) {
        func s(_ n: String, _ d: String, path: Bool = false, _ ev: @escaping (FileInfo) -> String?, _ ex: @escaping (ProcessEntry) -> String?) {
            let accessor: FieldAccessor
            switch source {
            case .event: accessor = Read.string { ctx in ctx.withFile(ev) }
            case .destination: accessor = Read.string { ctx in ctx.withDestinationFile(ev) }
            case .executable(let proc): accessor = Read.string { ctx in withProcess(proc, ctx, ex) }
            }
            add("\(prefix).\(n)", .string, eventType, "\(d) of the \(what)", isPath: path, iterates: iterates, accessor: accessor)
        }
        func i(_ n: String, _ d: String, _ type: SECLType = .int, _ ev: @escaping (FileInfo) -> Int64, _ ex: @escaping (ProcessEntry) -> Int64?) {
            let accessor: FieldAccessor
            switch source {
            case .event: accessor = Read.int { ctx in ctx.withFile(ev) }
            case .destination: accessor = Read.int { ctx in ctx.withDestinationFile(ev) }
            case .executable(let proc): accessor = Read.int { ctx in withProcess(proc, ctx, ex) }
            }
            add("\(prefix).\(n)", type, eventType, "\(d) of the \(what)", iterates: iterates, accessor: accessor)
        }
        // `executable?.x` reads one field in place; `executable.map { $0.x }` would copy the whole
        // FileInfo, a retain and release per string in it.
        s("path", "Path", path: true, { $0.path }, { $0.executablePath })
        s("name", "Base name", { $0.name }, { $0.executableName })
        s("filesystem", "Filesystem type", { $0.filesystem }, { $0.executable?.filesystem })
        s("user", "Owner name", { $0.user }, { $0.executable?.user })
        s("group", "Group name", { $0.group }, { $0.executable?.group })
        s("path_resolution_error", "Path resolution error", { $0.pathResolutionError }, { $0.executable?.pathResolutionError })
        i("inode", "Inode", .int, { Int64(bitPattern: $0.inode) }, { ($0.executable?.inode).map { Int64(bitPattern: $0) } })
        i("mode", "Mode (type and permission bits)", .int, { Int64($0.mode) }, { ($0.executable?.mode).map { Int64($0) } })
        i("rights", "Permission bits", .int, { Int64($0.mode & 0o7777) }, { ($0.executable?.mode).map { Int64($0 & 0o7777) } })
        i("uid", "Owner uid", .int, { Int64($0.uid) }, { ($0.executable?.uid).map { Int64($0) } })
        i("gid", "Owner gid", .int, { Int64($0.gid) }, { ($0.executable?.gid).map { Int64($0) } })
        i("mount_id", "Mount id", .int, { Int64($0.mountID) }, { ($0.executable?.mountID).map { Int64($0) } })
        i("change_time", "Change time (ctime)", .time, { Int64(truncatingIfNeeded: $0.changeTimeNs) },
          { ($0.executable?.changeTimeNs).map { Int64(truncatingIfNeeded: $0) } })
        i("modification_time", "Modification time (mtime)", .time, { Int64(truncatingIfNeeded: $0.modificationTimeNs) },
          { ($0.executable?.modificationTimeNs).map { Int64(truncatingIfNeeded: $0) } })
        let upper: FieldAccessor
        let ext: FieldAccessor
        switch source {
        case .event:
            upper = Read.bool { ctx in ctx.withFile { $0.inUpperLayer } }
            ext = .string { ctx, body in ctx.withFile { FieldRegistry.withExtension($0.name, body) } ?? withEmpty(body) }
        case .destination:
            upper = Read.bool { ctx in ctx.withDestinationFile { $0.inUpperLayer } }
            ext = .string { ctx, body in ctx.withDestinationFile { FieldRegistry.withExtension($0.name, body) } ?? withEmpty(body) }
        case .executable(let proc):
            upper = Read.bool { withProcess(proc, $0) { $0.executable?.inUpperLayer } }
            ext = .string { ctx, body in
                guard let name = withProcess(proc, ctx, { $0.executable?.name }) else { return withEmpty(body) }
                return FieldRegistry.withExtension(name, body)
            }
        }
        add("\(prefix).in_upper_layer", .bool, eventType, "True when the \(what) is in an overlayfs upper layer", iterates: iterates, accessor: upper)
        add("\(prefix).extension", .string, eventType, "Extension (after the last '.') of the \(what)", iterates: iterates, accessor: ext)
    }

    static func withExtension(_ name: String, _ body: StringBody) -> Bool {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return withEmpty(body) }
        return withBytes(name[name.index(after: dot)...], body)
    }
}
