/// One event, from decoding through resolution, rules and serialization.
///
/// Probes fill the kernel-given fields; resolvers fill `process` and names; the rule engine reads it;
/// the serializer writes it. Resolution failures are recorded on the event, never a reason to drop it.
public struct Event {
    public var type: EventType
    /// CLOCK_BOOTTIME nanoseconds from the kernel.
    public var bootTimeNs: UInt64
    /// Wall-clock nanoseconds since the Unix epoch (boot time plus the boot-to-wall offset).
    public var timeNs: UInt64
    public var pid: UInt32
    public var tid: UInt32
    public var cgroupID: UInt64
    public var comm: String
    /// Syscall return value; 0 for events that are not syscalls (fork, exit, exec success).
    public var retval: Int64
    /// The acting process (for fork: the child; for exec: the new image). Set by the process resolver.
    public var process: ProcessEntry?
    /// Set when the process could not be resolved (unknown pid, ...).
    public var processResolutionError: String?
    public var payload: EventPayload

    public init(
        type: EventType, bootTimeNs: UInt64 = 0, timeNs: UInt64 = 0, pid: UInt32 = 0, tid: UInt32 = 0,
        cgroupID: UInt64 = 0, comm: String = "", retval: Int64 = 0, process: ProcessEntry? = nil,
        payload: EventPayload
    ) {
        self.type = type
        self.bootTimeNs = bootTimeNs
        self.timeNs = timeNs
        self.pid = pid
        self.tid = tid
        self.cgroupID = cgroupID
        self.comm = comm
        self.retval = retval
        self.process = process
        self.payload = payload
    }

    /// `evt.outcome`: Success for a non-negative return, Refused for EACCES/EPERM, Error otherwise.
    public var outcome: Outcome {
        if retval >= 0 { return .success }
        let errno = -retval
        return (errno == 1 || errno == 13) ? .refused : .error
    }
}

public enum Outcome: String, Sendable {
    case success = "Success"
    case refused = "Refused"
    case error = "Error"
}

/// What is specific to each event type.
public enum EventPayload {
    case exec(ExecPayload)
    case fork(ForkPayload)
    case exit(ExitPayload)
    case open(OpenPayload)
    case mount(MountPayload)
    case umount(UmountPayload)
    case bind(BindPayload)
    case ptrace(PtracePayload)
    case mmap(MMapPayload)
    case mprotect(MProtectPayload)
    case signal(SignalPayload)
    case splice(SplicePayload)
    case bpf(BPFPayload)
    case loadModule(LoadModulePayload)
    case unloadModule(UnloadModulePayload)
    /// Modelled, no probe yet (see `ModelledPayloads.swift`): the file types (`Event.type` says
    /// which), `setuid`/`setgid`/`capset`, `connect`/`accept`, `dns` and `imds`.
    case fileChange(FileChangePayload)
    case credentials(CredentialChangePayload)
    case connection(ConnectionPayload)
    case dns(DNSPayload)
    case imds(IMDSPayload)
}

/// exec: the new image travels in `Event.process`; this keeps what the kernel reported, so the process
/// resolver can build that image.
public struct ExecPayload {
    public var file: FileInfo
    public var credentials: Credentials
    public var ppid: UInt32
    /// CLOCK_BOOTTIME start time of the task (ns); /proc/<pid>/stat starttime is on the same clock.
    public var forkTimeNs: UInt64
    public var argv0: String
    public var args: StringList
    public var argsTruncated: Bool
    public var envs: StringList
    public var envsTruncated: Bool
    public var tty: String

    public init(
        file: FileInfo, credentials: Credentials, ppid: UInt32, forkTimeNs: UInt64 = 0, argv0: String,
        args: StringList, argsTruncated: Bool = false, envs: StringList, envsTruncated: Bool = false,
        tty: String = ""
    ) {
        self.file = file
        self.credentials = credentials
        self.ppid = ppid
        self.forkTimeNs = forkTimeNs
        self.argv0 = argv0
        self.args = args
        self.argsTruncated = argsTruncated
        self.envs = envs
        self.envsTruncated = envsTruncated
        self.tty = tty
    }
}

/// fork: `Event.pid` is the parent; `Event.process` becomes the child once resolved.
public struct ForkPayload {
    public var childPid: UInt32
    public var childTid: UInt32
    public var parentPid: UInt32
    public var credentials: Credentials
    public var childStartBootNs: UInt64

