import AgentCore
import Serializers

/// Deterministic events for golden files and property tests.
enum Fixtures {
    /// 2026-11-24T19:06:38.123456789Z
    static let eventTime: UInt64 = 1_795_547_198_123_456_789
    /// 2026-11-24T19:00:00.000000005Z
    static let earlier: UInt64 = 1_795_546_800_000_000_005

    static let context = AgentContext(version: "0.1.0-test", arch: "x86_64")

    static func rootCredentials() -> Credentials {
        var credentials = Credentials(auid: 1000, capEffective: 0x1_FFFF_FFFF_FF, capPermitted: 0x1_FFFF_FFFF_FF)
        credentials.user = "root"
        credentials.group = "root"
        credentials.euser = "root"
        credentials.egroup = "root"
        credentials.fsuser = "root"
        credentials.fsgroup = "root"
        return credentials
    }

    static func userCredentials() -> Credentials {
        var credentials = Credentials(
            uid: 1000, gid: 1000, euid: 1000, egid: 1000, fsuid: 1000, fsgid: 1000, auid: 1000,
            capEffective: 0, capPermitted: 0)
        credentials.user = "alice"
        credentials.group = "alice"
        return credentials
    }

    static func binary(_ path: String, inode: UInt64 = 1234) -> FileInfo {
        var file = FileInfo(
            path: path, inode: inode, mode: 0o100755, mountID: 27, device: 0x800001, filesystem: "ext4",
            changeTimeNs: earlier, modificationTimeNs: earlier)
        file.user = "root"
        file.group = "root"
        return file
    }

    /// systemd(1) -> sshd(812) -> sshd(4001) -> bash(4010) -> sudo(4100) -> the process.
    static func ancestry(depth: Int = 5) -> ProcessEntry? {
        let chain: [(UInt32, String, String)] = [
            (1, "systemd", "/usr/lib/systemd/systemd"), (812, "sshd", "/usr/sbin/sshd"),
            (4001, "sshd", "/usr/sbin/sshd"), (4010, "bash", "/usr/bin/bash"), (4100, "sudo", "/usr/bin/sudo"),
        ]
        var parent: ProcessEntry?
        for index in 0..<depth {
            let (pid, comm, path) = chain[index % chain.count]
            let entry = ProcessEntry(
                pid: pid + UInt32(index / chain.count) * 10_000, ppid: parent?.pid ?? 0, comm: comm,
                tty: index >= 3 ? "pts0" : "", forkTimeNs: earlier, execTimeNs: earlier,
                executable: binary(path, inode: 100 + UInt64(index)), argv0: comm, args: index == 0 ? [] : ["-D"],
                envs: ["PATH=/usr/bin:/bin"], credentials: index == 3 ? userCredentials() : rootCredentials(),
                cgroupID: 42, parent: parent, source: index < 2 ? "snapshot" : "event")
            parent = entry
        }
        return parent
    }

    static func execProcess() -> ProcessEntry {
        ProcessEntry(
            pid: 4200, ppid: 4100, comm: "curl", tty: "pts0", forkTimeNs: earlier, execTimeNs: eventTime,
            executable: binary("/usr/bin/curl", inode: 5555), argv0: "curl",
            args: ["-s", "https://example.com/install.sh"], envs: ["HOME=/root", "TERM=xterm"],
            credentials: rootCredentials(), cgroupID: 42, containerID: nil,
            cgroupPath: "/user.slice/user-1000.slice/session-3.scope", parent: ancestry(), isExecChild: false)
    }

    static func exec() -> Event {
        let process = execProcess()
        return Event(
            type: .exec, bootTimeNs: 1_000, timeNs: eventTime, pid: 4200, tid: 4200, cgroupID: 42, comm: "curl",
            process: process,
            payload: .exec(ExecPayload(
                file: process.executable!, credentials: process.credentials, ppid: 4100, argv0: "curl",
                args: process.args, envs: process.envs, tty: "pts0")))
    }

    static func fork() -> Event {
        let child = ProcessEntry(
            pid: 4201, ppid: 4200, comm: "curl", tty: "pts0", forkTimeNs: eventTime, execTimeNs: 0,
            executable: binary("/usr/bin/curl", inode: 5555), argv0: "curl", args: ["-s"], envs: [],
            credentials: rootCredentials(), cgroupID: 42, parent: execProcess())
        return Event(
            type: .fork, timeNs: eventTime, pid: 4200, tid: 4200, cgroupID: 42, comm: "curl", process: child,
            payload: .fork(ForkPayload(childPid: 4201, childTid: 4201, parentPid: 4200, credentials: rootCredentials())))
    }

    static func exit(cause: ExitCause, code: UInt32) -> Event {
        let process = execProcess()
        process.exitTimeNs = eventTime
        return Event(
            type: .exit, timeNs: eventTime, pid: 4200, tid: 4200, cgroupID: 42, comm: "curl", process: process,
            payload: .exit(ExitPayload(cause: cause, code: code)))
    }

