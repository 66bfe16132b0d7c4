#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Where the process tree reads processes it has no event for (start-up snapshot, lazy lookups).
public protocol ProcessSource: AnyObject {
    /// Pids of the processes (thread group leaders) that exist now.
    func listPids() -> [UInt32]
    /// A fresh entry for a pid (or for the thread group of a thread id), nil when it is gone.
    /// `parent` is left nil; the tree links it.
    func readProcess(pid: UInt32) -> ProcessEntry?
    /// Whether the pid still exists.
    func exists(pid: UInt32) -> Bool
}

/// `ProcessSource` over procfs. Every read may race with the process exiting: a file that cannot be
/// read leaves its fields at their defaults, and only a missing `stat` makes the process "gone".
public final class ProcFSReader: ProcessSource {
    public let procRoot: String
    private let clock: BootClock

    /// Same bounds as the BPF side (CSM_MAX_ARGS_LEN / CSM_MAX_ENVS_LEN in bpf/include/events.h).
    public static let maxArgsBytes = 4096
    public static let maxEnvsBytes = 4096
    /// PF_KTHREAD in /proc/<pid>/stat flags.
    static let kernelThreadFlag: UInt64 = 0x0020_0000

    public init(procRoot: String = "/proc", clock: BootClock) {
        self.procRoot = procRoot
        self.clock = clock
    }

    public func listPids() -> [UInt32] {
        guard let dir = opendir(procRoot) else { return [] }
        defer { closedir(dir) }
        var pids: [UInt32] = []
        while let entry = readdir(dir) {
            // readdir on /proc lists thread group leaders only, so threads are skipped for free.
            let pid = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { UInt32(String(cString: $0)) }
            }
            if let pid, pid > 0 { pids.append(pid) }
        }
        return pids
    }

    public func exists(pid: UInt32) -> Bool {
        SysFS.exists("\(procRoot)/\(pid)")
    }

    public func readProcess(pid: UInt32) -> ProcessEntry? {
        readProcess(pid: pid, followTgid: true)
    }

    private func readProcess(pid: UInt32, followTgid: Bool) -> ProcessEntry? {
        let base = "\(procRoot)/\(pid)"
        guard let statBytes = SysFS.readFile(base + "/stat", limit: 4096)?.bytes,
              let stat = ProcStat(statBytes)
        else { return nil }

        let status = SysFS.readFile(base + "/status", limit: 16384).map { ProcStatus($0.bytes) }
        if followTgid, let tgid = status?.tgid, tgid != 0, tgid != pid {
            // A thread id (ptrace and signals may target threads): describe its process.
            return readProcess(pid: tgid, followTgid: false)
        }

        let entry = ProcessEntry(pid: pid, ppid: stat.ppid, comm: stat.comm, source: "procfs")
        entry.tty = TTYNames.name(ttyNr: stat.ttyNr)
        entry.forkTimeNs = clock.wallNs(fromBootNs: BootClock.bootNs(fromStartTicks: stat.startTicks))
        entry.isKworker = stat.flags & Self.kernelThreadFlag != 0 || pid == 2 || stat.ppid == 2

        if let status {
            var credentials = Credentials(
                uid: status.uids.0, gid: status.gids.0, euid: status.uids.1, egid: status.gids.1,
                fsuid: status.uids.3, fsgid: status.gids.3, capEffective: status.capEffective,
                capPermitted: status.capPermitted)
            if let loginuid = SysFS.readFile(base + "/loginuid", limit: 32)?.bytes,
               let auid = UInt32(String(decoding: loginuid, as: UTF8.self).filter { $0 != "\n" }) {
                credentials.auid = auid
            }
            entry.credentials = credentials
        }

        if !entry.isKworker {
            if let (bytes, truncated) = SysFS.readFile(base + "/cmdline", limit: Self.maxArgsBytes) {
                var strings = StringList(nulSeparated: bytes)
                if !strings.isEmpty { entry.argv0 = strings.removeFirst() }
                entry.args = strings
                entry.argsTruncated = truncated
            }
            if let (bytes, truncated) = SysFS.readFile(base + "/environ", limit: Self.maxEnvsBytes) {
                entry.envs = StringList(nulSeparated: bytes)
                entry.envsTruncated = truncated
            }
            entry.executable = Self.executable(base + "/exe")
        }

        if let (bytes, _) = SysFS.readFile(base + "/cgroup", limit: 16384) {
            entry.cgroupPath = Self.unifiedCgroupPath(bytes)
        }
        return entry
    }

    /// The executable behind a `/proc/<pid>/exe` link, nil when it cannot be read (kernel thread,
    /// zombie, gone).
    static func executable(_ exeLink: String) -> FileInfo? {
        let memfdPrefix = "/memfd:"
        guard var path = SysFS.readLink(exeLink) else { return nil }
        let deletedSuffix = " (deleted)"
        var error: String?
        if path.hasSuffix(deletedSuffix) {
            path.removeLast(deletedSuffix.count)
            error = "deleted"
        }
        var file: FileInfo
        if error != nil, path.hasPrefix(memfdPrefix) {
            // A memfd (`/memfd:NAME (deleted)`) is in no directory tree: no path, its name alone, as
            // the kernel side reports a memfd executed live.
            file = FileInfo(path: "", name: String(path.dropFirst()))
        } else {
            file = FileInfo(path: path, pathResolutionError: error)
        }
        // statx through the magic link reaches the mapped file itself, even when deleted or in another
        // mount namespace.
        if let stat = SysFS.fileStat(exeLink) {
            file.inode = stat.inode
            file.mode = stat.mode
            file.uid = stat.uid
            file.gid = stat.gid
            file.device = stat.kernelDevice
            file.mountID = UInt32(truncatingIfNeeded: stat.mountID)
            file.changeTimeNs = stat.ctimeNs
            file.modificationTimeNs = stat.mtimeNs
            file.filesystem = SysFS.filesystemName(exeLink)
        }
        return file
    }

    /// The cgroup v2 line (`0::/path`) of /proc/<pid>/cgroup.
    static func unifiedCgroupPath(_ bytes: [UInt8]) -> String? {
        for line in bytes.split(separator: UInt8(ascii: "\n")) where line.starts(with: [0x30, 0x3A, 0x3A]) {
            var path = String(kernelBytes: line.dropFirst(3))
            // A cgroup removed while the process is a zombie reads `/path (deleted)`.
            if path.hasSuffix(" (deleted)") { path.removeLast(10) }
            return path.isEmpty ? nil : path
        }
        return nil
    }
}