    public init(childPid: UInt32, childTid: UInt32, parentPid: UInt32, credentials: Credentials, childStartBootNs: UInt64 = 0) {
        self.childPid = childPid
        self.childTid = childTid
        self.parentPid = parentPid
        self.credentials = credentials
        self.childStartBootNs = childStartBootNs
    }
}

public enum ExitCause: String, Sendable {
    case exited = "EXITED"
    case signaled = "SIGNALED"
    case coredumped = "COREDUMPED"
}

public struct ExitPayload {
    public var cause: ExitCause
    /// Exit status for EXITED; the signal number otherwise.
    public var code: UInt32

    public init(cause: ExitCause, code: UInt32) {
        self.cause = cause
        self.code = code
    }
}

public enum OpenSyscall: UInt32, Sendable {
    case open = 0, openat = 1, openat2 = 2, creat = 3

    public var name: String {
        switch self {
        case .open: return "open"
        case .openat: return "openat"
        case .openat2: return "openat2"
        case .creat: return "creat"
        }
    }
}

public struct OpenPayload {
    /// The opened file (success) or the path the caller asked for, made absolute (failure).
    public var file: FileInfo
    public var flags: UInt32
    public var mode: UInt32
    public var dirfd: Int32
    public var syscall: OpenSyscall
    /// The path argument exactly as passed (`syscall.open.path`).
    public var userPath: String

    public init(file: FileInfo, flags: UInt32, mode: UInt32, dirfd: Int32, syscall: OpenSyscall, userPath: String) {
        self.file = file
        self.flags = flags
        self.mode = mode
        self.dirfd = dirfd
        self.syscall = syscall
        self.userPath = userPath
    }
}

// MARK: - Issue 4 event types (modelled now so the rule engine has their fields)

public struct MountPayload {
    public var mountID: UInt32
    public var parentMountID: UInt32
    public var bindSourceMountID: UInt32
    public var device: UInt32
    public var fsType: String
    public var mountpointPath: String
    public var mountpointPathError: String?
    public var sourcePath: String
    public var sourcePathError: String?
    /// mount(2) flags / syscall that made it (`mount`, `fsmount`, `move_mount`).
    public var syscallName: String
    /// mount(2) MS_* flags or move_mount(2) MOVE_MOUNT_* flags, as passed.
    public var flags: UInt64 = 0
    /// Inode number of the caller's mount namespace (keys the mount resolver's table).
    public var mountNamespace: UInt32 = 0
    /// The source argument as passed (device, bind source, `tmpfs`, ...).
    public var sourceArgument: String = ""

    public init(
        mountID: UInt32 = 0, parentMountID: UInt32 = 0, bindSourceMountID: UInt32 = 0, device: UInt32 = 0,
        fsType: String = "", mountpointPath: String = "", mountpointPathError: String? = nil,
        sourcePath: String = "", sourcePathError: String? = nil, syscallName: String = "mount"
    ) {
        self.mountID = mountID
        self.parentMountID = parentMountID
        self.bindSourceMountID = bindSourceMountID
        self.device = device
        self.fsType = fsType
        self.mountpointPath = mountpointPath
        self.mountpointPathError = mountpointPathError
        self.sourcePath = sourcePath
        self.sourcePathError = sourcePathError
        self.syscallName = syscallName
    }
}

public struct UmountPayload {
    public var mountID: UInt32
    public var mountpointPath: String
    public var flags: UInt32
    /// Inode number of the caller's mount namespace (the mount resolver finds `mountID` in it).
    public var mountNamespace: UInt32 = 0
    /// Set when the mount point path is incomplete (its user argument or base directory).
    public var mountpointPathError: String?

    public init(mountID: UInt32 = 0, mountpointPath: String = "", flags: UInt32 = 0) {
        self.mountID = mountID
        self.mountpointPath = mountpointPath
        self.flags = flags
    }
}

public struct BindPayload {
    /// AF_INET, AF_INET6, AF_UNIX, ... (numeric).
    public var family: UInt16
    /// Textual IP (v4 or v6); empty for AF_UNIX.
    public var ip: String
    public var port: UInt16
    /// Socket path for AF_UNIX (abstract names start with `@`).
    public var unixPath: String
    public var protocol_: UInt16

    public init(family: UInt16, ip: String = "", port: UInt16 = 0, unixPath: String = "", protocol_: UInt16 = 0) {
        self.family = family
        self.ip = ip
        self.port = port
        self.unixPath = unixPath
        self.protocol_ = protocol_
    }
}

