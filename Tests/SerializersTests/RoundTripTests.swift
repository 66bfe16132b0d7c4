import Foundation
import SchemaValidation
import Serializers
import XCTest
@testable import AgentCore

/// Offline evaluation (`policy evaluate`) reads events back from the agent's JSON. For rules to match
/// offline as they matched live, every field of the rule engine must read the same on an event and
/// on its line read back. This test serializes richly filled events of every type, reads them back,
/// and compares every field of `FieldRegistry.listing` that applies to the event's type, through
/// the accessors the compiled rules use.
///
/// A field the JSON cannot carry must be listed in `RoundTripTests.exclusions` (and in the README's
/// "What offline evaluation cannot see"); a field that is neither round-tripped nor listed fails.
/// So does a field that no fixture sets to a value other than its default (its round trip would
/// prove nothing), unless it is one of `RoundTripTests.constants`.
final class RoundTripTests: XCTestCase {
    /// One thing the agent's JSON has no place for: the fields (`*` matches any text) and the
    /// events on which they are lost. Keep in step with the README table.
    struct Exclusion {
        let fields: [String]
        let lostOn: (Event) -> Bool
        let reason: String
    }

    static let exclusions: [Exclusion] = [
        // Only `evt.outcome` is written (Success, Refused, Error): it reads back as 0, -13 (EACCES)
        // and -22 (EINVAL).
        Exclusion(fields: ["*.retval"], lostOn: { _ in true }, reason: "only evt.outcome is written"),
        // Environment variables are written for the acting process of exec events only: on every
        // line and every ancestor they were most of each line's bytes. `EventReplay` keeps them
        // from the exec line for later events of that process and its forked children.
        Exclusion(fields: ["process.envs", "process.envp", "process.envs_truncated", "exit.envs", "exit.envp", "exit.envs_truncated",
                           "evt.service", "event.service"],
                  lostOn: { $0.type != .exec }, reason: "environment written on exec events only"),
        Exclusion(fields: ["process.parent.env*", "process.ancestors.env*", "ptrace.tracee.env*", "signal.target.env*"],
                  lostOn: { _ in true }, reason: "environment written for the acting process only"),
        // The cgroup is written once per line, for the acting process (top-level `cgroup.id`).
        Exclusion(fields: ["process.parent.cgroup.*", "process.ancestors.cgroup.*", "ptrace.tracee.cgroup.*", "signal.target.cgroup.*"],
                  lostOn: { _ in true }, reason: "cgroup written for the acting process only"),
        // `cgroup.id` holds the path when it is known, the kernel's cgroup id otherwise: not both.
        Exclusion(fields: ["cgroup.file.inode", "process.cgroup.file.inode", "exec.cgroup.file.inode", "exit.cgroup.file.inode"],
                  lostOn: { $0.process?.cgroupPath != nil }, reason: "the cgroup id when the path is known"),
        // No place in the backend schema.
        Exclusion(fields: ["umount.flags"], lostOn: { _ in true }, reason: "no place in the schema"),
        Exclusion(fields: ["mount.syscall"], lostOn: { _ in true }, reason: "no place in the schema"),
        Exclusion(fields: ["bind.protocol"], lostOn: { _ in true }, reason: "no place in the schema"),
        Exclusion(fields: ["connect.addr.hostname", "accept.addr.hostname"], lostOn: { _ in true }, reason: "no place in the schema"),
        // The schema's `security_credentials` requires values the model does not have (code, access key
        // id, update and expiration times): the object is not written.
        Exclusion(fields: ["imds.aws.security_credentials.type"], lostOn: { _ in true }, reason: "its schema object requires values the model lacks"),
        Exclusion(fields: ["mkdir.syscall.path", "rmdir.syscall.path", "setxattr.syscall.path", "removexattr.syscall.path"],
                  lostOn: { _ in true }, reason: "the schema's syscall context has no key for these types"),
    ]

