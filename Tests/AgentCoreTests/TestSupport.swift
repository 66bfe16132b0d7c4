@testable import AgentCore

/// A `ProcessSource` with scripted processes, so tree tests never depend on the machine's /proc.
final class FakeProcessSource: ProcessSource {
    var processes: [UInt32: () -> ProcessEntry] = [:]
    var reads: [UInt32] = []

    func add(pid: UInt32, ppid: UInt32, comm: String, exe: String = "/usr/bin/true") {
        processes[pid] = {
            ProcessEntry(pid: pid, ppid: ppid, comm: comm, executable: FileInfo(path: exe), source: "procfs")
        }
    }

    func listPids() -> [UInt32] { Array(processes.keys) }

    func readProcess(pid: UInt32) -> ProcessEntry? {
        reads.append(pid)
        return processes[pid]?()
    }

    func exists(pid: UInt32) -> Bool { processes[pid] != nil }
}

enum Events {
    static func fork(parent: UInt32, child: UInt32, comm: String = "sh", uid: UInt32 = 0, time: UInt64 = 1_000) -> Event {
        Event(
            type: .fork, bootTimeNs: time, timeNs: time, pid: parent, tid: parent, cgroupID: 0, comm: comm,
            payload: .fork(ForkPayload(childPid: child, childTid: child, parentPid: parent,
                                       credentials: Credentials(uid: uid, euid: uid, fsuid: uid), childStartBootNs: time)))
    }

    static func exec(pid: UInt32, ppid: UInt32, path: String, args: [String] = [], uid: UInt32 = 0,
                     cgroupID: UInt64 = 0, time: UInt64 = 2_000) -> Event {
        Event(
            type: .exec, bootTimeNs: time, timeNs: time, pid: pid, tid: pid, cgroupID: cgroupID,
            comm: FileInfo.baseName(of: path),
            payload: .exec(ExecPayload(
                file: FileInfo(path: path, inode: 42, uid: uid, gid: uid), credentials: Credentials(uid: uid, euid: uid, fsuid: uid),
                ppid: ppid, forkTimeNs: 500, argv0: path, args: StringList(args), envs: ["PATH=/bin"], tty: "pts0")))
    }

    static func exit(pid: UInt32, time: UInt64 = 3_000) -> Event {
        Event(type: .exit, bootTimeNs: time, timeNs: time, pid: pid, tid: pid, comm: "x",
              payload: .exit(ExitPayload(cause: .exited, code: 0)))
    }

    static func open(pid: UInt32, path: String = "/etc/hosts", uid: UInt32 = 0, comm: String = "cat") -> Event {
        Event(type: .open, bootTimeNs: 4_000, timeNs: 4_000, pid: pid, tid: pid, cgroupID: 7, comm: comm,
              payload: .open(OpenPayload(file: FileInfo(path: path, uid: uid, gid: uid), flags: 0, mode: 0, dirfd: -100,
                                         syscall: .openat, userPath: path)))
    }
}
