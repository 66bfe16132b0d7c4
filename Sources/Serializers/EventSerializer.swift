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
    private let caches = SerializerCaches()

    public init() {}

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
        self.beginObject()

        self.key("agent")
        writeAgent(context)

        self.key("title")
        if let title = context.title {
            self.string(title)
        } else {
            self.string(event.type.name + " event")
        }

        self.key("evt")
        self.beginObject()
        self.key("name")
        self.string(event.type.name)
        self.key("category")
        self.string(event.type.category)
        self.key("outcome")
        self.string(event.outcome.rawValue)
        self.key("async")
        self.bool(false)
        self.endObject()

        self.key("date")
        self.rfc3339(nanoseconds: event.timeNs)

        self.key("process")
        if let process = event.process {
            writeProcessContext(process, tid: event.tid)
        } else {
            writeUnresolvedProcess(event)
        }

        writePayload(event)

        let process = event.process
        if let containerID = process?.containerID, !containerID.isEmpty {
            self.key("container")
            writeContainer(containerID)
        }
        let cgroupID = event.cgroupID != 0 ? event.cgroupID : (process?.cgroupID ?? 0)
        if let path = process?.cgroupPath, !path.isEmpty {
            self.key("cgroup")
            self.beginObject()
            self.key("id")
            self.string(path)
            self.endObject()
        } else if cgroupID != 0 {
            self.key("cgroup")
            self.beginObject()
            self.key("id")
            self.string(String(cgroupID))
            self.endObject()
        }

        self.endObject()
    }

    fileprivate mutating func writeAgent(_ context: AgentContext) {
        self.beginObject()
        self.key("rule_id")
        self.string(context.ruleID)
        if let ruleVersion = context.ruleVersion {
            self.key("rule_version")
            self.string(ruleVersion)
        }
        if let policyName = context.policyName {
            self.key("policy_name")
            self.string(policyName)
        }
        if let policyVersion = context.policyVersion {
            self.key("policy_version")
            self.string(policyVersion)
        }
        self.key("version")
        self.string(context.version)
        self.key("os")
        self.string(context.os)
        self.key("arch")
        self.string(context.arch)
        self.key("origin")
        self.string(context.origin)
        self.endObject()
    }

    fileprivate mutating func writeContainer(_ id: String) {
        self.beginObject()
        self.key("id")
        self.string(id)
        self.endObject()
    }

    // MARK: - Payloads

    fileprivate mutating func writePayload(_ event: Event) {
        switch event.payload {
        case .exec(let exec):
            self.key("syscall")
            self.beginObject()
            self.key("exec")
            self.beginObject()
            self.key("path")
            self.string(event.process?.executable?.path ?? exec.file.path)
            self.endObject()
            self.endObject()

        case .fork:
            break

        case .exit(let exit):
            self.key("exit")
            self.beginObject()
            self.key("cause")
            self.string(exit.cause.rawValue)
            self.key("code")
            self.int(exit.code)
            self.endObject()

        case .open(let open):
            self.key("file")
            writeFile(open.file, openFlags: open.flags)
            self.key("syscall")
            self.beginObject()
            self.key("open")
            self.beginObject()
            self.key("path")
            self.string(open.userPath)
            self.key("flags")
            self.int(open.flags)
            self.key("mode")
            self.int(open.mode)
            self.key("dirfd")
            self.int(open.dirfd)
            self.endObject()
            self.endObject()

        case .mount(let mount):
            self.key("mount")
            self.beginObject()
            self.key("mount_id")
            self.int(mount.mountID)
            self.key("parent_mount_id")
            self.int(mount.parentMountID)
            self.key("bind_src_mount_id")
            self.int(mount.bindSourceMountID)
            self.key("device")
            self.int(mount.device)
            self.key("fs_type")
            self.string(mount.fsType)
            self.key("mountpoint.path")
            self.string(mount.mountpointPath)
            self.key("source.path")
            self.string(mount.sourcePath)
            if let error = mount.mountpointPathError {
                self.key("mountpoint.path_error")
                self.string(error)
            }
            if let error = mount.sourcePathError {
                self.key("source.path_error")
                self.string(error)
            }
            self.endObject()

        case .umount(let umount):
            // As Datadog's agent does: the unmounted mount is a `file` carrying `new_mount_id`. The
            // schema requires uid/gid on a file; a mount point has no meaningful owner here, so 0.
            self.key("file")
            self.beginObject()
            if !umount.mountpointPath.isEmpty {
                self.key("path")
                self.string(umount.mountpointPath)
                self.key("name")
                self.string(FileInfo.baseName(of: umount.mountpointPath))
            }
            self.key("new_mount_id")
            self.int(umount.mountID)
            self.key("uid")
            self.int(0)
            self.key("gid")
            self.int(0)
            self.endObject()

        case .bind(let bind):
            self.key("bind")
            self.beginObject()
            self.key("addr")
            self.beginObject()
            self.key("family")
            self.string(addressFamilyName(bind.family))
            self.key("ip")
            self.string(bind.ip)
            self.key("port")
            self.int(bind.port)
            self.endObject()
            self.endObject()
            if !bind.unixPath.isEmpty {
                // The schema's bind address has no path; the socket path goes in `file.path`. Owner
                // fields are required by the schema and unknown for a socket name, hence 0.
                self.key("file")
                self.beginObject()
                self.key("path")
                self.string(bind.unixPath)
                self.key("name")
                self.string(FileInfo.baseName(of: bind.unixPath))
                self.key("uid")
                self.int(0)
                self.key("gid")
                self.int(0)
                self.endObject()
            }

        case .ptrace(let ptrace):
            self.key("ptrace")
            self.beginObject()
            self.key("request")
            self.string(ptraceRequestName(ptrace.request))
            self.key("address")
            self.hexString(ptrace.address)
            self.key("tracee")
            if let tracee = ptrace.tracee {
                writeProcessContext(tracee, tid: nil)
            } else {
                // Unresolved tracee: keep its pid; uid/gid are required by the schema.
                writeMinimalProcess(pid: ptrace.traceePid, tid: nil, comm: nil, uid: 0, gid: 0)
            }
            self.endObject()

        case .mmap(let mmap):
            self.key("mmap")
            self.beginObject()
            self.key("address")
            self.hexString(mmap.address)
            self.key("offset")
            self.int(mmap.offset)
            self.key("length")
            self.int(mmap.length)
            self.key("protection")
            self.string(protectionString(mmap.protection))
            self.key("flags")
            self.string(mmapFlagsString(mmap.flags))
            self.endObject()
            if let file = mmap.file {
                self.key("file")
                writeFile(file, openFlags: nil)
            }

        case .mprotect(let mprotect):
            self.key("mprotect")
            self.beginObject()
            self.key("vm_start")
            self.hexString(mprotect.vmStart)
            self.key("vm_end")
            self.hexString(mprotect.vmEnd)
            self.key("vm_protection")
            self.string(protectionString(mprotect.vmProtection))
            self.key("req_protection")
            self.string(protectionString(mprotect.reqProtection))
            self.endObject()

        case .signal(let signal):
            self.key("signal")
            self.beginObject()
            self.key("type")
            self.string(signalName(signal.type))
            self.key("pid")
            self.int(signal.pid)
            if let target = signal.target {
                self.key("target")
                writeProcessContext(target, tid: nil)
            }
            self.endObject()

        case .splice(let splice):
            self.key("splice")
            self.beginObject()
            self.key("pipe_entry_flag")
            self.string(pipeBufFlagsString(splice.pipeEntryFlag))
            self.key("pipe_exit_flag")
            self.string(pipeBufFlagsString(splice.pipeExitFlag))
            self.endObject()
            if let file = splice.file {
                self.key("file")
                writeFile(file, openFlags: nil)
            }

        case .bpf(let bpf):
            writeBPF(bpf)

        case .loadModule(let module):
            self.key("module")
            self.beginObject()
            self.key("name")
            self.string(module.name)
            self.key("loaded_from_memory")
            self.bool(module.loadedFromMemory)
            self.key("argv")
            writeStringArray(module.argv)
            self.key("args_truncated")
            self.bool(module.argsTruncated)
            self.endObject()
            if let file = module.file {
                self.key("file")
                writeFile(file, openFlags: nil)
            }

        case .unloadModule(let module):
            self.key("module")
            self.beginObject()
            self.key("name")
            self.string(module.name)
            self.endObject()
        }
    }

    fileprivate mutating func writeBPF(_ bpf: BPFPayload) {
        self.key("bpf")
        self.beginObject()
        self.key("cmd")
        self.string(bpfCommandName(bpf.cmd))
        if bpf.mapName != nil || bpf.mapType != nil {
            self.key("map")
            self.beginObject()
            if let name = bpf.mapName {
                self.key("name")
                self.string(name)
            }
            if let type = bpf.mapType {
                self.key("map_type")
                self.string(bpfMapTypeName(type))
            }
            self.endObject()
        }
        if bpf.progName != nil || bpf.progType != nil || bpf.attachType != nil || bpf.progTag != nil
            || !bpf.helpers.isEmpty
        {
            self.key("program")
            self.beginObject()
            if let name = bpf.progName {
                self.key("name")
                self.string(name)
            }
            if let tag = bpf.progTag {
                self.key("tag")
                self.string(tag)
            }
            if let type = bpf.progType {
                self.key("program_type")
                self.string(bpfProgramTypeName(type))
            }
            if let attach = bpf.attachType {
                self.key("attach_type")
                self.string(bpfAttachTypeName(attach))
            }
            if !bpf.helpers.isEmpty {
                self.key("helpers")
                self.beginArray()
                for helper in bpf.helpers {
                    if Int(helper) < bpfHelperNames.count {
                        self.string(bpfHelperNames[Int(helper)])
                    } else {
                        self.string(bpfHelperName(helper))
                    }
                }
                self.endArray()
            }
            self.endObject()
        }
        self.endObject()
    }

    // MARK: - Processes

    /// A `ProcessContext`: the process, its `parent` and its `ancestors` (parent first).
    fileprivate mutating func writeProcessContext(_ process: ProcessEntry, tid: UInt32?) {
        self.beginObject()
        writeProcessFields(process, tid: tid)

        if let parent = process.parent {
            self.key("parent")
            // The parent is also ancestors[0]: write it once and copy its bytes.
            self.separator()
            let parentStart = self.bytes.count
            self.beginObject()
            writeProcessFields(parent, tid: nil)
            self.endObject()
            let parentEnd = self.bytes.count

            self.key("ancestors")
            self.beginArray()
            // Copy out first: appending a slice of the same array would make its storage shared
            // and force a copy of the whole buffer.
            let parentBytes = Array(self.bytes[parentStart..<parentEnd])
            self.rawValue(parentBytes)
            var count = 1
            var current = parent.parent
            var truncated = false
            while let ancestor = current {
                if count == EventSerializer.ancestorLimit {
                    truncated = true
                    break
                }
                self.beginObject()
                writeProcessFields(ancestor, tid: nil)
                self.endObject()
                count += 1
                current = ancestor.parent
            }
            self.endArray()
            if truncated {
                self.key("truncated_ancestors")
                self.bool(true)
            }
        }
        self.endObject()
    }

    /// The fields shared by `Process` and `ProcessContext`. `tid` is written only when known: an
    /// ancestor has no acting thread.
    fileprivate mutating func writeProcessFields(_ process: ProcessEntry, tid: UInt32?) {
        let credentials = process.credentials
        self.key("pid")
        self.int(process.pid)
        self.key("ppid")
        self.int(process.ppid)
        if let tid = tid {
            self.key("tid")
            self.int(tid)
        }
        self.key("uid")
        self.int(credentials.uid)
        self.key("gid")
        self.int(credentials.gid)
        if let user = credentials.user {
            self.key("user")
            self.string(user)
        }
        if let group = credentials.group {
            self.key("group")
            self.string(group)
        }
        self.key("comm")
        self.string(process.comm)
        if !process.tty.isEmpty {
            self.key("tty")
            self.string(process.tty)
        }
        if process.forkTimeNs != 0 {
            self.key("fork_time")
            self.rfc3339(nanoseconds: process.forkTimeNs)
        }
        if process.execTimeNs != 0 {
            self.key("exec_time")
            self.rfc3339(nanoseconds: process.execTimeNs)
        }
        if process.exitTimeNs != 0 {
            self.key("exit_time")
            self.rfc3339(nanoseconds: process.exitTimeNs)
        }
        self.key("credentials")
        writeCredentials(credentials)
        if let executable = process.executable {
            self.key("executable")
            writeFile(executable, openFlags: nil)
        }
        if let containerID = process.containerID, !containerID.isEmpty {
            self.key("container")
            writeContainer(containerID)
        }
        self.key("argv0")
        self.string(process.argv0)
        self.key("args")
        writeStringArray(process.args)
        self.key("args_truncated")
        self.bool(process.argsTruncated)
        self.key("envs")
        writeStringArray(process.envs)
        self.key("envs_truncated")
        self.bool(process.envsTruncated)
        if process.isKworker {
            self.key("is_kworker")
            self.bool(true)
        }
        if process.isExecChild {
            self.key("is_exec_child")
            self.bool(true)
        }
        if !process.source.isEmpty {
            self.key("source")
            self.string(process.source)
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
        self.beginObject()
        self.key("pid")
        self.int(pid)
        if let tid = tid {
            self.key("tid")
            self.int(tid)
        }
        self.key("uid")
        self.int(uid)
        self.key("gid")
        self.int(gid)
        if let comm = comm {
            self.key("comm")
            self.string(comm)
        }
        self.endObject()
    }

    fileprivate mutating func writeCredentials(_ credentials: Credentials) {
        self.beginObject()
        self.key("uid")
        self.int(credentials.uid)
        if let user = credentials.user {
            self.key("user")
            self.string(user)
        }
        self.key("gid")
        self.int(credentials.gid)
        if let group = credentials.group {
            self.key("group")
            self.string(group)
        }
        self.key("euid")
        self.int(credentials.euid)
        if let euser = credentials.euser {
            self.key("euser")
            self.string(euser)
        }
        self.key("egid")
        self.int(credentials.egid)
        if let egroup = credentials.egroup {
            self.key("egroup")
            self.string(egroup)
        }
        self.key("fsuid")
        self.int(credentials.fsuid)
        if let fsuser = credentials.fsuser {
            self.key("fsuser")
            self.string(fsuser)
        }
        self.key("fsgid")
        self.int(credentials.fsgid)
        if let fsgroup = credentials.fsgroup {
            self.key("fsgroup")
            self.string(fsgroup)
        }
        self.key("auid")
        self.int(credentials.auid)
        self.key("cap_effective")
        writeCapabilities(credentials.capEffective)
        self.key("cap_permitted")
        writeCapabilities(credentials.capPermitted)
        self.endObject()
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
    fileprivate mutating func writeFile(_ file: FileInfo, openFlags: UInt32?) {
        self.beginObject()
        self.key("path")
        self.string(file.path)
        self.key("name")
        self.string(file.name)
        if let error = file.pathResolutionError {
            self.key("path_resolution_error")
            self.string(error)
        }
        self.key("inode")
        self.int(file.inode)
        self.key("mode")
        self.int(file.mode)
        if file.inUpperLayer {
            self.key("in_upper_layer")
            self.bool(true)
        }
        self.key("mount_id")
        self.int(file.mountID)
        if !file.filesystem.isEmpty {
            self.key("filesystem")
            self.string(file.filesystem)
        }
        self.key("uid")
        self.int(file.uid)
        self.key("gid")
        self.int(file.gid)
        if let user = file.user {
            self.key("user")
            self.string(user)
        }
        if let group = file.group {
            self.key("group")
            self.string(group)
        }
        if let flags = openFlags {
            self.key("flags")
            self.beginArray()
            forEachOpenFlagName(flags, { self.string($0) }, unknown: { self.hexString(UInt64($0)) })
            self.endArray()
        }
        if file.modificationTimeNs != 0 {
            self.key("modification_time")
            self.rfc3339(nanoseconds: file.modificationTimeNs)
        }
        if file.changeTimeNs != 0 {
            self.key("change_time")
            self.rfc3339(nanoseconds: file.changeTimeNs)
        }
        self.endObject()
    }

    fileprivate mutating func writeStringArray(_ values: [String]) {
        self.beginArray()
        for value in values { self.string(value) }
        self.endArray()
    }
}

/// Byte caches shared by the writers of one `EventSerializer`.
final class SerializerCaches {
    /// Bound on distinct capability masks kept; the cache is simply emptied when it is reached.
    static let capabilityLimit = 256
    var capabilities: [UInt64: [UInt8]] = [:]
}
