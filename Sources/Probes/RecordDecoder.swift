import AgentCore
import CLibBPF

/// Why a ring-buffer record could not be decoded. Counted by the caller, never fatal.
public enum DecodeError: Error, Equatable {
    /// Fewer bytes than the record's fixed part, or than its header says.
    case truncated(type: UInt32, size: Int)
    /// A type number this agent does not know, or one it models but defines no record for.
    case unknownType(UInt32)
    /// Variable-length parts that do not fit the record.
    case inconsistentLengths(type: UInt32)
}

/// Decodes ring-buffer records (layouts from bpf/include/events.h) into `Event`s.
///
/// Every length read from a record is checked against the record's size before use, so a corrupt
/// or hostile record yields a `DecodeError`, never an out-of-bounds read.
public struct RecordDecoder {
    private let clock: BootClock

    public init(clock: BootClock) {
        self.clock = clock
    }

    public func decode(_ bytes: UnsafeRawBufferPointer) throws -> Event {
        let headerSize = MemoryLayout<csm_event_header>.size
        guard bytes.count >= headerSize else { throw DecodeError.truncated(type: 0, size: bytes.count) }
        let header = bytes.loadUnaligned(as: csm_event_header.self)
        guard Int(header.size) <= bytes.count, Int(header.size) >= headerSize else {
            throw DecodeError.truncated(type: header.type, size: bytes.count)
        }
        let record = UnsafeRawBufferPointer(rebasing: bytes[0..<Int(header.size)])
        guard let type = EventType(rawValue: header.type) else { throw DecodeError.unknownType(header.type) }

        var event: Event
        switch type {
        case .exec: event = try decodeExec(record)
        case .fork: event = try decodeFork(record)
        case .exit: event = try decodeExit(record)
        case .open: event = try decodeOpen(record)
        case .mount: event = try decodeMount(record)
        case .umount: event = try decodeUmount(record)
        case .bind: event = try decodeBind(record)
        case .loadModule: event = try decodeLoadModule(record)
        case .unloadModule: event = try decodeUnloadModule(record)
        case .ptrace: event = try decodePtrace(record)
        case .signal: event = try decodeSignal(record)
        case .mmap: event = try decodeMMap(record)
        case .mprotect: event = try decodeMProtect(record)
        case .splice: event = try decodeSplice(record)
        case .bpf: event = try decodeBPF(record)
        case .chmod, .chown, .link, .rename, .unlink, .utimes, .mkdir, .rmdir, .setxattr, .removexattr, .chdir, .setuid,
             .setgid, .capset, .connect, .accept, .dns, .imds:
            // Modelled for rules only: no probe writes these, and events.h defines no record.
            throw DecodeError.unknownType(header.type)
        }
        event.bootTimeNs = header.timestamp_ns
        event.timeNs = clock.wallNs(fromBootNs: header.timestamp_ns)
        event.pid = header.pid
        event.tid = header.tid
        event.cgroupID = header.cgroup_id
        event.comm = Self.string(fromCharArray: header.comm)
        return event
    }

    // MARK: - Per type

    private func decodeExec(_ record: UnsafeRawBufferPointer) throws -> Event {
        let fixed = try load(csm_exec_event.self, from: record)
        var cursor = MemoryLayout<csm_exec_event>.size
        let path = try take(Int(fixed.file.path_len), from: record, at: &cursor, type: fixed.hdr.type)
        let args = try take(Int(fixed.args_len), from: record, at: &cursor, type: fixed.hdr.type)
        let envs = try take(Int(fixed.envs_len), from: record, at: &cursor, type: fixed.hdr.type)

        // argv/envp blocks: strings each ended by NUL; a truncated block may end without one.
        var argv = StringList(nulSeparated: args)
        let argv0 = argv.isEmpty ? "" : argv.removeFirst()
        let payload = ExecPayload(
            file: Self.file(fixed.file, path: path),
            credentials: Self.credentials(fixed.creds),
            ppid: fixed.ppid,
            forkTimeNs: fixed.fork_time_ns,
            argv0: argv0,
            args: argv,
            argsTruncated: fixed.flags & UInt32(CSM_EXEC_ARGS_TRUNCATED.rawValue) != 0,
            envs: StringList(nulSeparated: envs),
            envsTruncated: fixed.flags & UInt32(CSM_EXEC_ENVS_TRUNCATED.rawValue) != 0,
            tty: Self.string(fromCharArray: fixed.tty)
        )
        return Event(type: .exec, payload: .exec(payload))
    }

    private func decodeFork(_ record: UnsafeRawBufferPointer) throws -> Event {
        let fixed = try load(csm_fork_event.self, from: record)
        let payload = ForkPayload(
            childPid: fixed.child_pid, childTid: fixed.child_tid, parentPid: fixed.hdr.pid,
            credentials: Self.credentials(fixed.creds), childStartBootNs: fixed.child_start_ns
        )
        return Event(type: .fork, payload: .fork(payload))
    }

    private func decodeExit(_ record: UnsafeRawBufferPointer) throws -> Event {
        let fixed = try load(csm_exit_event.self, from: record)
        let cause: ExitCause
        switch fixed.cause {
        case UInt32(CSM_EXIT_SIGNALED.rawValue): cause = .signaled
        case UInt32(CSM_EXIT_COREDUMPED.rawValue): cause = .coredumped
        default: cause = .exited
        }
        return Event(type: .exit, payload: .exit(ExitPayload(cause: cause, code: fixed.code)))
    }

