import Foundation

/// Reads the agent's own JSON output (one event per line) back into `Event` values, for offline rule
/// evaluation (`csm-agent policy evaluate`) and the rule benchmark.
///
/// It is the inverse of `EventSerializer`: every value the serializer writes is read back into the
/// model value it was written from: names (`O_CREAT`, `SIGRTMIN+3`, `CAP_SYS_ADMIN`, `BPF_PROG_LOAD`,
/// `PROT_READ|PROT_EXEC`, `AF_INET6`, `SIGNALED`, ...) into numbers and masks, RFC 3339 dates into
/// nanoseconds, the process with its credentials, executable, container, cgroup and ancestors, and
/// the payload of every event type. `RoundTripTests` checks that every field of the rule engine
/// reads the same on an event and on its line read back; what the JSON has no place for is listed
/// there and in the README ("What offline evaluation cannot see").
///
/// Missing keys take defaults, so hand-written events can be short. A value of the wrong type
/// (`"pid": "5"`, `"path": 3`), a name that names nothing, a number out of range for its field or
/// invalid JSON is an error naming the key (`process.pid: expected an integer, got the string "5"`).
///
/// Strings are read as they are written: the agent's model holds kernel bytes as the text
/// `String(kernelBytes:)` made of them (bytes that are not UTF-8 as `\xNN`, a backslash of such a
/// string as `\x5c`), which is what the JSON carries, so they read back equal to the live value and
/// rules match them alike without decoding.
public enum EventJSONReader {
    public struct ReadError: Error, CustomStringConvertible {
        public var message: String
        public var description: String { message }

        public init(message: String) {
            self.message = message
        }
    }

    /// Parses one line. Throws `ReadError` for invalid JSON, a line that is not an event or a value
    /// of the wrong type.
    public static func event(fromLine line: String) throws -> Event {
        try read(line).event
    }

    /// An event from a JSON object already parsed by Foundation.
    public static func event(from root: [String: Any]) throws -> Event {
        guard JSONSerialization.isValidJSONObject(root) else { throw ReadError(message: "not a JSON object") }
        let data = try JSONSerialization.data(withJSONObject: root)
        return try event(fromLine: String(decoding: data, as: UTF8.self))
    }

    /// One line read: the event, and the processes whose environment the line carried (the agent
    /// writes it for the acting process of an exec only; `EventReplay` keeps it for the others).
    struct Line {
        var event: Event
        var processesWithEnvs: [ObjectIdentifier]
    }

    static func read(_ line: String) throws -> Line {
        var line = line
        return try line.withUTF8 { bytes in
            guard !bytes.isEmpty else { throw ReadError(message: "empty line") }
            let doc: JSONDocument
            do {
                doc = try JSONDocument(parsing: bytes)
            } catch let error as JSONDocument.SyntaxError {
                throw ReadError(message: "invalid JSON at column \(JSONDocument.column(in: bytes, at: error.offset)) (byte \(error.offset)): \(error.message)")
            }
            guard doc.nodes[0].kind == .object else { throw ReadError(message: "not a JSON object") }
            var reader = LineReader(doc: doc)
            let event = try reader.event(JSONObjectView(doc, 0))
            return Line(event: event, processesWithEnvs: reader.processesWithEnvs)
        }
    }

    // MARK: - Scalars

    /// `2024-05-01T12:00:00.123456789Z` (or with an offset) to nanoseconds since the epoch.
    static func rfc3339(_ s: String) -> UInt64? {
        var s = s
        return s.withUTF8 { rfc3339($0) }
    }

