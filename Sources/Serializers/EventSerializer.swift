import AgentCore

/// Writes events as single-line JSON objects valid against the CSM Threats backend schema
/// (`schema/backend_event.schema.json`).
///
/// Only keys the schema allows are written (it sets `additionalProperties: false` everywhere), and
/// every required key is always present. Not thread-safe: keep one serializer per writing thread; it
/// reuses an internal buffer so steady-state serialization allocates almost nothing.
public final class EventSerializer {
    /// Most ancestors written in `process.ancestors`; beyond it `truncated_ancestors` is set. It also
    /// bounds the walk should `parent` links ever form a cycle.
    public static let ancestorLimit = 64

    /// Serialized capability arrays by mask. Full-capability root processes spell out 41 names twice
    /// per process object (about two thirds of an exec line); the distinct masks on a host are few.
    private let caches: SerializerCaches

    /// A serializer that scrubs with Datadog's defaults (`ScrubbingSettings.default`).
    public init() {
        caches = SerializerCaches(scrubbers: try! Scrubbers(.default))  // the default words are valid
    }

    /// A serializer with these scrubbing settings; throws `ScrubbingWordError` for a sensitive word
    /// that cannot be used.
    public init(scrubbing settings: ScrubbingSettings) throws {
        caches = SerializerCaches(scrubbers: settings.enabled ? try Scrubbers(settings) : nil)
    }

    /// Appends exactly one JSON object and a `\n` to `buffer`.
    public func serialize(_ event: Event, context: AgentContext, into buffer: inout [UInt8]) {
        // Write into the caller's storage directly (moving it in and out avoids copying the output).
        // The writing code lives on the JSONWriter value itself: going through a stored property of
        // this class would add an exclusivity check to every token.
        var writer = JSONWriter()
        writer.caches = caches
        swap(&writer.bytes, &buffer)
        writer.writeEvent(event, context)
        writer.bytes.append(UInt8(ascii: "\n"))
        swap(&writer.bytes, &buffer)
    }

    /// One event as a JSON line (with its trailing `\n`); convenient for tests and the rule engine.
    public func line(_ event: Event, context: AgentContext) -> String {
        var bytes: [UInt8] = []
        serialize(event, context: context, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }
}

// The event-to-JSON mapping, as mutating methods on the writer value.
extension JSONWriter {
    // MARK: - Top level

    fileprivate mutating func writeEvent(_ event: Event, _ context: AgentContext) {
        beginObject()

        key("agent")
        writeAgent(context)

        key("title")
        if let title = context.title {
            string(title)
        } else {
            string(event.type.name + " event")
        }

        key("evt")
        beginObject()
        key("name")
        string(event.type.name)
        key("category")
        string(event.type.category)
        key("outcome")
        string(event.outcome.rawValue)
        key("async")
        bool(false)
        endObject()

        key("date")
        rfc3339(nanoseconds: event.timeNs)

        key("process")
        if let process = event.process {
            var credentialsDestination: CredentialChangePayload?
            if case .credentials(let change) = event.payload { credentialsDestination = change }
            writeProcessContext(process, tid: event.tid, includeEnvs: event.type == .exec, credentialsDestination: credentialsDestination,
                                executableMembers: event.type == .exec ? context.fileMembers : nil)
        } else {
            writeUnresolvedProcess(event)
        }

        writePayload(event, fileMembers: context.fileMembers ?? [])

        let process = event.process
        if let containerID = process?.containerID, !containerID.isEmpty {
            key("container")
            writeContainer(containerID)
        }
        let cgroupID = event.cgroupID != 0 ? event.cgroupID : (process?.cgroupID ?? 0)
        if let path = process?.cgroupPath, !path.isEmpty {
            key("cgroup")
            beginObject()
            key("id")
            string(path)
            endObject()
        } else if cgroupID != 0 {
            key("cgroup")
            beginObject()
            key("id")
            string(String(cgroupID))
            endObject()
        }

        endObject()
    }