    /// Fields the agent does not track: the same constant on every event, so no fixture can set them.
    static let constants: Set<String> = [
        "evt.async", "event.async", "container.created_at", "container.tags", "container.runtime",
        "process.user_session.k8s_username", "process.user_session.id", "process.parent.user_session.k8s_username",
        "process.parent.user_session.id", "process.ancestors.user_session.k8s_username", "process.ancestors.user_session.id",
        "exec.user_session.k8s_username", "exec.user_session.id", "exit.user_session.k8s_username", "exit.user_session.id",
        "ptrace.tracee.user_session.k8s_username", "ptrace.tracee.user_session.id", "signal.target.user_session.k8s_username",
        "signal.target.user_session.id",
    ]

    private static let exclusionGlobs: [(Glob, Exclusion)] = exclusions.flatMap { e in e.fields.map { (Glob($0, isPath: false), e) } }

    static func excluded(_ field: String, on event: Event) -> Bool {
        exclusionGlobs.contains { $0.0.matches(field) && $0.1.lostOn(event) }
    }

    /// What a field reads: every value, per ancestor for the ancestor iterators.
    enum Value: Equatable, CustomStringConvertible {
        case strings([String])
        case ints([Int64])
        case bool(Bool)
        case perAncestor([Value])

        var isDefault: Bool {
            switch self {
            case .strings(let s): return s.allSatisfy(\.isEmpty)
            case .ints(let i): return i.allSatisfy { $0 == 0 }
            case .bool(let b): return !b
            case .perAncestor(let values): return values.allSatisfy(\.isDefault)
            }
        }

        var description: String {
            switch self {
            case .strings(let s): return s.description
            case .ints(let i): return i.description
            case .bool(let b): return b.description
            case .perAncestor(let values): return values.description
            }
        }
    }

    static func read(_ spec: FieldSpec, _ ctx: EvalContext) -> Value {
        func once() -> Value {
            switch spec.accessor {
            case .string(let read):
                var values: [String] = []
                _ = read(ctx) { values.append(String(decoding: $0, as: UTF8.self)); return false }
                return .strings(values)
            case .int(let read):
                var values: [Int64] = []
                _ = read(ctx) { values.append($0); return false }
                return .ints(values)
            case .bool(let read):
                return .bool(read(ctx))
            }
        }
        guard spec.iteratesAncestors else { return once() }
        var values: [Value] = []
        _ = ExpressionCompiler.anyAncestor(ctx) {
            values.append(once())
            return false
        }
        return .perAncestor(values)
    }

    func testEveryFieldRoundTrips() throws {
        let events = RichEvents.all()
        XCTAssertEqual(Set(events.map(\.1.type)), Set(EventType.allCases), "every event type has a fixture")
        // What the JSON can carry: scrubbing (on by default) hides values on purpose, so it is off
        // here (ScrubbingTests read scrubbed lines back).
        let serializer = try EventSerializer(scrubbing: .off)
        var output: [UInt8] = []
        var exercised = Set<String>()
        var compared = Set<String>()
        var checked = 0
        let fields = FieldRegistry.listing.fields.values.sorted { $0.name < $1.name }
        for (name, event) in events {
            let line = serializer.line(event, context: Fixtures.context)
            output += Array(line.utf8)
            let read = try EventJSONReader.event(fromLine: line)
            XCTAssertEqual(read.type, event.type, name)
            let original = EvalContext(event: event)
            let roundTripped = EvalContext(event: read)
            for spec in fields where spec.eventType == nil || spec.eventType == event.type {
                if Self.excluded(spec.name, on: event) { continue }
                let before = Self.read(spec, original)
                if !before.isDefault { exercised.insert(spec.name) }
                compared.insert(spec.name)
                let after = Self.read(spec, roundTripped)
                XCTAssertEqual(before, after, "\(spec.name) on \(name): the JSON round trip changes it (fix the reader, or list it in RoundTripTests.exclusions and the README)")
                checked += 1
            }
            compareModel(event, read, name)
        }
        SchemaValidation.assertValid(output)
        XCTAssertGreaterThan(checked, 3_000)
        for spec in fields where compared.contains(spec.name) && !exercised.contains(spec.name) && !Self.constants.contains(spec.name) {
            XCTFail("\(spec.name): no fixture of RichEvents sets it to a value other than its default, so its round trip proves nothing")
        }
        // Every exclusion still names a field.
        for exclusion in Self.exclusions {
            for pattern in exclusion.fields {
                let glob = Glob(pattern, isPath: false)
                XCTAssertTrue(fields.contains { glob.matches($0.name) }, "exclusion \(pattern) names no field")
            }
        }
    }