    static func open(success: Bool) -> Event {
        var file = FileInfo(
            path: success ? "/etc/shadow" : "/etc/nonexistent", inode: success ? 393_221 : 0,
            mode: success ? 0o100640 : 0, mountID: 27, filesystem: "ext4", uid: 0, gid: 42,
            changeTimeNs: success ? earlier : 0, modificationTimeNs: success ? earlier : 0)
        if success {
            file.user = "root"
            file.group = "shadow"
        } else {
            file.pathResolutionError = "ENOENT"
        }
        let flags: UInt32 = success ? 0o2000000 : (0o1 | 0o100 | 0o1000 | 0o2000000)  // O_CLOEXEC / O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC
        return Event(
            type: .open, timeNs: eventTime, pid: 4200, tid: 4203, cgroupID: 42, comm: "curl",
            retval: success ? 3 : -2, process: execProcess(),
            payload: .open(OpenPayload(
                file: file, flags: flags, mode: success ? 0 : 0o644, dirfd: -100, syscall: .openat,
                userPath: success ? "/etc/shadow" : "../etc/nonexistent")))
    }

    static func withPayload(_ type: EventType, _ payload: EventPayload, retval: Int64 = 0) -> Event {
        Event(
            type: type, timeNs: eventTime, pid: 4200, tid: 4200, cgroupID: 42, comm: "curl", retval: retval,
            process: execProcess(), payload: payload)
    }

    static func target(pid: UInt32, comm: String) -> ProcessEntry {
        ProcessEntry(
            pid: pid, ppid: 1, comm: comm, execTimeNs: earlier, executable: binary("/usr/sbin/" + comm),
            argv0: comm, credentials: rootCredentials(), parent: ancestry(depth: 1))
    }

    /// One event per issue-4 type, keyed by golden file name.
    static func issue4Events() -> [(String, Event)] {
        let library = binary("/usr/lib/x86_64-linux-gnu/libc.so.6", inode: 777)
        return [
            ("mount", withPayload(.mount, .mount(MountPayload(
                mountID: 312, parentMountID: 27, bindSourceMountID: 0, device: 0x2d, fsType: "tmpfs",
                mountpointPath: "/mnt/data", sourcePath: "tmpfs", sourcePathError: "source not resolved")))),
            ("umount", withPayload(.umount, .umount(UmountPayload(mountID: 312, mountpointPath: "/mnt/data")))),
            ("bind_inet", withPayload(.bind, .bind(BindPayload(family: 2, ip: "0.0.0.0", port: 4444, protocol_: 6)))),
            ("bind_inet6", withPayload(.bind, .bind(BindPayload(family: 10, ip: "::1", port: 8080)))),
            ("bind_unix", withPayload(.bind, .bind(BindPayload(family: 1, unixPath: "@/tmp/.X11-unix/X0")))),
            ("ptrace", withPayload(.ptrace, .ptrace(PtracePayload(
                request: 16, address: 0x7ffd_1234_5678, traceePid: 812, tracee: target(pid: 812, comm: "sshd"))))),
            ("ptrace_unresolved", withPayload(.ptrace, .ptrace(PtracePayload(request: 0x4206, address: 0, traceePid: 99)))),
            ("mmap", withPayload(.mmap, .mmap(MMapPayload(
                address: 0x7f3a_0000_0000, offset: 4096, length: 8192, protection: 0x5, flags: 0x2 | 0x800,
                file: library)))),
            ("mmap_anonymous", withPayload(.mmap, .mmap(MMapPayload(
                address: 0, offset: 0, length: 4096, protection: 0x7, flags: 0x2 | 0x20)))),
            ("mprotect", withPayload(.mprotect, .mprotect(MProtectPayload(
                vmStart: 0x5600_0000_0000, vmEnd: 0x5600_0000_2000, vmProtection: 0x3, reqProtection: 0x5)))),
            ("signal", withPayload(.signal, .signal(SignalPayload(type: 10, pid: 812, target: target(pid: 812, comm: "sshd"))))),
            ("signal_group", withPayload(.signal, .signal(SignalPayload(type: 9, pid: -4000)), retval: -3)),
            ("splice", withPayload(.splice, .splice(SplicePayload(
                pipeEntryFlag: 0x10, pipeExitFlag: 0x10 | 0x20, file: binary("/etc/passwd", inode: 9))))),
            ("bpf_map", withPayload(.bpf, .bpf(BPFPayload(cmd: 0, mapName: "events", mapType: 2)))),
            ("bpf_prog", withPayload(.bpf, .bpf(BPFPayload(
                cmd: 5, progName: "filter", progType: 1, attachType: 0, progTag: "a04f5eef06a7f555",
                helpers: [1, 2, 14, 999])), retval: -1)),
            ("load_module", withPayload(.loadModule, .loadModule(LoadModulePayload(
                name: "rootkit", loadedFromMemory: false, argv: ["debug=1"], argsTruncated: false,
                file: binary("/tmp/rootkit.ko", inode: 31337))))),
            ("load_module_memory", withPayload(.loadModule, .loadModule(LoadModulePayload(
                name: "evil", loadedFromMemory: true)))),
            ("unload_module", withPayload(.unloadModule, .unloadModule(UnloadModulePayload(name: "rootkit")))),
        ]
    }
}