    fileprivate mutating func writeAgent(_ context: AgentContext) {
        beginObject()
        key("rule_id")
        string(context.ruleID)
        if let ruleVersion = context.ruleVersion {
            key("rule_version")
            string(ruleVersion)
        }
        if let policyName = context.policyName {
            key("policy_name")
            string(policyName)
        }
        if let policyVersion = context.policyVersion {
            key("policy_version")
            string(policyVersion)
        }
        key("version")
        string(context.version)
        key("os")
        string(context.os)
        key("arch")
        string(context.arch)
        key("origin")
        string(context.origin)
        if let actions = context.ruleActions, !actions.isEmpty {
            key("rule_actions")
            rawValue(actions)
        }
        endObject()
    }

    fileprivate mutating func writeContainer(_ id: String) {
        beginObject()
        key("id")
        string(id)
        endObject()
    }

    // MARK: - Payloads

    /// `fileMembers` end the event's own file object (see `AgentContext.fileMembers`).
    fileprivate mutating func writePayload(_ event: Event, fileMembers: [UInt8]) {
        let extra: (inout JSONWriter) -> Void = { w in if !fileMembers.isEmpty { w.rawMembers(fileMembers) } }
        switch event.payload {
        case .exec(let exec):
            key("syscall")
            beginObject()
            key("exec")
            beginObject()
            key("path")
            string(event.process?.executable?.path ?? exec.file.path)
            endObject()
            endObject()

        case .fork:
            break

        case .exit(let exit):
            key("exit")
            beginObject()
            key("cause")
            string(exit.cause.rawValue)
            key("code")
            int(exit.code)
            endObject()

        case .open(let open):
            key("file")
            writeFile(open.file, openFlags: open.flags, members: extra)
            key("syscall")
            beginObject()
            key("open")
            beginObject()
            key("path")
            string(open.userPath)
            key("flags")
            int(open.flags)
            key("mode")
            int(open.mode)
            key("dirfd")
            int(open.dirfd)
            endObject()
            endObject()

        case .mount(let mount):
            key("mount")
            beginObject()
            key("mount_id")
            int(mount.mountID)
            key("parent_mount_id")
            int(mount.parentMountID)
            key("bind_src_mount_id")
            int(mount.bindSourceMountID)
            key("device")
            int(mount.device)
            key("fs_type")
            string(mount.fsType)
            key("mountpoint.path")
            string(mount.mountpointPath)
            key("source.path")
            string(mount.sourcePath)
            if let error = mount.mountpointPathError {
                key("mountpoint.path_error")
                string(error)
            }
            if let error = mount.sourcePathError {
                key("source.path_error")
                string(error)
            }
            endObject()

        case .umount(let umount):
            // As Datadog's agent does: the unmounted mount is a `file` carrying `new_mount_id`. The
            // schema requires uid/gid on a file; a mount point has no meaningful owner here, so 0.
            key("file")
            beginObject()
            if !umount.mountpointPath.isEmpty {
                key("path")
                string(umount.mountpointPath)
                key("name")
                string(FileInfo.baseName(of: umount.mountpointPath))
            }
            key("new_mount_id")
            int(umount.mountID)
            key("uid")
            int(0)
            key("gid")
            int(0)
            endObject()

        case .bind(let bind):
            key("bind")
            beginObject()
            key("addr")
            beginObject()
            key("family")
            string(addressFamilyName(bind.family))
            key("ip")
            string(bind.ip)
            key("port")
            int(bind.port)
            endObject()
            endObject()
            if !bind.unixPath.isEmpty {
                // The schema's bind address has no path; the socket path goes in `file.path`. Owner
                // fields are required by the schema and unknown for a socket name, hence 0.
                key("file")
                beginObject()
                key("path")
                string(bind.unixPath)
                key("name")
                string(FileInfo.baseName(of: bind.unixPath))
                key("uid")
                int(0)
                key("gid")
                int(0)
                endObject()
            }

        case .ptrace(let ptrace):
            key("ptrace")
            beginObject()
            key("request")
            string(ptraceRequestName(ptrace.request))
            key("address")
            hexString(ptrace.address)
            key("tracee")
            if let tracee = ptrace.tracee {
                writeProcessContext(tracee, tid: nil)
            } else {
                // Unresolved tracee: keep its pid; uid/gid are required by the schema.
                writeMinimalProcess(pid: ptrace.traceePid, tid: nil, comm: nil, uid: 0, gid: 0)
            }
            endObject()

        case .mmap(let mmap):
            key("mmap")
            beginObject()
            key("address")
            hexString(mmap.address)
            key("offset")
            int(mmap.offset)
            key("length")
            int(mmap.length)
            key("protection")
            string(protectionString(mmap.protection))
            key("flags")
            string(mmapFlagsString(mmap.flags))
            endObject()
            if let file = mmap.file {
                key("file")
                writeFile(file, openFlags: nil, members: extra)
            }

        case .mprotect(let mprotect):
            key("mprotect")
            beginObject()
            key("vm_start")
            hexString(mprotect.vmStart)
            key("vm_end")
            hexString(mprotect.vmEnd)
            key("vm_protection")
            string(protectionString(mprotect.vmProtection))
            key("req_protection")
            string(protectionString(mprotect.reqProtection))
            endObject()

        case .signal(let signal):
            key("signal")
            beginObject()
            key("type")
            string(signalName(signal.type))
            key("pid")
            int(signal.pid)
            if let target = signal.target {
                key("target")
                writeProcessContext(target, tid: nil)
            }
            endObject()

        case .splice(let splice):
            key("splice")
            beginObject()
            key("pipe_entry_flag")
            string(pipeBufFlagsString(splice.pipeEntryFlag))
            key("pipe_exit_flag")
            string(pipeBufFlagsString(splice.pipeExitFlag))
            endObject()
            if let file = splice.file {
                key("file")
                writeFile(file, openFlags: nil, members: extra)
            }

        case .bpf(let bpf):
            writeBPF(bpf)

        case .loadModule(let module):
            key("module")
            beginObject()
            key("name")
            string(module.name)
            key("loaded_from_memory")
            bool(module.loadedFromMemory)
            key("argv")
            writeArguments(module.argv)
            key("args_truncated")
            bool(module.argsTruncated)
            endObject()
            if let file = module.file {
                key("file")
                writeFile(file, openFlags: nil, members: extra)
            }

        case .unloadModule(let module):
            key("module")
            beginObject()
            key("name")
            string(module.name)
            endObject()

        case .fileChange(let change):
            key("file")
            writeFileChange(event.type, change)
            if !change.syscallPath.isEmpty {
                writeSyscallPath(event.type, change.syscallPath)
            }

        case .credentials:
            break  // written in the process context (`process.credentials.destination`)

        case .connection(let connection):
            writeConnection(event.type, connection)

        case .dns(let dns):
            key("dns")
            beginObject()
            key("id")
            int(dns.id)
            key("question")
            beginObject()
            key("class")
            string(dns.qclass == 1 ? "IN" : String(dns.qclass))
            key("type")
            string(dnsTypeName(dns.type))
            key("name")
            string(dns.name)
            key("size")
            int(dns.size)
            key("count")
            int(dns.count)
            endObject()
            endObject()

        case .imds(let imds):
            key("imds")
            beginObject()
            key("type")
            string(imds.type)
            key("cloud_provider")
            string(imds.cloudProvider)
            let optional: [(StaticString, String)] = [("url", imds.url), ("host", imds.host), ("user_agent", imds.userAgent), ("server", imds.server)]
            for (name, value) in optional where !value.isEmpty {
                key(name)
                string(value)
            }
            if imds.cloudProvider == "aws" {
                key("aws")
                beginObject()
                key("is_imds_v2")
                bool(imds.isIMDSv2)
                // `security_credentials` is left out: the schema requires its code, access key id,
                // update and expiration times with the type, and the model has only the type.
                endObject()
            }
            endObject()
        }
    }