    /// Rules whose matches depend on a value the JSON cannot carry (see `exclusions`), with why.
    static let knownDifferences: [String: String] = [
        // exec.cgroup.id != process.parent.cgroup.id: a parent's cgroup is not written (the schema's
        // process objects have no cgroup). Silent in Datadog's policy: it only sets variables.
        "execution_context_cgroup": "process.parent.cgroup.id",
    ]

    /// Datadog's default policy and the agent's own find the same rules on every fixture directly
    /// and read back from its line, alone (`policy evaluate`) and replayed in order (`EventReplay`).
    func testPoliciesMatchTheSameAfterTheRoundTrip() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let beside = repository.deletingLastPathComponent().appendingPathComponent("shared/corpus/datadog-default.policy").path
        let corpus = FileManager.default.fileExists(atPath: beside) ? beside : "/work/shared/corpus/datadog-default.policy"
        let own = repository.appendingPathComponent("policy/default.policy").path
        let events = RichEvents.all() + GoldenEvents.all()
        let serializer = EventSerializer()
        for path in [corpus, own] {
            let set = PolicyLoader().load(paths: [path]).ruleSet
            XCTAssertGreaterThan(set.rules.count, 0, path)
            let replay = EventReplay()
            var matched = 0
            for (name, event) in events {
                let line = serializer.line(event, context: Fixtures.context)
                let known = Self.knownDifferences
                let direct = set.matches(event).filter { !known.keys.contains($0) }
                XCTAssertEqual(set.matches(try EventJSONReader.event(fromLine: line)).filter { !known.keys.contains($0) }, direct, "\(name), \(path)")
                XCTAssertEqual(set.matches(try replay.event(fromLine: line)).filter { !known.keys.contains($0) }, direct, "\(name) replayed, \(path)")
                matched += direct.count
            }
            if path == corpus { XCTAssertGreaterThan(matched, 10) }
        }
    }

    /// Values the serializer writes that no field reads (the executable's mount, a process's origin)
    /// read back too.
    private func compareModel(_ a: Event, _ b: Event, _ name: String) {
        XCTAssertEqual(a.timeNs, b.timeNs, name)
        XCTAssertEqual(a.outcome, b.outcome, name)
        var x = a.process
        var y = b.process
        while let p = x {
            guard let q = y else { return XCTFail("\(name): process \(p.pid) lost") }
            XCTAssertEqual(p.source, q.source, "\(name): source of \(p.pid)")
            XCTAssertEqual(p.credentials, q.credentials, "\(name): credentials of \(p.pid)")
            XCTAssertEqual(p.executable.map(withoutDevice), q.executable, "\(name): executable of \(p.pid)")
            x = p.parent
            y = q.parent
        }
        XCTAssertNil(y, "\(name): an ancestor too many")
        switch (a.payload, b.payload) {
        case (.open(let p), .open(let q)): XCTAssertEqual(withoutDevice(p.file), q.file, name)
        case (.mmap(let p), .mmap(let q)):
            XCTAssertEqual(p.file.map(withoutDevice), q.file, name)
            XCTAssertEqual(p.address, q.address, name)
        case (.splice(let p), .splice(let q)): XCTAssertEqual(p.file.map(withoutDevice), q.file, name)
        case (.loadModule(let p), .loadModule(let q)): XCTAssertEqual(p.file.map(withoutDevice), q.file, name)
        case (.fileChange(let p), .fileChange(let q)):
            XCTAssertEqual(withoutDevice(p.file), q.file, name)
            XCTAssertEqual(p.destination.map(withoutDevice), q.destination, name)
        case (.ptrace(let p), .ptrace(let q)): XCTAssertEqual(p.traceePid, q.traceePid, name)
        case (.fork(let p), .fork(let q)):
            XCTAssertEqual(p.childPid, q.childPid, name)
            XCTAssertEqual(p.credentials.uid, q.credentials.uid, name)
        default: break
        }
    }

    /// The device number of a file is not written (the schema's `device` is the mount's).
    private func withoutDevice(_ file: FileInfo) -> FileInfo {
        var f = file
        f.device = 0
        return f
    }
}