/// The fields of /proc/<pid>/stat the resolvers use.
struct ProcStat {
    var comm: String
    var ppid: UInt32
    var ttyNr: Int64
    var flags: UInt64
    var startTicks: UInt64

    /// `pid (comm) state ppid pgrp session tty_nr tpgid flags ... starttime(22) ...`. comm may hold
    /// spaces and parentheses, so it ends at the last `)`.
    init?(_ bytes: [UInt8]) {
        guard let open = bytes.firstIndex(of: UInt8(ascii: "(")),
              let close = bytes.lastIndex(of: UInt8(ascii: ")")), open < close
        else { return nil }
        comm = String(kernelBytes: bytes[(open + 1)..<close])
        let fields = bytes[(close + 1)...].split(separator: UInt8(ascii: " "))
        // fields[0] is state (field 3), so field N is fields[N - 3].
        guard fields.count >= 20 else { return nil }
        func number<T: FixedWidthInteger>(_ index: Int, _: T.Type) -> T? {
            T(String(decoding: fields[index], as: UTF8.self))
        }
        ppid = number(1, UInt32.self) ?? 0
        ttyNr = number(4, Int64.self) ?? 0
        flags = number(6, UInt64.self) ?? 0
        startTicks = number(19, UInt64.self) ?? 0
    }
}

/// The fields of /proc/<pid>/status the resolvers use.
struct ProcStatus {
    var tgid: UInt32 = 0
    /// real, effective, saved, filesystem
    var uids: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    var gids: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    var capEffective: UInt64 = 0
    var capPermitted: UInt64 = 0

    init(_ bytes: [UInt8]) {
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let key = line[line.startIndex..<colon]
            let values = line[(colon + 1)...].split(whereSeparator: { $0 == 0x20 || $0 == 0x09 })
            func text(_ index: Int) -> String? {
                index < values.count ? String(decoding: values[index], as: UTF8.self) : nil
            }
            func ids() -> (UInt32, UInt32, UInt32, UInt32) {
                let parsed = (0..<4).map { text($0).flatMap { UInt32($0) } ?? 0 }
                return (parsed[0], parsed[1], parsed[2], parsed[3])
            }
            switch String(decoding: key, as: UTF8.self) {
            case "Tgid": tgid = text(0).flatMap { UInt32($0) } ?? 0
            case "Uid": uids = ids()
            case "Gid": gids = ids()
            case "CapEff": capEffective = text(0).flatMap { UInt64($0, radix: 16) } ?? 0
            case "CapPrm": capPermitted = text(0).flatMap { UInt64($0, radix: 16) } ?? 0
            default: break
            }
        }
    }
}