    /// The `file` of a file change, with what the call asked for in `destination` (a new path, a
    /// mode, an owner) or, for extended attributes, `attribute_name` and `attribute_namespace`.
    fileprivate mutating func writeFileChange(_ type: EventType, _ change: FileChangePayload) {
        writeFile(change.file, openFlags: nil) { w in
            switch type {
            case .link, .rename:
                if let destination = change.destination {
                    w.key("destination")
                    w.writeFile(destination, openFlags: nil)
                }
            case .chmod, .mkdir:
                // The schema's File requires uid and gid: the file's own, which the call keeps.
                w.key("destination")
                w.beginObject()
                w.key("mode")
                w.int(change.destinationMode)
                w.key("uid")
                w.int(change.file.uid)
                w.key("gid")
                w.int(change.file.gid)
                w.endObject()
            case .chown:
                w.key("destination")
                w.beginObject()
                w.key("uid")
                w.int(change.destinationUID)
                w.key("gid")
                w.int(change.destinationGID)
                if let user = change.destinationUser {
                    w.key("user")
                    w.string(user)
                }
                if let group = change.destinationGroup {
                    w.key("group")
                    w.string(group)
                }
                w.endObject()
            case .setxattr, .removexattr:
                w.key("attribute_name")
                w.string(change.attributeName)
                w.key("attribute_namespace")
                w.string(change.attributeNamespace)
            default:
                break
            }
        }
    }

