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

    private var writer = JSONWriter()

    public init() {
        writer.bytes.reserveCapacity(8192)
    }

    /// Appends exactly one JSON object and a `\n` to `buffer`.
    public func serialize(_ event: Event, context: AgentContext, into buffer: inout [UInt8]) {
        // Write into the caller's storage directly; swapping avoids copying the output.
        swap(&writer.bytes, &buffer)
        writer.resetState()
        writeEvent(event, context)
        writer.bytes.append(UInt8(ascii: "\n"))
        swap(&writer.bytes, &buffer)
    }

    /// One event as a JSON line (with its trailing `\n`); convenient for tests and the rule engine.
    public func line(_ event: Event, context: AgentContext) -> String {
        var bytes: [UInt8] = []
        serialize(event, context: context, into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: - Top level

    private func writeEvent(_ event: Event, _ context: AgentContext) {
        writer.beginObject()

        writer.key("agent")
        writeAgent(context)

        writer.key("title")
        if let title = context.title {
            writer.string(title)
        } else {
            writer.string(event.type.name + " event")
        }

        writer.key("evt")
        writer.beginObject()
        writer.key("name")
        writer.string(event.type.name)
        writer.key("category")
        writer.string(event.type.category)
        writer.key("outcome")
        writer.string(event.outcome.rawValue)
        writer.key("async")
        writer.bool(false)
        writer.endObject()

        writer.key("date")
        writer.rfc3339(nanoseconds: event.timeNs)

        writer.key("process")
        if let process = event.process {
            writeProcessContext(process, tid: event.tid)
        } else {
            writeUnresolvedProcess(event)
        }

        writePayload(event)

        let process = event.process
        if let containerID = process?.containerID, !containerID.isEmpty {
            writer.key("container")
            writeContainer(containerID)
        }
        let cgroupID = event.cgroupID != 0 ? event.cgroupID : (process?.cgroupID ?? 0)
        if let path = process?.cgroupPath, !path.isEmpty {
            writer.key("cgroup")
            writer.beginObject()
            writer.key("id")
            writer.string(path)
            writer.endObject()
        } else if cgroupID != 0 {
            writer.key("cgroup")
            writer.beginObject()
            writer.key("id")
            writer.string(String(cgroupID))
            writer.endObject()
        }

        writer.endObject()
    }

    private func writeAgent(_ context: AgentContext) {
        writer.beginObject()
        writer.key("rule_id")
        writer.string(context.ruleID)
        if let ruleVersion = context.ruleVersion {
            writer.key("rule_version")
            writer.string(ruleVersion)
        }
        if let policyName = context.policyName {
            writer.key("policy_name")
            writer.string(policyName)
        }
        if let policyVersion = context.policyVersion {
            writer.key("policy_version")
            writer.string(policyVersion)
        }
        writer.key("version")
        writer.string(context.version)
        writer.key("os")
        writer.string(context.os)
        writer.key("arch")
        writer.string(context.arch)
        writer.key("origin")
        writer.string(context.origin)
        writer.endObject()
    }

    private func writeContainer(_ id: String) {
        writer.beginObject()
        writer.key("id")
        writer.string(id)
        writer.endObject()
    }

    // MARK: - Payloads

    private func writePayload(_ event: Event) {
        switch event.payload {
        case .exec(let exec):
            writer.key("syscall")
            writer.beginObject()
            writer.key("exec")
            writer.beginObject()
            writer.key("path")
            writer.string(event.process?.executable?.path ?? exec.file.path)
            writer.endObject()
            writer.endObject()

        case .fork:
            break

        case .exit(let exit):
            writer.key("exit")
            writer.beginObject()
            writer.key("cause")
            writer.string(exit.cause.rawValue)
            writer.key("code")
            writer.int(exit.code)
            writer.endObject()

        case .open(let open):
            writer.key("file")
            writeFile(open.file, openFlags: open.flags)
            writer.key("syscall")
            writer.beginObject()
            writer.key("open")
            writer.beginObject()
            writer.key("path")
            writer.string(open.userPath)
            writer.key("flags")
            writer.int(open.flags)
            writer.key("mode")
            writer.int(open.mode)
            writer.key("dirfd")
            writer.int(open.dirfd)
            writer.endObject()
            writer.endObject()

        case .mount(let mount):
            writer.key("mount")
            writer.beginObject()
            writer.key("mount_id")
            writer.int(mount.mountID)
            writer.key("parent_mount_id")
            writer.int(mount.parentMountID)
            writer.key("bind_src_mount_id")
            writer.int(mount.bindSourceMountID)
            writer.key("device")
            writer.int(mount.device)
            writer.key("fs_type")
            writer.string(mount.fsType)
            writer.key("mountpoint.path")
            writer.string(mount.mountpointPath)
            writer.key("source.path")
            writer.string(mount.sourcePath)
            if let error = mount.mountpointPathError {
                writer.key("mountpoint.path_error")
                writer.string(error)
            }
            if let error = mount.sourcePathError {
                writer.key("source.path_error")
                writer.string(error)
            }
            writer.endObject()

        case .umount(let umount):
            // As Datadog's agent does: the unmounted mount is a `file` carrying `new_mount_id`. The
            // schema requires uid/gid on a file; a mount point has no meaningful owner here, so 0.
            writer.key("file")
            writer.beginObject()
            if !umount.mountpointPath.isEmpty {
                writer.key("path")
                writer.string(umount.mountpointPath)
                writer.key("name")
                writer.string(FileInfo.baseName(of: umount.mountpointPath))
            }
            writer.key("new_mount_id")
            writer.int(umount.mountID)
            writer.key("uid")
            writer.int(0)
            writer.key("gid")
            writer.int(0)
            writer.endObject()

        case .bind(let bind):
            writer.key("bind")
            writer.beginObject()
            writer.key("addr")
            writer.beginObject()
            writer.key("family")
            writer.string(addressFamilyName(bind.family))
            writer.key("ip")
            writer.string(bind.ip)
            writer.key("port")
            writer.int(bind.port)
            writer.endObject()
            writer.endObject()
            if !bind.unixPath.isEmpty {
                // The schema's bind address has no path; the socket path goes in `file.path`. Owner
                // fields are required by the schema and unknown for a socket name, hence 0.
                writer.key("file")
                writer.beginObject()
                writer.key("path")
                writer.string(bind.unixPath)
                writer.key("name")
                writer.string(FileInfo.baseName(of: bind.unixPath))
                writer.key("uid")
                writer.int(0)
                writer.key("gid")
                writer.int(0)
                writer.endObject()
            }

        case .ptrace(let ptrace):
            writer.key("ptrace")
            writer.beginObject()
            writer.key("request")
            writer.string(ptraceRequestName(ptrace.request))
            writer.key("address")
            writer.hexString(ptrace.address)
            writer.key("tracee")
            if let tracee = ptrace.tracee {
                writeProcessContext(tracee, tid: nil)
            } else {
                // Unresolved tracee: keep its pid; uid/gid are required by the schema.
                writeMinimalProcess(pid: ptrace.traceePid, tid: nil, comm: nil, uid: 0, gid: 0)
            }
            writer.endObject()

        case .mmap(let mmap):
            writer.key("mmap")
            writer.beginObject()
            writer.key("address")
            writer.hexString(mmap.address)
            writer.key("offset")
            writer.int(mmap.offset)
            writer.key("length")
            writer.int(mmap.length)
            writer.key("protection")
            writer.string(protectionString(mmap.protection))
            writer.key("flags")
            writer.string(mmapFlagsString(mmap.flags))
            writer.endObject()
            if let file = mmap.file {
                writer.key("file")
                writeFile(file, openFlags: nil)
            }

        case .mprotect(let mprotect):
            writer.key("mprotect")
            writer.beginObject()
            writer.key("vm_start")
            writer.hexString(mprotect.vmStart)
            writer.key("vm_end")
            writer.hexString(mprotect.vmEnd)
            writer.key("vm_protection")
            writer.string(protectionString(mprotect.vmProtection))
            writer.key("req_protection")
            writer.string(protectionString(mprotect.reqProtection))
            writer.endObject()

        case .signal(let signal):
            writer.key("signal")
            writer.beginObject()
            writer.key("type")
            writer.string(signalName(signal.type))
            writer.key("pid")
            writer.int(signal.pid)
            if let target = signal.target {
                writer.key("target")
                writeProcessContext(target, tid: nil)
            }
            writer.endObject()

        case .splice(let splice):
            writer.key("splice")
            writer.beginObject()
            writer.key("pipe_entry_flag")
            writer.string(pipeBufFlagsString(splice.pipeEntryFlag))
            writer.key("pipe_exit_flag")
            writer.string(pipeBufFlagsString(splice.pipeExitFlag))
            writer.endObject()
            if let file = splice.file {
                writer.key("file")
                writeFile(file, openFlags: nil)
            }

        case .bpf(let bpf):
            writeBPF(bpf)

        case .loadModule(let module):
            writer.key("module")
            writer.beginObject()
            writer.key("name")
            writer.string(module.name)
            writer.key("loaded_from_memory")
            writer.bool(module.loadedFromMemory)
            writer.key("argv")
            writeStringArray(module.argv)
            writer.key("args_truncated")
            writer.bool(module.argsTruncated)
            writer.endObject()
            if let file = module.file {
                writer.key("file")
                writeFile(file, openFlags: nil)
            }

        case .unloadModule(let module):
            writer.key("module")
            writer.beginObject()
            writer.key("name")
            writer.string(module.name)
            writer.endObject()
        }
    }

    private func writeBPF(_ bpf: BPFPayload) {
        writer.key("bpf")
        writer.beginObject()
        writer.key("cmd")
        writer.string(bpfCommandName(bpf.cmd))
        if bpf.mapName != nil || bpf.mapType != nil {
            writer.key("map")
            writer.beginObject()
            if let name = bpf.mapName {
                writer.key("name")
                writer.string(name)
            }
            if let type = bpf.mapType {
                writer.key("map_type")
                writer.string(bpfMapTypeName(type))
            }
            writer.endObject()
        }
        if bpf.progName != nil || bpf.progType != nil || bpf.attachType != nil || bpf.progTag != nil
            || !bpf.helpers.isEmpty
        {
            writer.key("program")
            writer.beginObject()
            if let name = bpf.progName {
                writer.key("name")
                writer.string(name)
            }
            if let tag = bpf.progTag {
                writer.key("tag")
                writer.string(tag)
            }
            if let type = bpf.progType {
                writer.key("program_type")
                writer.string(bpfProgramTypeName(type))
            }
            if let attach = bpf.attachType {
                writer.key("attach_type")
                writer.string(bpfAttachTypeName(attach))
            }
            if !bpf.helpers.isEmpty {
                writer.key("helpers")
                writer.beginArray()
                for helper in bpf.helpers {
                    if Int(helper) < bpfHelperNames.count {
                        writer.string(bpfHelperNames[Int(helper)])
                    } else {
                        writer.string(bpfHelperName(helper))
                    }
                }
                writer.endArray()
            }
            writer.endObject()
        }
        writer.endObject()
    }

    // MARK: - Processes

    /// A `ProcessContext`: the process, its `parent` and its `ancestors` (parent first).
    private func writeProcessContext(_ process: ProcessEntry, tid: UInt32?) {
        writer.beginObject()
        writeProcessFields(process, tid: tid)

        if let parent = process.parent {
            writer.key("parent")
            // The parent is also ancestors[0]: write it once and copy its bytes.
            writer.separator()
            let parentStart = writer.bytes.count
            writer.beginObject()
            writeProcessFields(parent, tid: nil)
            writer.endObject()
            let parentEnd = writer.bytes.count

            writer.key("ancestors")
            writer.beginArray()
            writer.separator()
            writer.bytes.append(contentsOf: writer.bytes[parentStart..<parentEnd])
            writer.needsComma = true
            var count = 1
            var current = parent.parent
            var truncated = false
            while let ancestor = current {
                if count == EventSerializer.ancestorLimit {
                    truncated = true
                    break
                }
                writer.beginObject()
                writeProcessFields(ancestor, tid: nil)
                writer.endObject()
                count += 1
                current = ancestor.parent
            }
            writer.endArray()
            if truncated {
                writer.key("truncated_ancestors")
                writer.bool(true)
            }
        }
        writer.endObject()
    }

    /// The fields shared by `Process` and `ProcessContext`. `tid` is written only when known: an
    /// ancestor has no acting thread.
    private func writeProcessFields(_ process: ProcessEntry, tid: UInt32?) {
        let credentials = process.credentials
        writer.key("pid")
        writer.int(process.pid)
        writer.key("ppid")
        writer.int(process.ppid)
        if let tid = tid {
            writer.key("tid")
            writer.int(tid)
        }
        writer.key("uid")
        writer.int(credentials.uid)
        writer.key("gid")
        writer.int(credentials.gid)
        if let user = credentials.user {
            writer.key("user")
            writer.string(user)
        }
        if let group = credentials.group {
            writer.key("group")
            writer.string(group)
        }
        writer.key("comm")
        writer.string(process.comm)
        if !process.tty.isEmpty {
            writer.key("tty")
            writer.string(process.tty)
        }
        if process.forkTimeNs != 0 {
            writer.key("fork_time")
            writer.rfc3339(nanoseconds: process.forkTimeNs)
        }
        if process.execTimeNs != 0 {
            writer.key("exec_time")
            writer.rfc3339(nanoseconds: process.execTimeNs)
        }
        if process.exitTimeNs != 0 {
            writer.key("exit_time")
            writer.rfc3339(nanoseconds: process.exitTimeNs)
        }
        writer.key("credentials")
        writeCredentials(credentials)
        if let executable = process.executable {
            writer.key("executable")
            writeFile(executable, openFlags: nil)
        }
        if let containerID = process.containerID, !containerID.isEmpty {
            writer.key("container")
            writeContainer(containerID)
        }
        writer.key("argv0")
        writer.string(process.argv0)
        writer.key("args")
        writeStringArray(process.args)
        writer.key("args_truncated")
        writer.bool(process.argsTruncated)
        writer.key("envs")
        writeStringArray(process.envs)
        writer.key("envs_truncated")
        writer.bool(process.envsTruncated)
        if process.isKworker {
            writer.key("is_kworker")
            writer.bool(true)
        }
        if process.isExecChild {
            writer.key("is_exec_child")
            writer.bool(true)
        }
        if !process.source.isEmpty {
            writer.key("source")
            writer.string(process.source)
        }
    }

    /// The acting process could not be resolved: what the event itself says. The schema requires
    /// uid/gid; exec and fork carry the task's credentials, other events fall back to 0.
    /// (`event.processResolutionError` has no place in the schema's process object.)
    private func writeUnresolvedProcess(_ event: Event) {
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

    private func writeMinimalProcess(pid: UInt32, tid: UInt32?, comm: String?, uid: UInt32, gid: UInt32) {
        writer.beginObject()
        writer.key("pid")
        writer.int(pid)
        if let tid = tid {
            writer.key("tid")
            writer.int(tid)
        }
        writer.key("uid")
        writer.int(uid)
        writer.key("gid")
        writer.int(gid)
        if let comm = comm {
            writer.key("comm")
            writer.string(comm)
        }
        writer.endObject()
    }

    private func writeCredentials(_ credentials: Credentials) {
        writer.beginObject()
        writer.key("uid")
        writer.int(credentials.uid)
        if let user = credentials.user {
            writer.key("user")
            writer.string(user)
        }
        writer.key("gid")
        writer.int(credentials.gid)
        if let group = credentials.group {
            writer.key("group")
            writer.string(group)
        }
        writer.key("euid")
        writer.int(credentials.euid)
        if let euser = credentials.euser {
            writer.key("euser")
            writer.string(euser)
        }
        writer.key("egid")
        writer.int(credentials.egid)
        if let egroup = credentials.egroup {
            writer.key("egroup")
            writer.string(egroup)
        }
        writer.key("fsuid")
        writer.int(credentials.fsuid)
        if let fsuser = credentials.fsuser {
            writer.key("fsuser")
            writer.string(fsuser)
        }
        writer.key("fsgid")
        writer.int(credentials.fsgid)
        if let fsgroup = credentials.fsgroup {
            writer.key("fsgroup")
            writer.string(fsgroup)
        }
        writer.key("auid")
        writer.int(credentials.auid)
        writer.key("cap_effective")
        writeCapabilities(credentials.capEffective)
        writer.key("cap_permitted")
        writeCapabilities(credentials.capPermitted)
        writer.endObject()
    }

    private func writeCapabilities(_ mask: UInt64) {
        writer.beginArray()
        var rest = mask
        while rest != 0 {
            let bit = rest.trailingZeroBitCount
            if bit < capabilityNameTable.count {
                writer.string(capabilityNameTable[bit])
            } else {
                writer.string(capabilityName(bit))
            }
            rest &= rest &- 1
        }
        writer.endArray()
    }

    // MARK: - Files

    /// A `File` / `FileEvent` object. `openFlags` adds `flags` (open events only: the schema's `File`
    /// used for executables has the key too, but only open has flags to report).
    private func writeFile(_ file: FileInfo, openFlags: UInt32?) {
        writer.beginObject()
        writer.key("path")
        writer.string(file.path)
        writer.key("name")
        writer.string(file.name)
        if let error = file.pathResolutionError {
            writer.key("path_resolution_error")
            writer.string(error)
        }
        writer.key("inode")
        writer.int(file.inode)
        writer.key("mode")
        writer.int(file.mode)
        if file.inUpperLayer {
            writer.key("in_upper_layer")
            writer.bool(true)
        }
        writer.key("mount_id")
        writer.int(file.mountID)
        if !file.filesystem.isEmpty {
            writer.key("filesystem")
            writer.string(file.filesystem)
        }
        writer.key("uid")
        writer.int(file.uid)
        writer.key("gid")
        writer.int(file.gid)
        if let user = file.user {
            writer.key("user")
            writer.string(user)
        }
        if let group = file.group {
            writer.key("group")
            writer.string(group)
        }
        if let flags = openFlags {
            writer.key("flags")
            writer.beginArray()
            forEachOpenFlagName(flags, { writer.string($0) }, unknown: { writer.string(hexString($0)) })
            writer.endArray()
        }
        if file.modificationTimeNs != 0 {
            writer.key("modification_time")
            writer.rfc3339(nanoseconds: file.modificationTimeNs)
        }
        if file.changeTimeNs != 0 {
            writer.key("change_time")
            writer.rfc3339(nanoseconds: file.changeTimeNs)
        }
        writer.endObject()
    }

    private func writeStringArray(_ values: [String]) {
        writer.beginArray()
        for value in values { writer.string(value) }
        writer.endArray()
    }
}