    static func rfc3339(_ b: UnsafeBufferPointer<UInt8>) -> UInt64? {
        guard b.count >= 20 else { return nil }
        func num(_ from: Int, _ len: Int) -> Int? {
            var v = 0
            for i in from..<(from + len) {
                guard i < b.count, b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard let y = num(0, 4), b[4] == 45, let mo = num(5, 2), b[7] == 45, let d = num(8, 2), b[10] == 84 || b[10] == 116,
              let h = num(11, 2), b[13] == 58, let mi = num(14, 2), b[16] == 58, let se = num(17, 2),
              (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, se < 61 else { return nil }
        var i = 19
        var fraction: Int64 = 0
        if i < b.count, b[i] == 46 {
            i += 1
            var digits = 0
            let first = i
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if digits < 9 { fraction = fraction * 10 + Int64(b[i] - 48); digits += 1 }
                i += 1
            }
            guard i > first else { return nil }
            while digits < 9 { fraction *= 10; digits += 1 }
        }
        var offset = 0
        guard i < b.count else { return nil }
        if b[i] == 90 || b[i] == 122 {  // Z
            i += 1
        } else if b[i] == 43 || b[i] == 45, b.count >= i + 6, b[i + 3] == 58, let oh = num(i + 1, 2), let om = num(i + 4, 2) {
            offset = (oh * 3600 + om * 60) * (b[i] == 45 ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        // Days from civil (Howard Hinnant's algorithm).
        let yy = mo <= 2 ? y - 1 : y
        let era = (yy >= 0 ? yy : yy - 399) / 400
        let yoe = yy - era * 400
        let doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        let seconds = Int64(days) * 86_400 + Int64(h * 3600 + mi * 60 + se) - Int64(offset)
        guard seconds >= 0, seconds <= Int64(UInt64.max / 1_000_000_000) - 1 else { return nil }
        return UInt64(seconds) * 1_000_000_000 + UInt64(fraction)
    }
}

/// The reading of one line (`EventJSONReader.read`).
private struct LineReader {
    typealias ReadError = EventJSONReader.ReadError
    let doc: JSONDocument
    var processesWithEnvs: [ObjectIdentifier] = []

    init(doc: JSONDocument) {
        self.doc = doc
    }

    /// What the serializer writes for a process it could not resolve (`writeMinimalProcess`).
    struct UnresolvedProcess {
        var pid: UInt32
        var tid: UInt32?
        var comm: String?
        var uid: UInt32
        var gid: UInt32
    }

    mutating func event(_ root: JSONObjectView) throws -> Event {
        guard let evt = try root.object("evt"), let name = try evt.string("name") else {
            throw ReadError(message: "not an event: missing evt.name")
        }
        guard let type = EventType(name: name) else { throw ReadError(message: "evt.name: unknown event type \"\(name)\"") }
        // Only the class of the return value is written (`evt.outcome`): one errno stands for each.
        let retval: Int64
        switch try evt.string("outcome") {
        case nil, "Success"?: retval = 0
        case "Refused"?: retval = -13  // EACCES
        case "Error"?: retval = -22  // EINVAL
        case let other?: throw ReadError(message: "evt.outcome: unknown outcome \"\(other)\"")
        }
        _ = try evt.string("category")
        _ = try evt.bool("async")
        let timeNs = try root.time("date") ?? 0

        var acting: ProcessEntry?
        var unresolved: UnresolvedProcess?
        var tid: UInt32?
        if let p = try root.object("process") {
            if Self.isUnresolved(p) {
                unresolved = try unresolvedProcess(p)
            } else {
                acting = try processContext(p)
                tid = try p.integer("tid", UInt32.self)
            }
        }
        if let container = try root.object("container"), let id = try container.string("id"), let acting, acting.containerID == nil {
            acting.containerID = id
        }
        var cgroupID: UInt64 = 0
        if let cgroup = try root.object("cgroup"), let id = try cgroup.string("id") {
            // The serializer writes the cgroup path when it knows it, the kernel's cgroup id otherwise.
            if !id.isEmpty, id.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let numeric = UInt64(id) {
                cgroupID = numeric
                acting?.cgroupID = numeric
            } else {
                acting?.cgroupPath = id
            }
            _ = try cgroup.string("manager")
        }
        let payload = try self.payload(type, root, acting, unresolved, tid: tid)
        var event = Event(
            type: type, timeNs: timeNs, pid: acting?.pid ?? unresolved?.pid ?? 0, tid: tid ?? unresolved?.tid ?? acting?.pid ?? 0,
            cgroupID: cgroupID != 0 ? cgroupID : (acting?.cgroupID ?? 0), comm: acting?.comm ?? unresolved?.comm ?? "", retval: retval,
            process: acting, payload: payload)
        // The acting process of a fork is the child; the event's pid is the parent's.
        if case .fork(let fork) = payload { event.pid = fork.parentPid }
        return event
    }

    // MARK: - Payloads

    private mutating func payload(_ type: EventType, _ root: JSONObjectView, _ process: ProcessEntry?, _ unresolved: UnresolvedProcess?,
                                  tid: UInt32?) throws -> EventPayload {
        let fileJSON = try root.object("file")
        switch type {
        case .exec:
            let path = try root.object("syscall")?.object("exec")?.string("path")
            guard let p = process else {
                var credentials = Credentials()
                credentials.uid = unresolved?.uid ?? 0
                credentials.gid = unresolved?.gid ?? 0
                return .exec(ExecPayload(file: FileInfo(path: path ?? ""), credentials: credentials, ppid: 0, argv0: "", args: [], envs: []))
            }
            return .exec(ExecPayload(
                file: p.executable ?? FileInfo(path: path ?? ""), credentials: p.credentials, ppid: p.ppid, argv0: p.argv0, args: p.args,
                argsTruncated: p.argsTruncated, envs: p.envs, envsTruncated: p.envsTruncated, tty: p.tty))

        case .fork:
            guard let p = process else {
                var credentials = Credentials()
                credentials.uid = unresolved?.uid ?? 0
                credentials.gid = unresolved?.gid ?? 0
                let child = unresolved?.pid ?? 0
                return .fork(ForkPayload(childPid: child, childTid: unresolved?.tid ?? child, parentPid: 0, credentials: credentials))
            }
            return .fork(ForkPayload(childPid: p.pid, childTid: tid ?? p.pid, parentPid: p.ppid, credentials: p.credentials))

        case .exit:
            let exit = try root.object("exit")
            var cause = ExitCause.exited
            if let name = try exit?.string("cause") {
                guard let known = ExitCause(rawValue: name.uppercased()) else { throw ReadError(message: "exit.cause: unknown cause \"\(name)\"") }
                cause = known
            }
            return .exit(ExitPayload(cause: cause, code: try exit?.integer("code", UInt32.self) ?? 0))

        case .open:
            let opened = try fileJSON.map { try file($0) } ?? FileInfo()
            let sys = try root.object("syscall")?.object("open")
            // `syscall.open.flags` is the number; `file.flags` the same as names (hand-written events
            // may give only those).
            var flags = try sys?.integer("flags", UInt32.self)
            if let names = try fileJSON.flatMap({ try openFlags($0) }) {
                flags = flags ?? names
            }
            return .open(OpenPayload(
                file: opened, flags: flags ?? 0, mode: try sys?.integer("mode", UInt32.self) ?? 0,
                dirfd: try sys?.integer("dirfd", Int32.self) ?? -100, syscall: .openat,
                userPath: try sys?.string("path") ?? opened.path))

        case .mount:
            let m = try root.object("mount")
            return .mount(MountPayload(
                mountID: try m?.integer("mount_id", UInt32.self) ?? 0, parentMountID: try m?.integer("parent_mount_id", UInt32.self) ?? 0,
                bindSourceMountID: try m?.integer("bind_src_mount_id", UInt32.self) ?? 0, device: try m?.integer("device", UInt32.self) ?? 0,
                fsType: try m?.string("fs_type") ?? "", mountpointPath: try m?.string("mountpoint.path") ?? "",
                mountpointPathError: try m?.string("mountpoint.path_error"), sourcePath: try m?.string("source.path") ?? "",
                sourcePathError: try m?.string("source.path_error")))

        case .umount:
            _ = try fileJSON?.string("name")
            return .umount(UmountPayload(
                mountID: try fileJSON?.integer("new_mount_id", UInt32.self) ?? 0, mountpointPath: try fileJSON?.string("path") ?? ""))

        case .bind:
            let addr = try root.object("bind")?.object("addr")
            return .bind(BindPayload(
                family: try addr?.named("family", "address family") { addressFamily(named: $0) } ?? 0, ip: try addr?.string("ip") ?? "",
                port: try addr?.integer("port", UInt16.self) ?? 0, unixPath: try fileJSON?.string("path") ?? ""))

        case .ptrace:
            let p = try root.object("ptrace")
            var tracee: ProcessEntry?
            var traceePid: UInt32 = 0
            if let t = try p?.object("tracee") {
                if Self.isUnresolved(t) {
                    traceePid = try unresolvedProcess(t).pid
                } else {
                    tracee = try processContext(t)
                    traceePid = tracee?.pid ?? 0
                }
            }
            return .ptrace(PtracePayload(
                request: try p?.named("request", "ptrace request") { ptraceRequest(named: $0) } ?? 0,
                address: try p?.address("address") ?? 0, traceePid: traceePid, tracee: tracee))

        case .mmap:
            let m = try root.object("mmap")
            return .mmap(MMapPayload(
                address: try m?.address("address") ?? 0, offset: try m?.integer("offset", UInt64.self) ?? 0,
                length: try m?.integer("length", UInt64.self) ?? 0,
                protection: try m?.named("protection", "protection") { protection(named: $0) } ?? 0,
                flags: try m?.named("flags", "mmap flag") { mmapFlags(named: $0) } ?? 0, file: try fileJSON.map { try file($0) }))

        case .mprotect:
            let m = try root.object("mprotect")
            return .mprotect(MProtectPayload(
                vmStart: try m?.address("vm_start") ?? 0, vmEnd: try m?.address("vm_end") ?? 0,
                vmProtection: try m?.named("vm_protection", "protection") { protection(named: $0) } ?? 0,
                reqProtection: try m?.named("req_protection", "protection") { protection(named: $0) } ?? 0))

        case .signal:
            let s = try root.object("signal")
            return .signal(SignalPayload(
                type: try s?.named("type", "signal") { signalNumber(named: $0) } ?? 0, pid: try s?.integer("pid", Int32.self) ?? 0,
                target: try s?.object("target").map { try processContext($0) }))

        case .splice:
            let s = try root.object("splice")
            return .splice(SplicePayload(
                pipeEntryFlag: try s?.named("pipe_entry_flag", "pipe buffer flag") { pipeBufFlags(named: $0) } ?? 0,
                pipeExitFlag: try s?.named("pipe_exit_flag", "pipe buffer flag") { pipeBufFlags(named: $0) } ?? 0,
                file: try fileJSON.map { try file($0) }))

        case .bpf:
            let b = try root.object("bpf")
            let map = try b?.object("map")
            let prog = try b?.object("program")
            var helpers: [UInt32] = []
            if let list = try prog?.array("helpers") {
                try list.forEach { element in
                    helpers.append(try doc.namedValue(element, "bpf helper") { bpfHelper(named: $0) })
                }
            }
            return .bpf(BPFPayload(
                cmd: try b?.named("cmd", "bpf command") { bpfCommand(named: $0) } ?? 0, mapName: try map?.string("name"),
                mapType: try map?.named("map_type", "map type") { bpfMapType(named: $0) }, progName: try prog?.string("name"),
                progType: try prog?.named("program_type", "program type") { bpfProgramType(named: $0) },
                attachType: try prog?.named("attach_type", "attach type") { bpfAttachType(named: $0) }, progTag: try prog?.string("tag"),
                helpers: helpers))

        case .loadModule:
            let m = try root.object("module")
            return .loadModule(LoadModulePayload(
                name: try m?.string("name") ?? "", loadedFromMemory: try m?.bool("loaded_from_memory") ?? false,
                argv: try m?.strings("argv") ?? [], argsTruncated: try m?.bool("args_truncated") ?? false, file: try fileJSON.map { try file($0) }))

        case .unloadModule:
            return .unloadModule(UnloadModulePayload(name: try root.object("module")?.string("name") ?? ""))

        case .chmod, .chown, .link, .rename, .unlink, .utimes, .mkdir, .rmdir, .setxattr, .removexattr, .chdir:
            var change = try fileChange(type, fileJSON)
            change.syscallPath = try root.object("syscall")?.object(named: type.name)?.string("path") ?? ""
            return .fileChange(change)

        case .setuid, .setgid, .capset:
            let destination = try root.object("process")?.object("credentials")?.object("destination")
            return .credentials(try credentialChange(destination))

        case .connect, .accept:
            return .connection(try connection(type, root))

        case .dns:
            let d = try root.object("dns")
            let q = try d?.object("question")
            return .dns(DNSPayload(
                id: try d?.integer("id", UInt16.self) ?? 0, name: try q?.string("name") ?? "",
                type: try q?.named("type", "DNS type") { dnsType(named: $0) } ?? 0,
                qclass: try q?.named("class", "DNS class") { dnsClass(named: $0) } ?? 1,
                size: try q?.integer("size", UInt16.self) ?? 0, count: try q?.integer("count", UInt16.self) ?? 1))

        case .imds:
            let m = try root.object("imds")
            let aws = try m?.object("aws")
            return .imds(IMDSPayload(
                type: try m?.string("type") ?? "request", cloudProvider: try m?.string("cloud_provider") ?? "", url: try m?.string("url") ?? "",
                host: try m?.string("host") ?? "", userAgent: try m?.string("user_agent") ?? "", server: try m?.string("server") ?? "",
                isIMDSv2: try aws?.bool("is_imds_v2") ?? false,
                securityCredentialsType: try aws?.object("security_credentials")?.string("type") ?? ""))
        }
    }

    /// `file.flags`: open(2) flag names (`["O_WRONLY", "O_CREAT", "0x80000000"]`), or one string of
    /// names joined by `|`, or a number.
    private func openFlags(_ file: JSONObjectView) throws -> UInt32? {
        guard let v = file.value("flags") else { return nil }
        let parse: (Substring) -> UInt32? = { text in
            flagValue(of: text) { openFlag(named: $0).map(UInt64.init) }.flatMap { UInt32(exactly: $0) }
        }
        guard doc.nodes[v].kind == .array else { return try doc.namedValue(v, "open flag", parse) }
        var flags: UInt32 = 0
        try JSONArrayView(doc: doc, node: v).forEach { element in
            flags |= try doc.namedValue(element, "open flag", parse)
        }
        return flags
    }

    /// A file change: the file, and in `file.destination` what the call asked for (the new path of
    /// a link or rename, a mode, an owner) or, for extended attributes, `file.attribute_*`.
    private func fileChange(_ type: EventType, _ json: JSONObjectView?) throws -> FileChangePayload {
        var p = FileChangePayload(file: try json.map { try file($0) } ?? FileInfo())
        let destination = try json?.object("destination")
        switch type {
        case .link, .rename: p.destination = try destination.map { try file($0) }
        case .chmod, .mkdir: p.destinationMode = try destination?.integer("mode", UInt32.self) ?? 0
        case .chown:
            p.destinationUID = try destination?.integer("uid", Int64.self) ?? -1
            p.destinationGID = try destination?.integer("gid", Int64.self) ?? -1
            p.destinationUser = try destination?.string("user")
            p.destinationGroup = try destination?.string("group")
        case .setxattr, .removexattr:
            p.attributeName = try json?.string("attribute_name") ?? ""
            p.attributeNamespace = try json?.string("attribute_namespace") ?? ""
        default: break
        }
        return p
    }

    /// The credentials a setuid, setgid or capset asked for (`process.credentials.destination`).
    private func credentialChange(_ json: JSONObjectView?) throws -> CredentialChangePayload {
        var p = CredentialChangePayload(
            uid: try json?.integer("uid", UInt32.self) ?? 0, euid: try json?.integer("euid", UInt32.self) ?? 0,
            fsuid: try json?.integer("fsuid", UInt32.self) ?? 0, gid: try json?.integer("gid", UInt32.self) ?? 0,
            egid: try json?.integer("egid", UInt32.self) ?? 0, fsgid: try json?.integer("fsgid", UInt32.self) ?? 0,
            capEffective: try json.flatMap { try capabilities($0, "cap_effective") } ?? 0,
            capPermitted: try json.flatMap { try capabilities($0, "cap_permitted") } ?? 0)
        p.user = try json?.string("user")
        p.euser = try json?.string("euser")
        p.fsuser = try json?.string("fsuser")
        p.group = try json?.string("group")
        p.egroup = try json?.string("egroup")
        p.fsgroup = try json?.string("fsgroup")
        return p
    }

    /// The remote address of a connect (`network.destination`) or accept (`network.source`), its
    /// family (`network.l3_protocol`) and protocol (`network.l4_protocol`). A hand-written
    /// `connect.addr` / `accept.addr` object (family, ip, port, hostname) is read too: the schema has
    /// no place for the hostname.
    private func connection(_ type: EventType, _ root: JSONObjectView) throws -> ConnectionPayload {
        let network = try root.object("network")
        let peer = try network?.object(type == .connect ? "destination" : "source")
        let addr = try root.object(named: type.name)?.object("addr")
        let ip = try addr?.string("ip") ?? peer?.string("ip") ?? ""
        var family = try addr?.named("family", "address family") { addressFamily(named: $0) }
        if family == nil {
            family = try network?.named("l3_protocol", "network protocol") { name in
                name == "IPv4" ? 2 : name == "IPv6" ? 10 : addressFamily(named: name)
            }
        }
        if family == nil, !ip.isEmpty { family = ip.contains(":") ? 10 : 2 }
        let protocol_ = try network?.named("l4_protocol", "transport protocol") { name -> UInt16? in
            name == "TCP" ? 6 : name == "UDP" ? 17 : decimalValue(name).flatMap { UInt16(exactly: $0) }
        }
        _ = try network?.integer("size", Int64.self)
        return ConnectionPayload(
            family: family ?? 0, ip: ip, port: try addr?.integer("port", UInt16.self) ?? peer?.integer("port", UInt16.self) ?? 0,
            hostname: try addr?.string("hostname") ?? "", protocol_: protocol_ ?? 0)
    }

    // MARK: - Processes and files

    /// Whether `process` is what the serializer writes for a process it could not resolve
    /// (`writeMinimalProcess`): pid, uid and gid, perhaps tid and comm, and nothing else. A resolved
    /// process always has its credentials, ppid and arguments.
    static func isUnresolved(_ process: JSONObjectView) -> Bool {
        var uid = false
        var gid = false
        var other = false
        process.forEachMember { key, _ in
            process.doc.withKey(key) { k in
                if k.elementsEqual("uid".utf8) {
                    uid = true
                } else if k.elementsEqual("gid".utf8) {
                    gid = true
                } else if !(k.elementsEqual("pid".utf8) || k.elementsEqual("tid".utf8) || k.elementsEqual("comm".utf8)) {
                    other = true
                }
            }
        }
        return uid && gid && !other
    }

    private func unresolvedProcess(_ json: JSONObjectView) throws -> UnresolvedProcess {
        UnresolvedProcess(
            pid: try json.integer("pid", UInt32.self) ?? 0, tid: try json.integer("tid", UInt32.self), comm: try json.string("comm"),
            uid: try json.integer("uid", UInt32.self) ?? 0, gid: try json.integer("gid", UInt32.self) ?? 0)
    }

    /// A ProcessContext with its `parent` and `ancestors` (parent first) linked by `parent`.
    mutating func processContext(_ json: JSONObjectView) throws -> ProcessEntry {
        let entry = try processFields(json)
        var chain: [ProcessEntry] = []
        let ancestors = try json.array("ancestors")
        if let ancestors {
            try ancestors.forEach { element in
                chain.append(try processFields(try doc.objectValue(element)))
            }
        }
        if let parent = try json.object("parent") {
            // The serializer writes the parent twice, as `parent` and as `ancestors[0]`: read once.
            let first = ancestors?.first
            if chain.isEmpty {
                chain = [try processFields(parent)]
            } else if let first, !doc.sameText(first, parent.node) {
                _ = try processFields(parent)
            }
        }
        _ = try json.bool("truncated_ancestors")
        var child = entry
        for ancestor in chain {
            child.parent = ancestor
            child = ancestor
        }
        return entry
    }

    /// The fields of one process (no lineage).
    mutating func processFields(_ json: JSONObjectView) throws -> ProcessEntry {
        let credentials = try json.object("credentials")
        var c = Credentials(
            uid: try credentials?.integer("uid", UInt32.self) ?? json.integer("uid", UInt32.self) ?? 0,
            gid: try credentials?.integer("gid", UInt32.self) ?? json.integer("gid", UInt32.self) ?? 0,
            euid: try credentials?.integer("euid", UInt32.self) ?? 0, egid: try credentials?.integer("egid", UInt32.self) ?? 0,
            fsuid: try credentials?.integer("fsuid", UInt32.self) ?? 0, fsgid: try credentials?.integer("fsgid", UInt32.self) ?? 0,
            auid: try credentials?.integer("auid", UInt32.self) ?? Credentials.unsetAUID,
            capEffective: try credentials.flatMap { try capabilities($0, "cap_effective") } ?? 0,
            capPermitted: try credentials.flatMap { try capabilities($0, "cap_permitted") } ?? 0)
        // `user` and `group` are written twice, in the process and in its credentials.
        let user = try json.string("user")
        let group = try json.string("group")
        c.user = try credentials?.string("user") ?? user
        c.group = try credentials?.string("group") ?? group
        c.euser = try credentials?.string("euser")
        c.egroup = try credentials?.string("egroup")
        c.fsuser = try credentials?.string("fsuser")
        c.fsgroup = try credentials?.string("fsgroup")
        let envs = try json.strings("envs")
        let entry = ProcessEntry(
            pid: try json.integer("pid", UInt32.self) ?? 0, ppid: try json.integer("ppid", UInt32.self) ?? 0,
            comm: try json.string("comm") ?? "", tty: try json.string("tty") ?? "", forkTimeNs: try json.time("fork_time") ?? 0,
            execTimeNs: try json.time("exec_time") ?? 0, exitTimeNs: try json.time("exit_time") ?? 0,
            executable: try json.object("executable").map { try file($0) }, argv0: try json.string("argv0") ?? "",
            args: try json.strings("args") ?? [], argsTruncated: try json.bool("args_truncated") ?? false,
            envs: envs ?? [], envsTruncated: try json.bool("envs_truncated") ?? false, credentials: c,
            containerID: try json.object("container")?.string("id"), isKworker: try json.bool("is_kworker") ?? false,
            isExecChild: try json.bool("is_exec_child") ?? false, source: try json.string("source") ?? "")
        if envs != nil { processesWithEnvs.append(ObjectIdentifier(entry)) }
        return entry
    }

    func file(_ json: JSONObjectView) throws -> FileInfo {
        let path = try json.string("path") ?? ""
        var info = FileInfo(
            path: path, name: try json.string("name"), pathResolutionError: try json.string("path_resolution_error"),
            inode: try json.integer("inode", UInt64.self) ?? 0, mode: try json.integer("mode", UInt32.self) ?? 0,
            mountID: try json.integer("mount_id", UInt32.self) ?? 0, filesystem: try json.string("filesystem") ?? "",
            uid: try json.integer("uid", UInt32.self) ?? 0, gid: try json.integer("gid", UInt32.self) ?? 0,
            user: try json.string("user"), group: try json.string("group"),
            changeTimeNs: try json.time("change_time") ?? 0, modificationTimeNs: try json.time("modification_time") ?? 0,
            inUpperLayer: try json.bool("in_upper_layer") ?? false)
        info.mountPath = try json.string("mount_path")
        info.mountSource = try json.string("mount_source")
        return info
    }

    /// A capability list (`["CAP_CHOWN", ...]`) or a number, as a mask. A line repeats the same few
    /// lists in most of its processes: a list whose bytes were read before in this line is not read
    /// again.
    func capabilities(_ json: JSONObjectView, _ key: StaticString) throws -> UInt64? {
        guard let v = json.value(key) else { return nil }
        switch doc.nodes[v].kind {
        case .number:
            return try doc.integerValue(v, UInt64.self)
        case .array:
            let node = doc.nodes[v]
            for known in doc.capabilityLists where known.end - known.start == node.end - node.start {
                if memcmp(doc.text.baseAddress! + Int(known.start), doc.text.baseAddress! + Int(node.start), Int(node.end - node.start)) == 0 {
                    return known.mask
                }
            }
            var mask: UInt64 = 0
            try JSONArrayView(doc: doc, node: v).forEach { element in
                let bit = try doc.namedValue(element, "capability") { name -> UInt8? in
                    capabilityNumber(named: name).flatMap { $0 < 64 ? UInt8($0) : nil }
                }
                guard bit < 64 else { throw doc.error(at: element, "\(bit) is not a capability number") }
                mask |= 1 << UInt64(bit)
            }
            if doc.capabilityLists.count == 8 { doc.capabilityLists.removeFirst() }
            doc.capabilityLists.append((node.start, node.end, mask))
            return mask
        default:
            throw doc.error(at: v, "expected a list of capability names, got \(doc.describe(v))")
        }
    }
}

extension JSONDocument {
    /// Calls `body` with the bytes of key node `index` (decoded when escaped).
    func withKey(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        _ = try? withStringBytes(index) { body($0) }
    }
}