    /// `syscall.<type>.path`, for the file-change types the schema's syscall context has.
    fileprivate mutating func writeSyscallPath(_ type: EventType, _ path: String) {
        let name: StaticString
        switch type {
        case .chmod: name = "chmod"
        case .chown: name = "chown"
        case .chdir: name = "chdir"
        case .unlink: name = "unlink"
        case .link: name = "link"
        case .rename: name = "rename"
        case .utimes: name = "utimes"
        default: return
        }
        key("syscall")
        beginObject()
        key(name)
        beginObject()
        key("path")
        string(path)
        endObject()
        endObject()
    }

    /// `network` of a connect (the remote address is the destination) or accept (the remote
    /// address is the source); the local end is not modelled (empty).
    fileprivate mutating func writeConnection(_ type: EventType, _ connection: ConnectionPayload) {
        key("network")
        beginObject()
        key("l3_protocol")
        string(connection.family == 10 ? "IPv6" : connection.family == 2 ? "IPv4" : addressFamilyName(connection.family))
        key("l4_protocol")
        string(connection.protocol_ == 6 ? "TCP" : connection.protocol_ == 17 ? "UDP" : String(connection.protocol_))
        let ends: [(StaticString, Bool)] = [("source", type != .connect), ("destination", type == .connect)]
        for (end, remote) in ends {
            key(end)
            beginObject()
            key("ip")
            string(remote ? connection.ip : "")
            key("port")
            int(remote ? connection.port : 0)
            endObject()
        }
        key("size")
        int(0)
        endObject()
    }