/// Events of every type with every value the model has set to something other than its default.
enum RichEvents {
    static let t0: UInt64 = 1_795_546_800_000_000_005
    static let t1: UInt64 = 1_795_547_100_250_000_000
    static let now: UInt64 = 1_795_547_198_123_456_789

    static func file(_ path: String, inode: UInt64, error: String? = "path truncated") -> FileInfo {
        var file = FileInfo(
            path: path, pathResolutionError: error, inode: inode, mode: 0o104755, mountID: 31, device: 0x800002, filesystem: "overlay",
            uid: 1001, gid: 1002, user: "svc", group: "svcgrp", changeTimeNs: t0, modificationTimeNs: t0 + 17, inUpperLayer: true)
        file.mountPath = "/var/lib/docker/overlay2/abc/merged"
        file.mountSource = "overlay"
        return file
    }

    static func credentials(_ base: UInt32) -> Credentials {
        var c = Credentials(
            uid: base, gid: base + 1, euid: base + 2, egid: base + 3, fsuid: base + 4, fsgid: base + 5, auid: base + 6,
            capEffective: 1 << 21 | 1 << 39 | 1 << 50, capPermitted: 0x1_FFFF_FFFF_FF)
        c.user = "u\(base)"
        c.group = "g\(base)"
        c.euser = "eu\(base)"
        c.egroup = "eg\(base)"
        c.fsuser = "fu\(base)"
        c.fsgroup = "fg\(base)"
        return c
    }

    /// systemd(1) -> containerd-shim(900) -> sh(950) -> the process; every value set.
    static func lineage() -> ProcessEntry {
        let systemd = ProcessEntry(
            pid: 1, comm: "systemd", forkTimeNs: t0 - 1_000, execTimeNs: t0 - 900, executable: file("/usr/lib/systemd/systemd", inode: 11),
            argv0: "/sbin/init", args: ["splash"], credentials: credentials(0), cgroupID: 5, cgroupPath: "/init.scope", source: "snapshot")
        let shim = ProcessEntry(
            pid: 900, ppid: 1, comm: "containerd-shim", tty: "", forkTimeNs: t0 - 500, execTimeNs: t0 - 400,
            executable: file("/usr/bin/containerd-shim-runc-v2", inode: 12), argv0: "containerd-shim-runc-v2",
            args: ["-namespace", "moby", "-id", "abc", "--address=/run/containerd.sock"], argsTruncated: true,
            envs: ["PATH=/usr/bin", "DD_SERVICE=shim"], envsTruncated: true, credentials: credentials(10), cgroupID: 6,
            containerID: "shimcontainer", cgroupPath: "/system.slice/containerd.service", parent: systemd, isExecChild: true, source: "snapshot")
        let sh = ProcessEntry(
            pid: 950, ppid: 900, comm: "sh", tty: "pts3", forkTimeNs: t0 - 100, execTimeNs: t0 - 90, exitTimeNs: t0 - 10,
            executable: file("/bin/sh", inode: 13, error: "dangling"), argv0: "sh", args: ["-c", "run --port 8080 -v"],
            envs: ["HOME=/root"], credentials: credentials(100), cgroupID: 7, containerID: "c0ffee", cgroupPath: "/docker/c0ffee",
            parent: shim, isKworker: true, isExecChild: false, source: "event")
        // `sh` forked from the shim and did not exec (`is_thread`).
        sh.execTimeNs = 0
        return sh
    }

    /// The acting process, with a container and a cgroup path.
    static func acting(pid: UInt32 = 4200, cgroupPath: String? = "/system.slice/app.service") -> ProcessEntry {
        ProcessEntry(
            pid: pid, ppid: 950, comm: "python3", tty: "pts0", forkTimeNs: t0, execTimeNs: t1, exitTimeNs: 0,
            executable: file("/usr/local/bin/python3.12", inode: 5555), argv0: "python3",
            args: ["-u", "--mode=fast", "-o", "out.txt", "-xvf", "app.tar.gz", "--verbose"], argsTruncated: true,
            envs: ["DD_SERVICE=web", "LD_PRELOAD=/tmp/x.so", "PATH=/usr/bin", "EMPTY="], envsTruncated: true,
            credentials: credentials(1000), cgroupID: 42, containerID: "0123456789ab", cgroupPath: cgroupPath, parent: lineage(),
            isKworker: false, isExecChild: true, source: "event")
    }