    private func decodeOpen(_ record: UnsafeRawBufferPointer) throws -> Event {
        let fixed = try load(csm_open_event.self, from: record)
        var cursor = MemoryLayout<csm_open_event>.size
        let kernelPath = try take(Int(fixed.file.path_len), from: record, at: &cursor, type: fixed.hdr.type)
        let userPathBytes = try take(Int(fixed.user_path_len), from: record, at: &cursor, type: fixed.hdr.type)
        let userPath = String(kernelBytes: userPathBytes)

        var file: FileInfo
        if fixed.retval >= 0 {
            file = Self.file(fixed.file, path: kernelPath)
        } else {
            // The file was not opened: its path is what the caller asked for, made absolute against
            // the directory the kernel side resolved (cwd or dirfd). No inode to describe.
            let base = String(kernelBytes: kernelPath)
            let joined = userPath.hasPrefix("/") ? userPath : (base.isEmpty ? userPath : base + "/" + userPath)
            file = FileInfo(path: PathNormalizer.normalize(joined), mountID: fixed.file.mount_id)
            // The base directory's own facts (deleted, pseudo) say nothing of the file asked for.
            file.pathResolutionError = Self.pathError(fixed.file.path_error & ~Self.fileFactBits)
        }
        let payload = OpenPayload(
            file: file, flags: fixed.flags, mode: fixed.mode, dirfd: fixed.dirfd,
            syscall: OpenSyscall(rawValue: fixed.syscall) ?? .openat, userPath: userPath
        )
        return Event(type: .open, retval: fixed.retval, payload: .open(payload))
    }

    // MARK: - Helpers (shared with the per-hook decoders in Decoders/)

    func load<T>(_: T.Type, from record: UnsafeRawBufferPointer) throws -> T {
        guard record.count >= MemoryLayout<T>.size else {
            throw DecodeError.truncated(type: record.loadUnaligned(fromByteOffset: 0, as: UInt32.self), size: record.count)
        }
        return record.loadUnaligned(as: T.self)
    }

    /// The next `length` bytes after `cursor`, checked against the record's end.
    func take(
        _ length: Int, from record: UnsafeRawBufferPointer, at cursor: inout Int, type: UInt32
    ) throws -> UnsafeRawBufferPointer {
        guard length >= 0, cursor + length <= record.count else { throw DecodeError.inconsistentLengths(type: type) }
        defer { cursor += length }
        return UnsafeRawBufferPointer(rebasing: record[cursor..<cursor + length])
    }

    static func file(_ raw: csm_file, path: UnsafeRawBufferPointer) -> FileInfo {
        // A file in no directory tree (memfd, pipe, socket) has a name ("memfd:NAME") but no path:
        // Datadog's model gives it an empty path and that name.
        let pseudo = raw.path_error & UInt32(CSM_PATH_ERR_PSEUDO.rawValue) != 0
        let text = String(kernelBytes: path)
        var info = FileInfo(
            path: pseudo ? "" : text, name: pseudo ? text : nil,
            inode: raw.inode, mode: raw.mode, mountID: raw.mount_id,
            device: raw.dev, filesystem: string(fromCharArray: raw.fstype), uid: raw.uid, gid: raw.gid,
            changeTimeNs: raw.ctime_ns, modificationTimeNs: raw.mtime_ns
        )
        info.pathResolutionError = pathError(raw.path_error)
        return info
    }

    static func credentials(_ raw: csm_credentials) -> Credentials {
        Credentials(
            uid: raw.uid, gid: raw.gid, euid: raw.euid, egid: raw.egid, fsuid: raw.fsuid, fsgid: raw.fsgid,
            auid: raw.auid, capEffective: raw.cap_effective, capPermitted: raw.cap_permitted
        )
    }

    /// The CSM_PATH_ERR_* bits that describe the file rather than a failed walk.
    static let fileFactBits = UInt32(CSM_PATH_ERR_PSEUDO.rawValue | CSM_PATH_ERR_DELETED.rawValue)

    /// `path_resolution_error` text for the kernel's CSM_PATH_ERR_* bits; nil when the path is whole.
    /// A pseudo file (no path at all) is not an error; a deleted one reads `deleted`, as the /proc
    /// snapshot writes a `(deleted)` executable.
    static func pathError(_ bits: UInt32) -> String? {
        let bits = bits & ~UInt32(CSM_PATH_ERR_PSEUDO.rawValue)
        if bits == 0 { return nil }
        var reasons: [String] = []
        if bits & UInt32(CSM_PATH_ERR_TOO_DEEP.rawValue) != 0 {
            reasons.append("path deeper than \(CSM_MAX_PATH_DEPTH) components: only its last components are shown")
        }
        if bits & UInt32(CSM_PATH_ERR_TOO_LONG.rawValue) != 0 {
            reasons.append("path longer than \(CSM_PATH_MAX) bytes: only its end is shown")
        }
        if bits & UInt32(CSM_PATH_ERR_READ.rawValue) != 0 { reasons.append("kernel read failed during path walk") }
        if bits & UInt32(CSM_PATH_ERR_NO_FILE.rawValue) != 0 { reasons.append("no file to resolve") }
        if bits & UInt32(CSM_PATH_ERR_USER_READ.rawValue) != 0 { reasons.append("path argument unreadable") }
        if bits & UInt32(CSM_PATH_ERR_DELETED.rawValue) != 0 { reasons.append("deleted") }
        return reasons.joined(separator: "; ")
    }

    /// A NUL-terminated C char array (imported as a tuple) as a String.
    static func string<T>(fromCharArray array: T) -> String {
        withUnsafeBytes(of: array) { raw in
            let end = raw.firstIndex(of: 0) ?? raw.count
            return String(kernelBytes: UnsafeRawBufferPointer(rebasing: raw[0..<end]))
        }
    }
}