    fileprivate mutating func writeBPF(_ bpf: BPFPayload) {
        key("bpf")
        beginObject()
        key("cmd")
        string(bpfCommandName(bpf.cmd))
        if bpf.mapName != nil || bpf.mapType != nil {
            key("map")
            beginObject()
            if let name = bpf.mapName {
                key("name")
                string(name)
            }
            if let type = bpf.mapType {
                key("map_type")
                string(bpfMapTypeName(type))
            }
            endObject()
        }
        if bpf.progName != nil || bpf.progType != nil || bpf.attachType != nil || bpf.progTag != nil
            || !bpf.helpers.isEmpty
        {
            key("program")
            beginObject()
            if let name = bpf.progName {
                key("name")
                string(name)
            }
            if let tag = bpf.progTag {
                key("tag")
                string(tag)
            }
            if let type = bpf.progType {
                key("program_type")
                string(bpfProgramTypeName(type))
            }
            if let attach = bpf.attachType {
                key("attach_type")
                string(bpfAttachTypeName(attach))
            }
            if !bpf.helpers.isEmpty {
                key("helpers")
                beginArray()
                for helper in bpf.helpers {
                    if Int(helper) < bpfHelperNames.count {
                        string(bpfHelperNames[Int(helper)])
                    } else {
                        string(bpfHelperName(helper))
                    }
                }
                endArray()
            }
            endObject()
        }
        endObject()
    }

    // MARK: - Processes

    /// A `ProcessContext`: the process, its `parent` and its `ancestors` (parent first).
    ///
    /// `envs` are written only with `includeEnvs` (exec events, where they are new): repeated on every
    /// event and every ancestor they were most of each line's bytes. Everything but `tid` comes from
    /// per-entry byte caches, because the same processes and lineages appear in most events.
    /// `credentialsDestination` (setuid, setgid, capset) goes in `credentials.destination`: those
    /// fields are written afresh, not from the cache.
    fileprivate mutating func writeProcessContext(_ process: ProcessEntry, tid: UInt32?, includeEnvs: Bool = false,
                                                  credentialsDestination: CredentialChangePayload? = nil,
                                                  executableMembers: [UInt8]? = nil) {
        beginObject()
        // What is particular to this one event is written anew, not cached per process.
        if credentialsDestination != nil || executableMembers != nil {
            writeProcessFields(process, includeEnvs: includeEnvs, credentialsDestination: credentialsDestination,
                               executableMembers: executableMembers ?? [])
        } else {
            rawMembers(cachedFields(of: process, includeEnvs: includeEnvs))
        }
        if let tid = tid {
            key("tid")
            int(tid)
        }
        if let parent = process.parent {
            rawMembers(cachedLineage(from: parent))
        }
        endObject()
    }

    /// The members of a `Process` object for `entry` (no braces, no `tid`), from the cache when the
    /// entry has not changed since.
    fileprivate mutating func cachedFields(of entry: ProcessEntry, includeEnvs: Bool) -> [UInt8] {
        let key = ProcessCacheKey(entry: ObjectIdentifier(entry), includeEnvs: includeEnvs)
        if let caches = caches, let cached = caches.fields[key], cached.entry === entry,
           cached.revision == entry.revision {
            return cached.bytes
        }
        var scratch = JSONWriter()
        scratch.caches = caches
        scratch.writeProcessFields(entry, includeEnvs: includeEnvs)
        if let caches = caches {
            if caches.fields.count >= SerializerCaches.processLimit { caches.fields.removeAll() }
            caches.fields[key] = CachedFields(entry: entry, revision: entry.revision, bytes: scratch.bytes)
        }
        return scratch.bytes
    }