public struct PtracePayload {
    public var request: UInt32
    public var address: UInt64
    public var traceePid: UInt32
    /// The tracee's process context, resolved by the process resolver.
    public var tracee: ProcessEntry?

    public init(request: UInt32, address: UInt64, traceePid: UInt32, tracee: ProcessEntry? = nil) {
        self.request = request
        self.address = address
        self.traceePid = traceePid
        self.tracee = tracee
    }
}

public struct MMapPayload {
    public var address: UInt64
    public var offset: UInt64
    public var length: UInt64
    public var protection: UInt32
    public var flags: UInt32
    /// The file behind the mapping, nil for anonymous mappings.
    public var file: FileInfo?

    public init(address: UInt64, offset: UInt64, length: UInt64, protection: UInt32, flags: UInt32, file: FileInfo? = nil) {
        self.address = address
        self.offset = offset
        self.length = length
        self.protection = protection
        self.flags = flags
        self.file = file
    }
}

public struct MProtectPayload {
    public var vmStart: UInt64
    public var vmEnd: UInt64
    /// Protection of the mapping before the call (VM_READ/WRITE/EXEC as PROT_* bits).
    public var vmProtection: UInt32
    public var reqProtection: UInt32

    public init(vmStart: UInt64, vmEnd: UInt64, vmProtection: UInt32, reqProtection: UInt32) {
        self.vmStart = vmStart
        self.vmEnd = vmEnd
        self.vmProtection = vmProtection
        self.reqProtection = reqProtection
    }
}

public struct SignalPayload {
    public var type: UInt32
    /// Target pid as passed (negative for process groups).
    public var pid: Int32
    public var target: ProcessEntry?

    public init(type: UInt32, pid: Int32, target: ProcessEntry? = nil) {
        self.type = type
        self.pid = pid
        self.target = target
    }
}

public struct SplicePayload {
    public var pipeEntryFlag: UInt32
    public var pipeExitFlag: UInt32
    public var file: FileInfo?

    public init(pipeEntryFlag: UInt32, pipeExitFlag: UInt32, file: FileInfo? = nil) {
        self.pipeEntryFlag = pipeEntryFlag
        self.pipeExitFlag = pipeExitFlag
        self.file = file
    }
}

public struct BPFPayload {
    public var cmd: UInt32
    public var mapName: String?
    public var mapType: UInt32?
    public var progName: String?
    public var progType: UInt32?
    public var attachType: UInt32?
    public var progTag: String?
    /// Helper ids the program calls, when found.
    public var helpers: [UInt32]

    public init(
        cmd: UInt32, mapName: String? = nil, mapType: UInt32? = nil, progName: String? = nil,
        progType: UInt32? = nil, attachType: UInt32? = nil, progTag: String? = nil, helpers: [UInt32] = []
    ) {
        self.cmd = cmd
        self.mapName = mapName
        self.mapType = mapType
        self.progName = progName
        self.progType = progType
        self.attachType = attachType
        self.progTag = progTag
        self.helpers = helpers
    }
}

public struct LoadModulePayload {
    public var name: String
    public var loadedFromMemory: Bool
    public var argv: StringList
    public var argsTruncated: Bool
    public var file: FileInfo?

    public init(name: String, loadedFromMemory: Bool, argv: StringList = [], argsTruncated: Bool = false, file: FileInfo? = nil) {
        self.name = name
        self.loadedFromMemory = loadedFromMemory
        self.argv = argv
        self.argsTruncated = argsTruncated
        self.file = file
    }
}

public struct UnloadModulePayload {
    public var name: String

    public init(name: String) {
        self.name = name
    }
}

extension Event {
    /// The file the event is about, written as its `file` object: open's file, the mapped or
    /// spliced file, a module's file, a file change's file; nil for the other types (exec's file is
    /// the process's executable).
    public var ownFile: FileInfo? {
        switch payload {
        case .open(let p): return p.file
        case .mmap(let p): return p.file
        case .splice(let p): return p.file
        case .loadModule(let p): return p.file
        case .fileChange(let p): return p.file
        case .exec, .fork, .exit, .mount, .umount, .bind, .ptrace, .mprotect, .signal, .bpf, .unloadModule, .credentials,
             .connection, .dns, .imds:
            return nil
        }
    }
}