    /// A ptrace tracee or signal target; a `thread` did not exec since its fork.
    static func target(thread: Bool = false) -> ProcessEntry {
        ProcessEntry(
            pid: 812, ppid: 1, comm: "sshd", tty: "pts9", forkTimeNs: t0 + 3, execTimeNs: thread ? 0 : t0 + 4, exitTimeNs: t0 + 5,
            executable: file("/usr/sbin/sshd.real", inode: 812), argv0: "sshd", args: ["-D", "-p", "22", "--config=/etc/ssh/x"],
            argsTruncated: true, envs: ["LANG=C"], envsTruncated: true, credentials: credentials(2000), cgroupID: 8, containerID: "tgt",
            cgroupPath: "/system.slice/ssh.service", parent: lineage(), isKworker: true, isExecChild: !thread, source: "snapshot")
    }

    /// A kernel worker that never exec'd (`is_kworker`, `is_thread`), with an exit time.
    static func kworker() -> ProcessEntry {
        let p = acting()
        p.isKworker = true
        p.isExecChild = false
        p.execTimeNs = 0
        p.exitTimeNs = now - 1
        return p
    }

    static func event(_ type: EventType, _ payload: EventPayload, process: ProcessEntry? = acting(), retval: Int64 = 0) -> Event {
        Event(type: type, timeNs: now, pid: process?.pid ?? 4300, tid: (process?.pid ?? 4300) + 3, cgroupID: 42, comm: "python3",
              retval: retval, process: process, payload: payload)
    }