    /// `"parent":{...},"ancestors":[...]` (and `truncated_ancestors`) for a process whose parent is
    /// `parent`: shared by every event of every child of `parent`, so cached per parent and checked
    /// against the revision of each entry up the chain.
    fileprivate mutating func cachedLineage(from parent: ProcessEntry) -> [UInt8] {
        let id = ObjectIdentifier(parent)
        if let caches = caches, let cached = caches.lineages[id], cached.isCurrent(from: parent) {
            return cached.bytes
        }
        var scratch = JSONWriter()
        scratch.caches = caches
        var chain: [(ProcessEntry, UInt64)] = []
        scratch.key("parent")
        scratch.beginObject()
        scratch.rawMembers(cachedFields(of: parent, includeEnvs: false))
        scratch.endObject()
        let parentObject = Array(scratch.bytes[scratch.bytes.index(after: scratch.bytes.firstIndex(of: UInt8(ascii: ":"))!)...])
        scratch.key("ancestors")
        scratch.beginArray()
        scratch.rawValue(parentObject)
        chain.append((parent, parent.revision))
        var current = parent.parent
        var truncated = false
        while let ancestor = current {
            if chain.count == EventSerializer.ancestorLimit {
                truncated = true
                break
            }
            scratch.beginObject()
            scratch.rawMembers(cachedFields(of: ancestor, includeEnvs: false))
            scratch.endObject()
            chain.append((ancestor, ancestor.revision))
            current = ancestor.parent
        }
        scratch.endArray()
        if truncated {
            scratch.key("truncated_ancestors")
            scratch.bool(true)
        }
        if let caches = caches {
            if caches.lineages.count >= SerializerCaches.processLimit { caches.lineages.removeAll() }
            caches.lineages[id] = CachedLineage(chain: chain, truncated: truncated, bytes: scratch.bytes)
        }
        return scratch.bytes
    }

    /// The fields shared by `Process` and `ProcessContext`, but `tid` (per event; ancestors have none).
    fileprivate mutating func writeProcessFields(_ process: ProcessEntry, includeEnvs: Bool,
                                                 credentialsDestination: CredentialChangePayload? = nil,
                                                 executableMembers: [UInt8] = []) {
        let credentials = process.credentials
        key("pid")
        int(process.pid)
        key("ppid")
        int(process.ppid)
        key("uid")
        int(credentials.uid)
        key("gid")
        int(credentials.gid)
        if let user = credentials.user {
            key("user")
            string(user)
        }
        if let group = credentials.group {
            key("group")
            string(group)
        }
        key("comm")
        string(process.comm)
        if !process.tty.isEmpty {
            key("tty")
            string(process.tty)
        }
        if process.forkTimeNs != 0 {
            key("fork_time")
            rfc3339(nanoseconds: process.forkTimeNs)
        }
        if process.execTimeNs != 0 {
            key("exec_time")
            rfc3339(nanoseconds: process.execTimeNs)
        }
        if process.exitTimeNs != 0 {
            key("exit_time")
            rfc3339(nanoseconds: process.exitTimeNs)
        }
        key("credentials")
        writeCredentials(credentials, destination: credentialsDestination)
        if let executable = process.executable {
            key("executable")
            writeFile(executable, openFlags: nil) { w in if !executableMembers.isEmpty { w.rawMembers(executableMembers) } }
        }
        if let containerID = process.containerID, !containerID.isEmpty {
            key("container")
            writeContainer(containerID)
        }
        key("argv0")
        string(process.argv0)
        // Scrubbed here, while the process object is written for the cache: a cache hit costs nothing.
        key("args")
        writeArguments(process.args)
        key("args_truncated")
        bool(process.argsTruncated)
        if includeEnvs {
            key("envs")
            writeEnvironment(process.envs)
            key("envs_truncated")
            bool(process.envsTruncated)
        }
        if process.isKworker {
            key("is_kworker")
            bool(true)
        }
        if process.isExecChild {
            key("is_exec_child")
            bool(true)
        }
        if !process.source.isEmpty {
            key("source")
            string(process.source)
        }
    }

    /// The acting process could not be resolved: what the event itself says. The schema requires
    /// uid/gid; exec and fork carry the task's credentials, other events fall back to 0.
    /// (`event.processResolutionError` has no place in the schema's process object.)
    fileprivate mutating func writeUnresolvedProcess(_ event: Event) {
        var uid: UInt32 = 0
        var gid: UInt32 = 0
        var pid = event.pid
        var tid = event.tid
        switch event.payload {
        case .exec(let exec):
            uid = exec.credentials.uid
            gid = exec.credentials.gid
        case .fork(let fork):
            uid = fork.credentials.uid
            gid = fork.credentials.gid
            // The acting process of a fork is the child.
            pid = fork.childPid
            tid = fork.childTid
        default:
            break
        }
        writeMinimalProcess(pid: pid, tid: tid, comm: event.comm, uid: uid, gid: gid)
    }

    fileprivate mutating func writeMinimalProcess(pid: UInt32, tid: UInt32?, comm: String?, uid: UInt32, gid: UInt32) {
        beginObject()
        key("pid")
        int(pid)
        if let tid = tid {
            key("tid")
            int(tid)
        }
        key("uid")
        int(uid)
        key("gid")
        int(gid)
        if let comm = comm {
            key("comm")
            string(comm)
        }
        endObject()
    }

    fileprivate mutating func writeCredentials(_ credentials: Credentials, destination: CredentialChangePayload? = nil) {
        beginObject()
        key("uid")
        int(credentials.uid)
        if let user = credentials.user {
            key("user")
            string(user)
        }
        key("gid")
        int(credentials.gid)
        if let group = credentials.group {
            key("group")
            string(group)
        }
        key("euid")
        int(credentials.euid)
        if let euser = credentials.euser {
            key("euser")
            string(euser)
        }
        key("egid")
        int(credentials.egid)
        if let egroup = credentials.egroup {
            key("egroup")
            string(egroup)
        }
        key("fsuid")
        int(credentials.fsuid)
        if let fsuser = credentials.fsuser {
            key("fsuser")
            string(fsuser)
        }
        key("fsgid")
        int(credentials.fsgid)
        if let fsgroup = credentials.fsgroup {
            key("fsgroup")
            string(fsgroup)
        }
        key("auid")
        int(credentials.auid)
        key("cap_effective")
        writeCapabilities(credentials.capEffective)
        key("cap_permitted")
        writeCapabilities(credentials.capPermitted)
        if let d = destination {
            key("destination")
            beginObject()
            let ids: [(StaticString, UInt32)] = [("uid", d.uid), ("euid", d.euid), ("fsuid", d.fsuid), ("gid", d.gid), ("egid", d.egid),
                                                 ("fsgid", d.fsgid)]
            for (name, value) in ids {
                key(name)
                int(value)
            }
            let names: [(StaticString, String?)] = [("user", d.user), ("euser", d.euser), ("fsuser", d.fsuser), ("group", d.group),
                                                    ("egroup", d.egroup), ("fsgroup", d.fsgroup)]
            for (name, value) in names {
                if let value {
                    key(name)
                    string(value)
                }
            }
            key("cap_effective")
            writeCapabilities(d.capEffective)
            key("cap_permitted")
            writeCapabilities(d.capPermitted)
            endObject()
        }
        endObject()
    }

    fileprivate mutating func writeCapabilities(_ mask: UInt64) {
        if let cached = caches?.capabilities[mask] {
            rawValue(cached)
            return
        }
        separator()
        needsComma = false
        let valueStart = bytes.count
        beginArray()
        var rest = mask
        while rest != 0 {
            let bit = rest.trailingZeroBitCount
            if bit < capabilityNameTable.count {
                string(capabilityNameTable[bit])
            } else {
                string(capabilityName(bit))
            }
            rest &= rest &- 1
        }
        endArray()
        if let caches = caches {
            if caches.capabilities.count >= SerializerCaches.capabilityLimit { caches.capabilities.removeAll() }
            caches.capabilities[mask] = Array(bytes[valueStart...])
        }
    }

    // MARK: - Files