    static func all() -> [(String, Event)] {
        var events: [(String, Event)] = []
        func add(_ name: String, _ event: Event) { events.append((name, event)) }

        let p = acting()
        add("exec", event(.exec, .exec(ExecPayload(
            file: p.executable!, credentials: p.credentials, ppid: p.ppid, argv0: p.argv0, args: p.args, argsTruncated: true,
            envs: p.envs, envsTruncated: true, tty: p.tty)), process: p))
        let worker = kworker()
        worker.cgroupPath = nil  // the kernel's cgroup id is written instead
        add("exec_kworker", event(.exec, .exec(ExecPayload(
            file: worker.executable!, credentials: worker.credentials, ppid: worker.ppid, argv0: worker.argv0, args: worker.args,
            envs: worker.envs, tty: worker.tty)), process: worker))
        add("exec_unresolved", event(.exec, .exec(ExecPayload(
            file: file("/tmp/gone", inode: 1), credentials: credentials(5), ppid: 1, argv0: "gone", args: [], envs: [])), process: nil))

        // A forked child: it runs its parent's image (no exec since the fork: `is_thread`).
        let child = ProcessEntry(
            pid: 4201, ppid: 4200, comm: "python3", tty: "pts0", forkTimeNs: now, execTimeNs: 0,
            executable: file("/usr/local/bin/python3.12", inode: 5555), argv0: "python3", args: ["-u"], credentials: credentials(1000),
            cgroupID: 42, containerID: "0123456789ab", parent: acting(), isExecChild: false, source: "event")
        add("fork", event(.fork, .fork(ForkPayload(childPid: 4201, childTid: 4201, parentPid: 4200, credentials: credentials(1000))),
                          process: child))
        add("fork_unresolved", event(.fork, .fork(ForkPayload(childPid: 4202, childTid: 4203, parentPid: 4200, credentials: credentials(7))),
                                     process: nil))

        // Exits: the process knows only its kernel cgroup id here (`cgroup.file.inode` is written).
        for (cause, code) in [(ExitCause.signaled, UInt32(9)), (.coredumped, 11), (.exited, 3)] {
            let exiting = cause == .exited ? kworker() : acting(cgroupPath: nil)
            exiting.exitTimeNs = now
            add("exit_\(cause.rawValue)", event(.exit, .exit(ExitPayload(cause: cause, code: code)), process: exiting))
        }

        add("open", event(.open, .open(OpenPayload(
            file: file("/var/lib/app/data.tar.gz", inode: 393_221), flags: 0o1 | 0o100 | 0o1000 | 0o2000000 | 0o4000000 | 0x8000_0000,
            mode: 0o640, dirfd: 7, syscall: .openat, userPath: "../data.tar.gz")), retval: 3))
        add("open_refused", event(.open, .open(OpenPayload(
            file: file("/etc/shadow", inode: 2), flags: 0o2, mode: 0, dirfd: -100, syscall: .open, userPath: "/etc/shadow")), retval: -13))
        add("open_unresolved", event(.open, .open(OpenPayload(
            file: file("/etc/hosts", inode: 3), flags: 0, mode: 0, dirfd: -100, syscall: .openat, userPath: "hosts")), process: nil, retval: -2))

        var mount = MountPayload(
            mountID: 312, parentMountID: 27, bindSourceMountID: 29, device: 0x2d, fsType: "tmpfs", mountpointPath: "/mnt/data",
            mountpointPathError: "mount point not resolved", sourcePath: "/srv/data", sourcePathError: "source not resolved",
            syscallName: "move_mount")
        mount.flags = 0x1000
        mount.sourceArgument = "/srv/data"
        add("mount", event(.mount, .mount(mount)))
        add("umount", event(.umount, .umount(UmountPayload(mountID: 312, mountpointPath: "/mnt/data", flags: 2))))

        add("bind_inet6", event(.bind, .bind(BindPayload(family: 10, ip: "2001:db8::7", port: 8443, protocol_: 6))))
        add("bind_unix", event(.bind, .bind(BindPayload(family: 1, unixPath: "@/tmp/.X11-unix/X0", protocol_: 0))))
        add("bind_unknown_family", event(.bind, .bind(BindPayload(family: 99, ip: "", port: 0))))

        add("ptrace", event(.ptrace, .ptrace(PtracePayload(request: 16, address: 0x7ffd_1234_5678, traceePid: 812, tracee: target()))))
        add("ptrace_unknown_request", event(.ptrace, .ptrace(PtracePayload(request: 77, address: UInt64.max, traceePid: 99))))
        add("ptrace_thread", event(.ptrace, .ptrace(PtracePayload(request: 0x4206, address: 0, traceePid: 812, tracee: target(thread: true)))))

        add("mmap", event(.mmap, .mmap(MMapPayload(
            address: 0x7f3a_0000_0000, offset: 4096, length: 0xFFFF_FFFF_FFFF_F000, protection: 0x1 | 0x4 | 0x10,
            flags: 0x2 | 0x20 | 0x10 | 0x80, file: file("/tmp/lib.so", inode: 777)))))
        add("mmap_shared_none", event(.mmap, .mmap(MMapPayload(address: 0, offset: 0, length: 0, protection: 0, flags: 0x1))))
        add("mprotect", event(.mprotect, .mprotect(MProtectPayload(
            vmStart: 0x5600_0000_0000, vmEnd: 0x5600_0000_2000, vmProtection: 0x3, reqProtection: 0x7 | 0x0100_0000))))
        add("mprotect_none", event(.mprotect, .mprotect(MProtectPayload(vmStart: 1, vmEnd: 2, vmProtection: 0, reqProtection: 0))))

        add("signal_rt", event(.signal, .signal(SignalPayload(type: 35, pid: 812, target: target()))))
        add("signal_rtmax", event(.signal, .signal(SignalPayload(type: 64, pid: -4000, target: target(thread: true)))))
        add("signal_beyond", event(.signal, .signal(SignalPayload(type: 70, pid: 0)), retval: -3))
        add("signal_null", event(.signal, .signal(SignalPayload(type: 0, pid: 1))))

        add("splice", event(.splice, .splice(SplicePayload(pipeEntryFlag: 0x10, pipeExitFlag: 0x10 | 0x20 | 0x80, file: file("/etc/passwd.bak", inode: 9)))))

        add("bpf_prog", event(.bpf, .bpf(BPFPayload(
            cmd: 5, progName: "filter", progType: 26, attachType: 2, progTag: "a04f5eef06a7f555", helpers: [1, 14, 999])), retval: -1))
        add("bpf_map", event(.bpf, .bpf(BPFPayload(cmd: 0, mapName: "events", mapType: 27))))
        add("bpf_unknown", event(.bpf, .bpf(BPFPayload(cmd: 99, mapName: "x", mapType: 200, progType: 300, attachType: 400))))

        add("load_module", event(.loadModule, .loadModule(LoadModulePayload(
            name: "rootkit", loadedFromMemory: false, argv: ["debug=1", "hide=yes"], argsTruncated: true, file: file("/tmp/rootkit.ko", inode: 31337)))))
        add("load_module_memory", event(.loadModule, .loadModule(LoadModulePayload(name: "evil", loadedFromMemory: true))))
        add("unload_module", event(.unloadModule, .unloadModule(UnloadModulePayload(name: "rootkit"))))

        for type in EventType.allCases where type.isFileChange {
            var change = FileChangePayload(file: file("/etc/ssh/sshd_config.d/x.conf", inode: 4242))
            change.syscallPath = "x.conf"
            switch type {
            case .link, .rename: change.destination = file("/tmp/copy.conf.bak", inode: 4343, error: "dangling")
            case .chmod, .mkdir: change.destinationMode = 0o4777
            case .chown:
                change.destinationUID = 1000
                change.destinationGID = 33
                change.destinationUser = "alice"
                change.destinationGroup = "www-data"
            case .setxattr, .removexattr:
                change.attributeName = "security.capability"
                change.attributeNamespace = "security"
            default: break
            }
            add(type.name, event(type, .fileChange(change), retval: type == .unlink ? -1 : 0))
        }
        add("chown_unchanged", event(.chown, .fileChange(FileChangePayload(file: file("/x", inode: 1), destinationUID: -1, destinationGID: -1))))

        for type in [EventType.setuid, .setgid, .capset] {
            var change = CredentialChangePayload(uid: 11, euid: 12, fsuid: 13, gid: 14, egid: 15, fsgid: 16, capEffective: 1 << 7 | 1 << 60,
                                                 capPermitted: 1 << 7 | 1 << 21)
            change.user = "nu"
            change.euser = "neu"
            change.fsuser = "nfu"
            change.group = "ng"
            change.egroup = "neg"
            change.fsgroup = "nfg"
            add(type.name, event(type, .credentials(change)))
        }

        add("connect", event(.connect, .connection(ConnectionPayload(family: 2, ip: "203.0.113.9", port: 443, hostname: "pool.example.com", protocol_: 6))))
        add("connect_unix", event(.connect, .connection(ConnectionPayload(family: 1, ip: "", port: 0, protocol_: 0))))
        add("accept", event(.accept, .connection(ConnectionPayload(family: 10, ip: "2001:db8::1", port: 8080, hostname: "peer", protocol_: 17))))
        add("accept_other_protocol", event(.accept, .connection(ConnectionPayload(family: 2, ip: "10.0.0.1", port: 1, protocol_: 132))))

        add("dns", event(.dns, .dns(DNSPayload(id: 77, name: "pool.example.com", type: 16, qclass: 1, size: 40, count: 2))))
        add("dns_unusual", event(.dns, .dns(DNSPayload(id: 0, name: "x", type: 99, qclass: 3, size: 1, count: 0))))

        add("imds", event(.imds, .imds(IMDSPayload(
            type: "response", cloudProvider: "aws", url: "/latest/meta-data/iam/security-credentials/role", host: "169.254.169.254",
            userAgent: "curl/8.0", server: "EC2ws", isIMDSv2: true, securityCredentialsType: "AWS-HMAC"))))
        add("imds_gcp", event(.imds, .imds(IMDSPayload(type: "request", cloudProvider: "gcp", url: "/computeMetadata/v1/"))))
        return events
    }
}

/// The events of the golden files.
enum GoldenEvents {
    static func all() -> [(String, Event)] {
        [("golden exec", Fixtures.exec()), ("golden fork", Fixtures.fork()), ("golden exit", Fixtures.exit(cause: .signaled, code: 9)),
         ("golden open", Fixtures.open(success: true)), ("golden open failure", Fixtures.open(success: false))]
            + Fixtures.issue4Events().map { ("golden " + $0.0, $0.1) }
    }
}