    /// A `File` / `FileEvent` object. `openFlags` adds `flags` (open events only: the schema's `File`
    /// used for executables has the key too, but only open has flags to report).
    fileprivate mutating func writeFile(_ file: FileInfo, openFlags: UInt32?, members: (inout JSONWriter) -> Void = { _ in }) {
        beginObject()
        key("path")
        string(file.path)
        key("name")
        string(file.name)
        if let error = file.pathResolutionError {
            key("path_resolution_error")
            string(error)
        }
        if let mountPath = file.mountPath, !mountPath.isEmpty {
            key("mount_path")
            string(mountPath)
        }
        if let mountSource = file.mountSource, !mountSource.isEmpty {
            key("mount_source")
            string(mountSource)
        }
        key("inode")
        int(file.inode)
        key("mode")
        int(file.mode)
        if file.inUpperLayer {
            key("in_upper_layer")
            bool(true)
        }
        key("mount_id")
        int(file.mountID)
        if !file.filesystem.isEmpty {
            key("filesystem")
            string(file.filesystem)
        }
        key("uid")
        int(file.uid)
        key("gid")
        int(file.gid)
        if let user = file.user {
            key("user")
            string(user)
        }
        if let group = file.group {
            key("group")
            string(group)
        }
        if let flags = openFlags {
            key("flags")
            beginArray()
            forEachOpenFlagName(flags, { string($0) }, unknown: { hexString(UInt64($0)) })
            endArray()
        }
        if file.modificationTimeNs != 0 {
            key("modification_time")
            rfc3339(nanoseconds: file.modificationTimeNs)
        }
        if file.changeTimeNs != 0 {
            key("change_time")
            rfc3339(nanoseconds: file.changeTimeNs)
        }
        members(&self)
        endObject()
    }

    fileprivate mutating func writeStringArray(_ values: StringList) {
        beginArray()
        _ = values.containsUTF8 { string(utf8: $0); return false }
        endArray()
    }

    /// Arguments, their sensitive values replaced by `********` when scrubbing is on.
    fileprivate mutating func writeArguments(_ args: StringList) {
        if let scrubbed = caches?.scrubbers?.arguments.scrub(args) {
            writeStringArray(scrubbed)
        } else {
            writeStringArray(args)
        }
    }

    /// An environment: with scrubbing on, names only but for the variables whose values are kept.
    fileprivate mutating func writeEnvironment(_ envs: StringList) {
        guard let environment = caches?.scrubbers?.environment else {
            writeStringArray(envs)
            return
        }
        beginArray()
        environment.forEach(envs) { string(utf8: $0) }
        endArray()
    }
}

/// Byte caches shared by the writers of one `EventSerializer`. Each is emptied when it reaches its
/// bound, which also drops the strong references that keep cached entries (and so their
/// ObjectIdentifier keys) from being reused by new entries.
final class SerializerCaches {
    /// nil when scrubbing is off. Not a cache: here so that every writer of the serializer reads it
    /// without a copy of its own.
    let scrubbers: Scrubbers?

    init(scrubbers: Scrubbers?) {
        self.scrubbers = scrubbers
    }

    /// Bound on distinct capability masks kept.
    static let capabilityLimit = 256
    var capabilities: [UInt64: [UInt8]] = [:]
    /// Bound on cached process objects and on cached lineages.
    static let processLimit = 8192
    var fields: [ProcessCacheKey: CachedFields] = [:]
    var lineages: [ObjectIdentifier: CachedLineage] = [:]
}

struct ProcessCacheKey: Hashable {
    let entry: ObjectIdentifier
    let includeEnvs: Bool
}

struct CachedFields {
    /// Held strongly so the ObjectIdentifier key cannot be reused by a new entry while cached.
    let entry: ProcessEntry
    let revision: UInt64
    let bytes: [UInt8]
}

struct CachedLineage {
    /// Each entry up the chain with the revision it had when serialized.
    let chain: [(ProcessEntry, UInt64)]
    let truncated: Bool
    let bytes: [UInt8]

    /// True when the chain from `parent` up is the same entries, unchanged, as when cached.
    func isCurrent(from parent: ProcessEntry) -> Bool {
        var current: ProcessEntry? = parent
        for (entry, revision) in chain {
            guard let node = current, node === entry, node.revision == revision else { return false }
            current = node.parent
        }
        return truncated || current == nil
    }
}
